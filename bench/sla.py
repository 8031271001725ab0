"""The SLA scan benchmark (issue 4): one scan tick over 1,000,000 open timers.

    .venv/bin/python bench/run.py --only sla                         # 1,000,000 timers, 10,000 due
    .venv/bin/python bench/run.py --only sla --sla-timers 30000 --sla-due 1000   # a smoke run

Data: its own database (`helpdesk_bench_sla`, created and migrated like bench/database.py does, never
the demo's nor `helpdesk_bench`), one policy (24/7, calendar minutes, breach raises the priority one
step and adds a tag), and 1,000,000 running timers inserted with generate_series (three metrics on
each of 333,334 open tickets assigned to one agent), all due between one hour and 30 days ahead.
Created once and reused while the count matches.

Measured, in process (what a Celery worker on the `sla` queue runs):
* **nothing due**: `tickets.tasks.sla_scan()` (one `sla_scan_due` call: the breach and the warning
  queries with FOR NO KEY UPDATE SKIP LOCKED, in a transaction), median of many runs; the plans must
  read the partial indexes. Baseline: the same two SELECTs of due ids as raw SQL over psycopg.
* **10,000 due**: the first-response timers of 10,000 tickets moved into the past, then one
  `sla_scan()` run (20 batches of 500) with the actions on (escalation through `ticket_update` with
  its events and realtime, the in-app notice, the notification mail queued to Celery; the mail is
  not sent: that is the `email_out` workers' job) and once more without actions (`on_fire=None`,
  the marking, the audit events and the mail tasks they queue). Median of several runs, the data
  reset between runs.
  Baseline: a raw SELECT of the 10,000 due ids.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench import database, report

SLA_DATABASE = "helpdesk_bench_sla"
SLA_REDIS_DB = 60  # the SLA bench's own Redis database (broker and channel layer), flushed before and after
OPEN_TIMERS = 1_000_000
DUE_TIMERS = 10_000
BATCH_SIZE = 500
POLICY_NAME = "Bench SLA 24/7"
ESCALATION_TAG = "sla-escalated"
METRICS = ("first_response", "next_response", "resolution")
# Every priority has targets: an escalation raises the priority, and the ticket must keep its timers.
TARGETS = {priority: {"first_response": 60, "next_response": 120, "resolution": 480}
           for priority in ("low", "normal", "high", "urgent")}

RAW_DUE_SQL = (
    "SELECT id FROM tickets_slatimer WHERE state = 'running' AND breached_at IS NULL AND due_at <= now() "
    "ORDER BY due_at LIMIT %s"
)
RAW_WARNING_SQL = (
    "SELECT id FROM tickets_slatimer WHERE state = 'running' AND warned_at IS NULL AND warning_at IS NOT NULL "
    "AND warning_at <= now() AND due_at > now() ORDER BY warning_at LIMIT %s"
)


@dataclass
class Options:
    timers: int = OPEN_TIMERS
    due: int = DUE_TIMERS
    idle_runs: int = 30
    due_runs: int = 3


@dataclass
class Result:
    timers: int
    tickets: int
    due: int
    seeded_seconds: float | None
    reused: bool
    database_size: str
    idle_ms: list[float] = field(default_factory=list)
    idle_baseline_ms: list[float] = field(default_factory=list)
    plans: dict[str, str] = field(default_factory=dict)
    due_with_actions_s: list[float] = field(default_factory=list)
    due_without_actions_s: list[float] = field(default_factory=list)
    due_baseline_ms: list[float] = field(default_factory=list)
    fired_per_run: list[int] = field(default_factory=list)
    loads: dict[str, str] = field(default_factory=dict)
    services_sync_timers: bool = False


def _fixtures() -> dict[str, int]:
    """The team, agent, customer and policy the generated rows point at (found or created)."""
    from tickets.models import Customer, Role, SlaPolicy, Team, TeamMembership, User

    team, _ = Team.objects.get_or_create(slug="bench-sla", defaults={"name": "Bench SLA"})
    agent, created = User.objects.get_or_create(
        username="bench-sla-agent",
        defaults={"role": Role.AGENT, "email": "bench-sla-agent@example.com", "display_name": "Bench Agent"},
    )
    if created:
        TeamMembership.objects.create(team=team, user=agent)
    customer, _ = Customer.objects.get_or_create(email="bench-sla-customer@example.com",
                                                 defaults={"name": "Bench Customer"})
    policy, _ = SlaPolicy.objects.update_or_create(
        name=POLICY_NAME,
        defaults={"targets": TARGETS, "first_response_business_hours": False, "next_response_business_hours": False,
                  "resolution_business_hours": False, "warning_percent": 75, "escalate_priority": "raise",
                  "escalate_add_tag": ESCALATION_TAG},
    )
    return {"team": team.pk, "agent": agent.pk, "customer": customer.pk, "policy": policy.pk}


def _generate(cursor: Any, *, ids: dict[str, int], timers: int, say: Callable[[str], None]) -> None:
    tickets = -(-timers // len(METRICS))
    say(f"Generating {tickets:,} open tickets and {timers:,} running timers (generate_series).")
    cursor.execute("TRUNCATE tickets_ticket CASCADE")
    cursor.execute(
        "INSERT INTO tickets_ticket (requester_id, team_id, assignee_id, subject, status, priority, type, channel,"
        " tags, custom_fields, created_at, updated_at, reopen_count, message_count, last_customer_message_at)"
        " SELECT %(customer)s, %(team)s, %(agent)s, 'SLA bench ' || n, 'open', 'normal', 'question', 'email',"
        " '{}', '{}', now() - interval '1 hour', now(), 0, 1, now() - interval '1 hour'"
        " FROM generate_series(1, %(tickets)s) AS n",
        {**ids, "tickets": tickets},
    )
    # Due between one hour and 30 days ahead, warned 15 minutes before: nothing fires yet.
    cursor.execute(
        "INSERT INTO tickets_slatimer (ticket_id, metric, policy_id, target_minutes, is_business_hours, state,"
        " is_current, started_at, paused_seconds, due_at, warning_at, created_at, updated_at)"
        " SELECT t.id, m.metric, %(policy)s, 60, false, 'running', true, now() - interval '1 hour', 0,"
        "        due.at, due.at - interval '15 minutes', now(), now()"
        " FROM (SELECT id FROM tickets_ticket ORDER BY id) AS t"
        " CROSS JOIN unnest(%(metrics)s::text[]) AS m(metric)"
        " CROSS JOIN LATERAL (SELECT now() + interval '1 hour' + random() * interval '30 days' + t.id * interval '0'"
        "                     AS at) AS due"
        " ORDER BY t.id, m.metric LIMIT %(timers)s",
        {**ids, "metrics": list(METRICS), "timers": timers},
    )


def prepare(url: str, env: dict[str, str], *, timers: int, say: Callable[[str], None]) -> tuple[dict[str, int], bool, float | None]:
    """Migrate the bench database and make it hold exactly `timers` running timers of the bench policy."""
    import psycopg

    database.ensure_database(url)
    say("Migrating the SLA bench database.")
    database.manage(env, "migrate", "-v0")
    ids = _fixtures()
    with database._connect(url, autocommit=True) as connection:
        count = database._one(connection.execute(
            "SELECT count(*) FROM tickets_slatimer WHERE policy_id = %s AND state = 'running'", [ids["policy"]]))[0]
        if count == timers:
            return ids, True, None
        started = time.monotonic()
        with connection.cursor() as cursor:
            _generate(cursor, ids=ids, timers=timers, say=say)
        try:
            connection.execute("VACUUM ANALYZE tickets_ticket")
            connection.execute("VACUUM ANALYZE tickets_slatimer")
        except psycopg.Error as error:  # pragma: no cover - a concurrent VACUUM elsewhere
            say(f"  VACUUM failed: {error}")
        return ids, False, time.monotonic() - started


def _explain(queryset: Any) -> str:
    from django.db import connection, transaction

    with transaction.atomic():
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())


def _time_ms(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def _make_due(url: str, *, due: int) -> None:
    """Move the first-response timers of `due` tickets into the past (one per ticket, so each breach
    escalates its own ticket) and undo what an earlier run did to them."""
    with database._connect(url) as connection, connection.transaction():
        connection.execute(
            "WITH chosen AS (SELECT ticket_id FROM tickets_slatimer WHERE metric = 'first_response'"
            "                ORDER BY ticket_id LIMIT %s)"
            " UPDATE tickets_slatimer s SET due_at = now() - interval '5 minutes' - random() * interval '1 hour',"
            "        warning_at = NULL, breached_at = NULL, warned_at = NULL, state = 'running'"
            " FROM chosen WHERE s.ticket_id = chosen.ticket_id AND s.metric = 'first_response'",
            [due],
        )
        connection.execute(
            "UPDATE tickets_ticket SET priority = 'normal', tags = '{}' WHERE id IN"
            " (SELECT ticket_id FROM tickets_slatimer WHERE metric = 'first_response' ORDER BY ticket_id LIMIT %s)"
            " AND (priority <> 'normal' OR tags <> '{}')",
            [due],
        )
        connection.execute("DELETE FROM tickets_event WHERE via = 'sla'")
        connection.execute("DELETE FROM tickets_notificationdelivery")
    with database._connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE tickets_slatimer")


def _flush_redis(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def run(*, url: str, env: dict[str, str], redis_url: str, options: Options, say: Callable[[str], None]) -> Result:
    from tickets.sla.services import _due_breaches, _due_warnings, sla_scan_due
    from tickets.tasks import sla_scan

    _flush_redis(redis_url)
    load_before = database.load_average()
    ids, reused, seconds = prepare(url, env, timers=options.timers, say=say)
    tickets, _messages, _events, size = database.data_size(url)
    result = Result(timers=options.timers, tickets=tickets, due=options.due, seeded_seconds=seconds, reused=reused,
                    database_size=size)
    result.loads["before"] = load_before
    from tickets.services import common as ticket_services_common

    result.services_sync_timers = hasattr(ticket_services_common, "sync_sla")
    say(f"SLA bench data: {options.timers:,} running timers on {tickets:,} tickets ({size}); "
        + ("reused" if reused else f"generated in {seconds:.0f} s"))

    # -- nothing due ------------------------------------------------------------------------------
    _make_due(url, due=0)
    with database._connect(url, autocommit=True) as connection:
        connection.execute("UPDATE tickets_slatimer SET breached_at = NULL, warned_at = NULL, state = 'running'"
                           " WHERE breached_at IS NOT NULL OR warned_at IS NOT NULL OR state <> 'running'")
        connection.execute(  # timers a previous due run moved into the past go back to the future
            "UPDATE tickets_slatimer s SET due_at = d.at, warning_at = d.at - interval '15 minutes'"
            " FROM (SELECT id, now() + interval '1 hour' + random() * interval '30 days' AS at"
            "       FROM tickets_slatimer WHERE due_at <= now() + interval '1 hour') AS d WHERE s.id = d.id")
        connection.execute("VACUUM ANALYZE tickets_slatimer")
    now = datetime.now(tz=UTC)
    result.plans["breaches"] = _explain(_due_breaches(now=now, limit=BATCH_SIZE))
    result.plans["warnings"] = _explain(_due_warnings(now=now, limit=BATCH_SIZE))
    say("Nothing due: timing sla_scan().")
    for _ in range(3):
        sla_scan()  # warm the connection and caches
    for _ in range(options.idle_runs):
        result.idle_ms.append(_time_ms(sla_scan))
    with database._connect(url, autocommit=True) as connection:
        for _ in range(options.idle_runs):
            def raw() -> None:
                connection.execute(RAW_DUE_SQL, [BATCH_SIZE]).fetchall()
                connection.execute(RAW_WARNING_SQL, [BATCH_SIZE]).fetchall()
            result.idle_baseline_ms.append(_time_ms(raw))
    say(f"  median {statistics.median(result.idle_ms):.2f} ms (raw SELECTs "
        f"{statistics.median(result.idle_baseline_ms):.2f} ms)")
    result.loads["after idle"] = database.load_average()

    # -- due ----------------------------------------------------------------------------------------
    max_batches = -(-options.due // BATCH_SIZE)
    for with_actions in (True, False):
        label = "with actions" if with_actions else "without actions (marking and events only)"
        for attempt in range(options.due_runs):
            _make_due(url, due=options.due)
            _flush_redis(redis_url)
            if not with_actions and attempt == 0:
                with database._connect(url, autocommit=True) as connection:
                    for _ in range(5):
                        result.due_baseline_ms.append(_time_ms(
                            lambda c=connection: c.execute(RAW_DUE_SQL, [options.due]).fetchall()))
            say(f"{options.due:,} due, {label}: run {attempt + 1} of {options.due_runs}.")
            started = time.perf_counter()
            if with_actions:
                fired = sla_scan(batch_size=BATCH_SIZE, max_batches=max_batches)
            else:
                fired = 0
                for _batch in range(max_batches):
                    fired += len(sla_scan_due(now=datetime.now(tz=UTC), batch_size=BATCH_SIZE))
            elapsed = time.perf_counter() - started
            (result.due_with_actions_s if with_actions else result.due_without_actions_s).append(elapsed)
            result.fired_per_run.append(fired)
            say(f"  fired {fired:,} in {elapsed:.1f} s ({fired / elapsed:,.0f}/s)")
        result.loads[f"after due {'with' if with_actions else 'without'} actions"] = database.load_average()
    _make_due(url, due=0)
    _flush_redis(redis_url)
    return result


def render(result: Result, *, command: str, pg: dict[str, str]) -> str:
    box = report.machine()
    when = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    idle = statistics.median(result.idle_ms)
    idle_raw = statistics.median(result.idle_baseline_ms)
    with_actions = statistics.median(result.due_with_actions_s)
    without_actions = statistics.median(result.due_without_actions_s)
    due_raw = statistics.median(result.due_baseline_ms) if result.due_baseline_ms else float("nan")
    uses_index = all(name in result.plans[key] for key, name in
                     (("breaches", "sla_timer_due_idx"), ("warnings", "sla_timer_warning_idx")))
    rows = [
        ["scan tick, nothing due (sla_scan)", f"{idle:.2f} ms", f"{idle_raw:.2f} ms (the two SELECTs of due ids)",
         f"{idle / idle_raw:.1f}×", "≤ 50 ms: " + ("met" if idle <= 50 else "NOT met")],
        [f"{result.due:,} due, with actions", f"{with_actions:.1f} s = {result.due / with_actions:,.0f} escalations/s",
         f"{due_raw:.1f} ms (SELECT of the {result.due:,} due ids)", f"{with_actions * 1000 / due_raw:,.0f}×", ""],
        [f"{result.due:,} due, without actions (marks, events, mail tasks)", f"{without_actions:.1f} s = {result.due / without_actions:,.0f} breaches/s",
         "", f"{without_actions * 1000 / due_raw:,.0f}×", ""],
    ]
    lines = [
        f"## SLA scan, {result.timers:,} running timers — {when}",
        "",
        f"Command: `{command}`. Database `{SLA_DATABASE}`: {result.timers:,} running timers on {result.tickets:,} open "
        f"tickets ({result.database_size}), " + ("reused" if result.reused else
                                                 f"generated with generate_series in {result.seeded_seconds:.0f} s")
        + f"; {result.due:,} first-response timers made due for the due runs, in batches of {BATCH_SIZE}.",
        "",
        f"Machine: {box['nproc']} CPUs ({box['cpu']}), {box['memory']}, Python {box['python']}, PostgreSQL "
        f"{pg.get('server_version', '?')} (fsync {pg.get('fsync', '?')}, synchronous_commit "
        f"{pg.get('synchronous_commit', '?')}). **The machine is shared with other sessions**: load average "
        + "; ".join(f"{when_}: {load}" for when_, load in result.loads.items()) + ".",
        "",
        "In process, as a worker on the `sla` queue runs it. Medians: nothing due over "
        f"{len(result.idle_ms)} runs, due over {len(result.due_with_actions_s)} runs each (per-run: with actions "
        + ", ".join(f"{s:.1f} s" for s in result.due_with_actions_s) + "; without "
        + ", ".join(f"{s:.1f} s" for s in result.due_without_actions_s) + f"; fired {sorted(set(result.fired_per_run))}).",
        "",
        report.markdown_table(["what", "time", "baseline (raw SQL, psycopg)", "ratio", "target (issue 4)"], rows),
        "",
        "Actions per breach: the escalation through `ticket_update` (priority one step up, a tag: two Events and "
        "a `ticket.updated` realtime event), the `sla.breached` in-app notice to the assignee, the notification "
        "mail queued to Celery (sent later by `email_out` workers, not timed). "
        + ("`ticket_update` also syncs the ticket's SLA timers (policy match, retarget of the other timers)."
           if result.services_sync_timers else
           "`ticket_update` does not sync SLA timers in this build; when it does, each escalation costs more."),
        "Without actions (`on_fire=None`) a breach still writes its timer, its `sla_breached` Event and, on "
        "commit, queues the notification task for that event (the mail follows the audit event, not the actions).",
        "",
        "Plans of the scan's two queries with nothing due (EXPLAIN ANALYZE of the SQL Django sends): "
        + ("both read their partial index." if uses_index else "**a partial index is NOT used.**"),
        "",
        "```",
        "-- breaches",
        result.plans["breaches"],
        "-- warnings",
        result.plans["warnings"],
        "```",
    ]
    return "\n".join(lines) + "\n"
