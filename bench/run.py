#!/usr/bin/env python
"""`make bench`: seed a separate database with N tickets, then measure the product over HTTP on loopback.

    .venv/bin/python bench/run.py                   # 1,000,000 tickets (seeded once, then reused)
    .venv/bin/python bench/run.py --quick           # 10,000 tickets, shorter runs: a smoke test
    .venv/bin/python bench/run.py --servers gunicorn-2,uvicorn-2 --skip-seed
    .venv/bin/python bench/run.py --only email --messages 1000   # email intake alone, a quick run
    .venv/bin/python bench/run.py --only sla                     # SLA scan over 1,000,000 timers
    .venv/bin/python bench/run.py --only kb                      # knowledge base over 100,000 articles
    .venv/bin/python bench/run.py --only chat                    # live chat: 1,000 visitor sockets, 50 agents
    .venv/bin/python bench/run.py --only phone                   # CDR import: 100,000 Asterisk rows
    .venv/bin/python bench/run.py --only metrics                 # metrics: 1,000,000 tickets, dashboard API
    .venv/bin/python bench/run.py --only rules                   # ticket creation with 50 triggers vs none

The embedded PostgreSQL and Redis are used (helpdesk.devservers), but a database of its own
(`helpdesk_bench`, or `helpdesk_bench_<N>` for other sizes) and Redis database 62, so the demo data of `make run` is never touched. Each
server configuration is started as in production (gunicorn with sync workers for WSGI, uvicorn for
ASGI), measured, and stopped. Figures are printed and written to a section of bench/RESULTS.md.
Then the email intake (bench/email_intake.py): generated mail over SMTP to the listener, processed by
Celery workers, in a database of its own (`helpdesk_bench_email`, 100k tickets). Then the SLA scan
(bench/sla.py): one tick over 1,000,000 running timers, in `helpdesk_bench_sla`. Then the knowledge base
(bench/kb.py): indexing and search over 100,000 articles, in `helpdesk_bench_kb`. Then live chat
(bench/chat.py): 1,000 visitor and 50 agent websockets on two ASGI processes, in `helpdesk_bench_chat`.
Then the CDR import (bench/phone.py): 100,000 Asterisk rows, in `helpdesk_bench_phone`. Then the
metrics (bench/metrics_bench.py): full recompute, incremental rollups and the dashboard API over
1,000,000 tickets, in `helpdesk_bench_metrics`. Then the triggers (bench/rules.py): ticket creation
throughput with 50 active triggers versus none, in `helpdesk_bench_rules`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from bench import (  # noqa: E402
    chat,
    database,
    email_intake,
    kb,
    loadgen,
    metrics_bench,
    phone,
    report,
    rules,
    servers,
    sla,
)

BENCH_REDIS_DB = 62
LOG_DIR = BASE_DIR / ".data" / "bench"


@dataclass
class Sizes:
    requests: int  # per repeat, sequential latency
    repeats: int
    creates: int  # sequential API creates
    seconds: float  # each concurrent run


FULL = Sizes(requests=200, repeats=3, creates=300, seconds=10.0)
QUICK = Sizes(requests=40, repeats=2, creates=60, seconds=3.0)


@dataclass
class Figure:
    p50: float = float("nan")
    p95: float = float("nan")
    p99: float = float("nan")
    rate: float = float("nan")
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def say(message: str) -> None:
    print(message, flush=True)


def _merge_statuses(figure: Figure, result: loadgen.Latencies) -> None:
    figure.errors += result.errors
    for status, count in result.statuses.items():
        figure.statuses[status] = figure.statuses.get(status, 0) + count


def latency(port: int, requests: list[loadgen.Request], sizes: Sizes) -> Figure:
    """Median over repeats of p50 and p95, one client, one request at a time."""
    figure = Figure()
    p50s, p95s, p99s = [], [], []
    for _ in range(sizes.repeats):
        result = loadgen.sequential(servers.HOST, port, requests[: sizes.requests])
        p50s.append(result.percentile(0.50))
        p95s.append(result.percentile(0.95))
        p99s.append(result.percentile(0.99))
        _merge_statuses(figure, result)
    figure.p50, figure.p95, figure.p99 = loadgen.median(p50s), loadgen.median(p95s), loadgen.median(p99s)
    figure.rate = 1000.0 / figure.p50 if figure.p50 else float("nan")
    return figure


def throughput(port: int, next_request, *, connections: int, seconds: float) -> Figure:
    result = loadgen.concurrent(servers.HOST, port, next_request, connections=connections, seconds=seconds)
    figure = Figure(p50=result.percentile(0.5), p95=result.percentile(0.95), p99=result.percentile(0.99),
                    rate=result.rate)
    _merge_statuses(figure, result)
    return figure


def measure_server(config: servers.ServerConfig, env: dict[str, str], setup, sizes: Sizes) -> dict[str, Figure]:
    from django.conf import settings

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{config.kind}-{config.workers}.log"
    session = (("Cookie", f"{settings.SESSION_COOKIE_NAME}={setup.session_cookie}"),)
    api = (("Authorization", f"Token {setup.token}"), ("Accept", "application/json"))
    figures: dict[str, Figure] = {}
    say(f"\n== {config.name}")
    with servers.running(config, env, log_path) as port:
        def page(path: str, headers=session) -> list[loadgen.Request]:
            return [loadgen.Request("GET", path, headers)] * sizes.requests

        pages = {
            "queue_default": page("/agent/"),
            "queue_open": page("/agent/?status=new,open"),
            "queue_filtered": page("/agent/?status=unsolved&priority=high,urgent"),
            "ticket": [loadgen.Request("GET", f"/agent/tickets/{number}/", session)
                       for number in itertools.islice(itertools.cycle(setup.ticket_numbers), sizes.requests)],
            "api_list": page("/api/v1/tickets/", api),
            "healthz": page("/healthz", ()),
        }
        for name, requests in pages.items():
            figures[name] = latency(port, requests, sizes)
            say(f"  {name:<16} p50 {figures[name].p50:7.1f} ms  p95 {figures[name].p95:7.1f} ms  "
                f"statuses {figures[name].statuses}")

        counter = itertools.count()
        emails = setup.requester_emails

        def create_request() -> loadgen.Request:
            n = next(counter)
            body = json.dumps({
                "subject": f"Bench ticket {n}: printer offline", "description": "It stopped printing this morning.",
                "requester_email": emails[n % len(emails)], "team": setup.support_team_id, "tags": ["bench"],
            }).encode()
            return loadgen.Request("POST", "/api/v1/tickets/", (*api, ("Content-Type", "application/json")), body)

        created = loadgen.sequential(servers.HOST, port, [create_request() for _ in range(sizes.creates)], warmup=5)
        figures["create_1"] = Figure(p50=created.percentile(0.5), p95=created.percentile(0.95),
                                     p99=created.percentile(0.99), rate=created.rate)
        _merge_statuses(figures["create_1"], created)
        say(f"  create, 1 client  {created.rate:7.1f} tickets/s  statuses {created.statuses}")

        figures["create_8"] = throughput(port, lambda: create_request().raw(servers.HOST, port), connections=8,
                                         seconds=sizes.seconds)
        say(f"  create, 8 clients {figures['create_8'].rate:7.1f} tickets/s  statuses {figures['create_8'].statuses}")

        queue_bytes = pages["queue_default"][0].raw(servers.HOST, port)
        figures["queue_16"] = throughput(port, lambda: queue_bytes, connections=16, seconds=sizes.seconds)
        say(f"  queue, 16 conns   {figures['queue_16'].rate:7.1f} req/s  p99 {figures['queue_16'].p99:.1f} ms  "
            f"statuses {figures['queue_16'].statuses}")
        health_bytes = pages["healthz"][0].raw(servers.HOST, port)
        figures["healthz_16"] = throughput(port, lambda: health_bytes, connections=16, seconds=sizes.seconds)
        say(f"  healthz, 16 conns {figures['healthz_16'].rate:7.1f} req/s  p99 {figures['healthz_16'].p99:.1f} ms")
    return figures


ROWS = (
    # key, label, what to show
    ("queue_default", "queue page /agent/ (default view), p50 / p95 ms", "latency"),
    ("queue_open", "queue page, open view (status=new,open), p50 / p95 ms", "latency"),
    ("queue_filtered", "queue page, filtered (unsolved, high+urgent), p50 / p95 ms", "latency"),
    ("ticket", "ticket page /agent/tickets/<n>/, p50 / p95 ms", "latency"),
    ("api_list", "API GET /api/v1/tickets/, p50 / p95 ms", "latency"),
    ("create_1", "API POST /api/v1/tickets/, 1 client, tickets/s (p50 ms)", "rate"),
    ("create_8", "API POST /api/v1/tickets/, 8 clients, tickets/s (p99 ms)", "rate99"),
    ("queue_16", "queue page, 16 connections, req/s (p99 ms)", "rate99"),
    ("healthz", "baseline: /healthz, 1 client, p50 / p95 ms", "latency"),
    ("healthz_16", "baseline: /healthz, 16 connections, req/s (p99 ms)", "rate99"),
)


def cell(figure: Figure | None, kind: str) -> str:
    if figure is None:
        return "–"
    suffix = f" ({figure.errors} errors)" if figure.errors else ""
    if kind == "latency":
        return f"{report.fmt(figure.p50)} / {report.fmt(figure.p95)}{suffix}"
    if kind == "rate":
        return f"{report.fmt(figure.rate, 0)} ({report.fmt(figure.p50)}){suffix}"
    return f"{report.fmt(figure.rate, 0)} ({report.fmt(figure.p99)}){suffix}"


def target_values(figures: dict[str, Figure], max_queries: int) -> dict[str, float]:
    def ok(key: str, value: float) -> float:
        return float("nan") if figures[key].errors else value

    return {
        "queue_p95": max(ok(k, figures[k].p95) for k in ("queue_default", "queue_open", "queue_filtered")),
        "ticket_p95": ok("ticket", figures["ticket"].p95),
        "api_list_p95": ok("api_list", figures["api_list"].p95),
        "max_queries": float(max_queries),
        "queue_rps_16": ok("queue_16", figures["queue_16"].rate),
        "create_rate_1": ok("create_1", figures["create_1"].rate),
        "create_rate_8": ok("create_8", figures["create_8"].rate),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=None, help="tickets to seed (default 1,000,000; 10,000 --quick)")
    parser.add_argument("--quick", action="store_true", help="10k tickets and short runs: a smoke test")
    parser.add_argument("--skip-seed", action="store_true", help="use the bench database as it is")
    parser.add_argument("--servers", default="make-run,gunicorn-2,uvicorn-2",
                        help=f"comma-separated, from {', '.join(servers.SERVERS)}")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    parser.add_argument("--only", choices=("http", "email", "sla", "kb", "chat", "phone", "metrics", "rules"),
                        default=None, help="run one part only")
    parser.add_argument("--messages", type=int, default=10_000, help="email intake: messages to deliver")
    parser.add_argument("--smtp-connections", type=int, default=8, help="email intake: concurrent SMTP connections")
    parser.add_argument("--worker-concurrency", type=int, default=2,
                        help="email intake: Celery --concurrency of each worker (make run: 2)")
    parser.add_argument("--worker-processes", type=int, default=1, help="email intake: Celery worker processes")
    parser.add_argument("--profile", action="store_true", help="email intake: cProfile the in-process sample")
    parser.add_argument("--smtp-rate", type=float, default=0.0,
                        help="email intake: messages/s offered (default 0: as fast as the connections go)")
    parser.add_argument("--sla-timers", type=int, default=sla.OPEN_TIMERS, help="SLA: running timers")
    parser.add_argument("--sla-due", type=int, default=sla.DUE_TIMERS, help="SLA: timers due in the due runs")
    parser.add_argument("--sla-runs", type=int, default=3, help="SLA: runs of the due scan (median)")
    parser.add_argument("--kb-articles", type=int, default=kb.ARTICLES, help="KB: article translations")
    parser.add_argument("--kb-rounds", type=int, default=kb.ROUNDS, help="KB: rounds over the query set")
    parser.add_argument("--chat-visitors", type=int, default=chat.VISITORS, help="chat: visitor sockets")
    parser.add_argument("--chat-agents", type=int, default=chat.AGENTS, help="chat: agent sockets")
    parser.add_argument("--chat-rate", type=float, default=chat.RATE, help="chat: messages a second, in total")
    parser.add_argument("--chat-seconds", type=float, default=chat.SECONDS, help="chat: seconds of sending")
    parser.add_argument("--phone-rows", type=int, default=phone.ROWS, help="CDR import: rows of the generated file")
    parser.add_argument("--phone-chunk-size", type=int, default=None,
                        help="CDR import: rows per chunk (HELPDESK_PHONE_CDR_CHUNK_SIZE)")
    parser.add_argument("--metrics-tickets", type=int, default=metrics_bench.TICKETS, help="metrics: tickets seeded")
    parser.add_argument("--metrics-changes", type=int, default=10_000,
                        help="metrics: tickets changed for the incremental refresh")
    parser.add_argument("--metrics-requests", type=int, default=50, help="metrics: requests per API shape")
    parser.add_argument("--rules-tickets", type=int, default=rules.TICKETS_PER_ROUND,
                        help="rules: tickets created per round")
    parser.add_argument("--rules-rounds", type=int, default=rules.ROUNDS,
                        help="rules: rounds (alternating no triggers / 50 triggers)")
    args = parser.parse_args(argv)
    if args.only == "metrics":
        return metrics_main(args, argv)
    if args.only == "email":
        return email_main(args, argv)
    if args.only == "sla":
        return sla_main(args, argv)
    if args.only == "kb":
        return kb_main(args, argv)
    if args.only == "chat":
        return chat_main(args, argv)
    if args.only == "phone":
        return phone_main(args, argv)
    if args.only == "rules":
        return rules_main(args, argv)
    tickets = args.tickets or (10_000 if args.quick else 1_000_000)
    sizes = QUICK if args.quick else FULL
    configs = [servers.SERVERS[name.strip()] for name in args.servers.split(",") if name.strip()]
    command = ("bench/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])).strip()

    from helpdesk import devservers

    services = devservers.ensure_services(progress=say)
    try:
        # One database per size, so a --quick run never throws away the million-ticket data.
        name = database.BENCH_DATABASE if tickets == 1_000_000 else f"{database.BENCH_DATABASE}_{tickets}"
        bench_url = os.environ.get("HELPDESK_BENCH_DATABASE_URL") or database.with_database(services.database_url, name)
        redis_parts = urlsplit(services.redis_url)
        redis_url = urlunsplit((redis_parts.scheme, redis_parts.netloc, f"/{BENCH_REDIS_DB}", "", ""))
        env = dict(os.environ, DATABASE_URL=bench_url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="helpdesk.settings",
                   DEBUG="0", API_RATE_LIMIT="100000000/min", PYTHONPATH=str(BASE_DIR))
        os.environ.update(DATABASE_URL=bench_url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="helpdesk.settings",
                          DEBUG="0", API_RATE_LIMIT="100000000/min")
        seed = database.prepare(bench_url, env, tickets=tickets, skip_seed=args.skip_seed, say=say)
        say(f"Bench data: {seed.tickets:,} tickets, {seed.messages:,} messages, {seed.events:,} events "
            f"({seed.database_size}); " + ("reused" if seed.reused else f"seeded in {seed.seconds:.0f} s"))

        import django

        django.setup()
        from bench import queries

        queries.delete_bench_tickets()
        setup = queries.fixtures()
        say("Counting SQL queries per page.")
        query_counts = queries.queries_per_page(setup)
        max_queries = max(count for page in query_counts.values() for count in page.counts.values())
        say("Database baselines.")
        open_queue = database.open_queue_baseline(bench_url, setup.support_team_id)
        insert_rate = database.insert_rate(bench_url, requester_id=setup.requester_id, team_id=setup.support_team_id,
                                           seconds=2.0 if args.quick else 5.0)
        say(f"  open-queue SQL: {open_queue.execution_ms:.3f} ms (EXPLAIN ANALYZE), "
            f"{open_queue.round_trip_ms:.3f} ms round trip; ticket+event insert: {insert_rate:,.0f}/s")

        results: dict[str, dict[str, Figure]] = {}
        load_at_start = database.load_average()
        for config in configs:
            try:
                results[config.name] = measure_server(config, env, setup, sizes)
            except RuntimeError as error:
                say(f"  {config.name} failed: {error}")
        queries.delete_bench_tickets()
        pg = database.server_settings(bench_url)
    finally:
        services.stop()

    body = render(command=command, tickets=tickets, seed=seed, query_counts=query_counts, max_queries=max_queries,
                  open_queue=open_queue, insert_rate=insert_rate, results=results, pg=pg, quick=args.quick,
                  load_at_start=load_at_start)
    print("\n" + body)
    if not args.no_results:
        report.write_section("quick" if args.quick else f"{tickets}", body)
        say(f"\nWritten to {report.RESULTS.relative_to(BASE_DIR)}.")
    if args.only is None:
        email_main(args, argv)
        sla_main(args, argv)
        kb_main(args, argv)
        chat_main(args, argv)
        phone_main(args, argv)
        rules_main(args, argv)
        return metrics_main(args, argv)
    return 0


@dataclass
class BenchEnvironment:
    """Where an in-process benchmark runs: its own database and Redis database on the dev servers."""

    url: str
    redis_url: str
    env: dict[str, str]


@contextlib.contextmanager
def bench_environment(*, database_name: str, redis_db: int, url_variable: str) -> Iterator[BenchEnvironment]:
    """Start (or reuse) the embedded servers, point this process and its children at the bench's own
    database (`url_variable` may name an external one) and Redis database, set Django up, and stop
    what was started on the way out."""
    from helpdesk import devservers

    services = devservers.ensure_services(progress=say)
    try:
        redis_parts = urlsplit(services.redis_url)
        redis_url = urlunsplit((redis_parts.scheme, redis_parts.netloc, f"/{redis_db}", "", ""))
        bench_url = os.environ.get(url_variable) or database.with_database(services.database_url, database_name)
        settings = {"DATABASE_URL": bench_url, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
                    "DEBUG": "0"}
        env = dict(os.environ, **settings, PYTHONPATH=str(BASE_DIR))
        # Both would send the bench's tasks and cache to the developer's Redis database instead.
        for name in ("CELERY_BROKER_URL", "HELPDESK_REDIS_DB"):
            env.pop(name, None)
            os.environ.pop(name, None)
        os.environ.update(settings)
        database.ensure_database(bench_url)
        import django

        django.setup()
        yield BenchEnvironment(url=bench_url, redis_url=redis_url, env=env)
    finally:
        services.stop()


def publish(body: str, *, section: str, args: argparse.Namespace) -> None:
    print("\n" + body)
    if not args.no_results:
        report.write_section(section, body)
        say(f"\nWritten to {report.RESULTS.relative_to(BASE_DIR)}.")


def run_command(args: argparse.Namespace, argv: list[str] | None, *, default: str) -> str:
    """The command line to record: as typed for `--only`, else the part's own (when run by `make bench`)."""
    if args.only is None:
        return default
    return ("bench/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])).strip()


def chat_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    """The live chat benchmark (bench/chat.py) in its own database and Redis database."""
    command = run_command(args, argv, default="bench/run.py --only chat")
    with bench_environment(database_name=chat.CHAT_DATABASE, redis_db=chat.CHAT_REDIS_DB,
                           url_variable="HELPDESK_BENCH_CHAT_DATABASE_URL") as bench:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        options = chat.Options(visitors=args.chat_visitors, agents=args.chat_agents, rate=args.chat_rate,
                               seconds=args.chat_seconds)
        result = chat.run(url=bench.url, env=bench.env, redis_url=bench.redis_url, options=options,
                          log_path=LOG_DIR / "chat-uvicorn.log", say=say)
        pg = database.server_settings(bench.url)
    publish(chat.render(result, command=command, pg=pg), section=f"chat-{args.chat_visitors}", args=args)
    return 0 if not result.errors else 1


def metrics_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    """The metrics benchmark (bench/metrics_bench.py) in its own database and Redis database."""
    command = run_command(args, argv, default=f"bench/run.py --only metrics --metrics-tickets {args.metrics_tickets}")
    with bench_environment(database_name=metrics_bench.database_name(args.metrics_tickets),
                           redis_db=metrics_bench.METRICS_REDIS_DB,
                           url_variable="HELPDESK_BENCH_METRICS_DATABASE_URL") as bench:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        options = metrics_bench.Options(tickets=args.metrics_tickets, changes=args.metrics_changes,
                                        requests=args.metrics_requests)
        result = metrics_bench.run(url=bench.url, env=bench.env, options=options, log_dir=LOG_DIR, say=say)
        pg = database.server_settings(bench.url)
    publish(metrics_bench.render(result, command=command, pg=pg), section=f"metrics-{args.metrics_tickets}", args=args)
    return 0 if not result.errors else 1


def phone_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    """The CDR import benchmark (bench/phone.py) in its own database and Redis database."""
    command = run_command(args, argv, default=f"bench/run.py --only phone --phone-rows {args.phone_rows}")
    with bench_environment(database_name=phone.PHONE_DATABASE, redis_db=phone.PHONE_REDIS_DB,
                           url_variable="HELPDESK_BENCH_PHONE_DATABASE_URL") as bench:
        options = phone.Options(rows=args.phone_rows, chunk_size=args.phone_chunk_size)
        result = phone.run(url=bench.url, env=bench.env, options=options, data_dir=LOG_DIR, say=say)
        pg = database.server_settings(bench.url)
    publish(phone.render(result, command=command, pg=pg), section=f"phone-{args.phone_rows}", args=args)
    return 0 if not result.errors else 1


def rules_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    """The triggers benchmark (bench/rules.py) in its own database and Redis database."""
    command = run_command(args, argv, default=f"bench/run.py --only rules --rules-tickets {args.rules_tickets}")
    with bench_environment(database_name=rules.RULES_DATABASE, redis_db=rules.RULES_REDIS_DB,
                           url_variable="HELPDESK_BENCH_RULES_DATABASE_URL") as bench:
        options = rules.Options(tickets_per_round=args.rules_tickets, rounds=args.rules_rounds)
        result = rules.run(url=bench.url, env=bench.env, options=options, say=say)
        pg = database.server_settings(bench.url)
    publish(rules.render(result, command=command, pg=pg), section=f"rules-{args.rules_tickets}", args=args)
    return 0 if not result.errors else 1


def kb_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    """The knowledge-base benchmark (bench/kb.py) in its own database and Redis database."""
    command = run_command(args, argv, default=f"bench/run.py --only kb --kb-articles {args.kb_articles}")
    with bench_environment(database_name=kb.KB_DATABASE, redis_db=kb.KB_REDIS_DB,
                           url_variable="HELPDESK_BENCH_KB_DATABASE_URL") as bench:
        result = kb.run(url=bench.url, env=bench.env, articles=args.kb_articles, rounds=args.kb_rounds, say=say)
        pg = database.server_settings(bench.url)
    publish(kb.render(result, command=command, pg=pg), section=f"kb-{args.kb_articles}", args=args)
    return 0


def sla_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    """The SLA scan benchmark (bench/sla.py) in its own database and Redis database."""
    command = run_command(args, argv, default=f"bench/run.py --only sla --sla-timers {args.sla_timers} "
                                              f"--sla-due {args.sla_due}")
    with bench_environment(database_name=sla.SLA_DATABASE, redis_db=sla.SLA_REDIS_DB,
                           url_variable="HELPDESK_BENCH_SLA_DATABASE_URL") as bench:
        options = sla.Options(timers=args.sla_timers, due=args.sla_due, due_runs=args.sla_runs)
        result = sla.run(url=bench.url, env=bench.env, redis_url=bench.redis_url, options=options, say=say)
        pg = database.server_settings(bench.url)
    publish(sla.render(result, command=command, pg=pg), section=f"sla-{args.sla_timers}", args=args)
    return 0


def email_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    """The email intake benchmark (bench/email_intake.py) in its own database and Redis database."""
    command = ("bench/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])).strip()
    if args.only is None:
        command = f"bench/run.py --only email --messages {args.messages}"
    from helpdesk import devservers

    services = devservers.ensure_services(progress=say)
    try:
        redis_parts = urlsplit(services.redis_url)
        redis_url = urlunsplit((redis_parts.scheme, redis_parts.netloc, f"/{email_intake.EMAIL_REDIS_DB}", "", ""))
        env = dict(os.environ, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="helpdesk.settings", DEBUG="0",
                   API_RATE_LIMIT="100000000/min", PYTHONPATH=str(BASE_DIR))
        env.pop("CELERY_BROKER_URL", None)
        bench_url, seed = email_intake.ensure_database(env, services.database_url, say, skip_seed=args.skip_seed)
        env["DATABASE_URL"] = bench_url
        os.environ.update(DATABASE_URL=bench_url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="helpdesk.settings",
                          DEBUG="0")
        import django

        django.setup()
        options = email_intake.Options(
            messages=args.messages, connections=args.smtp_connections, worker_processes=args.worker_concurrency,
            workers=args.worker_processes, profile=args.profile, rate=args.smtp_rate,
        )
        result = email_intake.run(bench_url=bench_url, env=env, redis_url=redis_url, options=options, say=say)
        result.seed = seed
        pg = database.server_settings(bench_url)
    finally:
        services.stop()
    body = email_intake.render(result, command=command, pg=pg)
    print("\n" + body)
    if not args.no_results:
        report.write_section(f"email-{args.messages}" + (f"-at-{args.smtp_rate:g}" if args.smtp_rate else ""), body)
        say(f"\nWritten to {report.RESULTS.relative_to(BASE_DIR)}.")
    return 0


def render(*, command: str, tickets: int, seed, query_counts, max_queries: int, open_queue, insert_rate: float,
           results: dict[str, dict[str, Figure]], pg: dict[str, str], quick: bool, load_at_start: str) -> str:
    box = report.machine()
    names = list(results)
    when = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {tickets:,} tickets{' (quick smoke run)' if quick else ''} — {when}",
        "",
        f"Command: `{command}` (`make bench` runs `bench/run.py` with the defaults).",
        "",
        f"Data: {seed.tickets:,} tickets, {seed.messages:,} messages, {seed.events:,} events, database "
        f"{seed.database_size}; " + (
            f"seeded by `seed_demo --tickets {tickets} --method bulk` in {seed.seconds:.0f} s"
            if seed.seconds is not None else "seed time not recorded") + (
            f" on {seed.seeded_at[:16]} (reused by this run)" if seed.reused else " (this run)") + (
            f"; while seeding: {seed.conditions}." if seed.conditions else "."),
        "",
        f"Machine: {box['nproc']} CPUs ({box['cpu']}), {box['memory']} RAM, load average {load_at_start} before the "
        f"HTTP measurements, {box['load']} at the end; "
        f"Python {box['python']}; PostgreSQL {pg['server_version']} (fsync {pg['fsync']}, synchronous_commit "
        f"{pg['synchronous_commit']}, shared_buffers {pg['shared_buffers']}). Client and servers share the machine; "
        "servers run with the API rate limit raised (API_RATE_LIMIT) so it does not cap the figures.",
        "",
        "### Over HTTP on loopback (agent session / API token)",
        "",
        "Latencies are the median over repeats of each run's p50 / p95, one client, one request at a time; "
        "rates with N connections kept busy.",
        "",
    ]
    header = ["measure", *names]
    rows = [[label, *[cell(results[name].get(key), kind) for name in names]] for key, label, kind in ROWS]
    lines += [report.markdown_table(header, rows), ""]

    lines += ["### Targets (issue 2)", ""]
    values = {name: target_values(results[name], max_queries) for name in names}
    target_rows = []
    for target in report.TARGETS:
        limit = f"{'≤' if target.at_most else '≥'} {report.fmt(float(target.limit), 0)} {target.unit}".strip()
        cells = [f"{report.fmt(values[name][target.key])} — {report.met(target, values[name][target.key])}"
                 for name in names]
        target_rows.append([target.label, limit, *cells])
    lines += [report.markdown_table(["target", "limit", *names], target_rows), "",
              "The queue target is checked on the slowest of the three queue pages.", ""]

    lines += ["### SQL queries per page (Django test client, in process)", ""]
    sizes = sorted({size for page in query_counts.values() for size in page.counts})
    lines += [report.markdown_table(
        ["page", *[f"page size {s}" for s in sizes], "SQL time at 50 (ms)"],
        [[name, *[str(page.counts.get(s, "–")) for s in sizes], report.fmt(page.total_ms)]
         for name, page in query_counts.items()]), ""]
    lines += ["Slowest queries at page size 50 (in process, first 160 characters):", ""]
    for name, page in query_counts.items():
        for ms, sql in page.slowest[:2]:
            lines.append(f"- {name}: {ms:.1f} ms — `{' '.join(sql.split())[:160]}`")
    lines.append("")

    lines += ["### Baselines and ratios", ""]
    baseline_rows = [
        ["open-queue SQL (team's open tickets by updated, LIMIT 51), EXPLAIN ANALYZE execution",
         f"{open_queue.execution_ms:.3f} ms (round trip {open_queue.round_trip_ms:.3f} ms)"],
        ["one ticket + event INSERT, committed per ticket, one client", f"{insert_rate:,.0f} tickets/s"],
    ]
    for name in names:
        figures = results[name]
        queue_p50 = figures["queue_open"].p50
        baseline_rows += [
            [f"{name}: queue page (open view) p50 ÷ its SQL round trip",
             f"× {queue_p50 / open_queue.round_trip_ms:,.0f}" if open_queue.round_trip_ms else "–"],
            [f"{name}: queue req/s ÷ /healthz req/s (16 connections)",
             f"{100 * figures['queue_16'].rate / figures['healthz_16'].rate:.0f} %"],
            [f"{name}: API create (1 client) ÷ raw insert rate",
             f"{100 * figures['create_1'].rate / insert_rate:.0f} %"],
        ]
    lines += [report.markdown_table(["baseline", "value"], baseline_rows), "",
              "Open-queue plan:", "", "```", open_queue.plan, "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
