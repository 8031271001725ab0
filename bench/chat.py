"""The live chat benchmark (issue 6): 1,000 visitor websockets and 50 agent sockets on two ASGI processes.

    .venv/bin/python bench/run.py --only chat                                  # 1,000 visitors, 200 msg/s, 60 s
    .venv/bin/python bench/run.py --only chat --chat-visitors 100 --chat-seconds 10   # a smoke run

Data: its own database (`helpdesk_bench_chat`, created and migrated like bench/database.py does) and
Redis database 58 (channel layer, limits, presence), flushed before the run. One team of 50 agents,
one widget, N open chats started through `chat_start` (each a ticket with its first message), made
once and reused while enough of them are open; every agent has a session (signed in).

Server: `uvicorn helpdesk.asgi:application --workers 2` (two processes behind one port: the kernel
hands each connection to one of them, so a visitor and the agents of their chat are usually on
different processes and every message crosses Redis), with the per-address connection limit raised
(all the load comes from 127.0.0.1).

Load: two client processes (asyncio + the `websockets` library): one holds the visitor sockets,
the other the agent sockets; each agent joins its share of the chats (20 at 1,000 visitors). The
visitors send RATE messages a second in total, spread evenly over the run, each to its own chat,
with the widget's protocol (client id, ack). Measured:
* delivery latency visitor → agent: from just before the visitor's frame is written to the agent
  socket's receiving it (both processes read the same wall clock), p50/p99/max;
* ack latency: from the visitor's send to the ack (the message is then committed in PostgreSQL);
* lost: acknowledged messages that never reached the agent within LOST_AFTER_SECONDS after the run,
  plus messages never acknowledged;
* server memory per connection: the RSS of both worker processes once all sockets are open minus
  their RSS before, divided by the number of sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import database, report

CHAT_DATABASE = "helpdesk_bench_chat"
CHAT_REDIS_DB = 58
VISITORS = 1_000
AGENTS = 50
RATE = 200.0  # messages a second, all visitors together
SECONDS = 60.0
WORKERS = 2
LOST_AFTER_SECONDS = 10.0
CONNECT_CONCURRENCY = 50
SHOP = "https://shop.example"
TEAM_SLUG = "bench-chat"
WIDGET_NAME = "Bench chat widget"
BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


@dataclass
class Options:
    visitors: int = VISITORS
    agents: int = AGENTS
    rate: float = RATE
    seconds: float = SECONDS
    workers: int = WORKERS


@dataclass
class Result:
    options: Options
    chats_created: int = 0
    setup_seconds: float = 0.0
    connect_seconds: float = 0.0
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    lost: int = 0
    duplicates: int = 0
    send_rate: float = 0.0
    delivery_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    rss_before_kb: int = 0
    rss_connected_kb: int = 0
    rss_after_kb: int = 0
    connections: int = 0
    load_before: str = ""
    load_after: str = ""
    refused: dict[str, int] = field(default_factory=dict)
    server_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def say(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------------- data


def prepare(*, url: str, env: dict[str, str], visitors: int, agents: int) -> tuple[list[tuple[int, str]], list[str], int]:
    """(chat id, visitor token) of `visitors` open chats, a session cookie value of each of `agents`
    agents, and how many chats were created now. Runs in this process (django is set up)."""
    database.ensure_database(url)
    database.manage(env, "migrate", "-v0", "--skip-checks")
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    from channels_intake.chat import services, tokens
    from channels_intake.chat.models import Chat, ChatState, ChatWidget
    from tickets.models import AgentProfile, Role, Team, TeamMembership, User

    team, _ = Team.objects.get_or_create(slug=TEAM_SLUG, defaults={"name": "Bench chat"})
    widget, _ = ChatWidget.objects.get_or_create(
        name=WIDGET_NAME, defaults={"team": team, "allowed_origins": [SHOP], "deflection_enabled": False})
    staff = []
    for n in range(agents):
        user, created = User.objects.get_or_create(
            username=f"bench-chat-agent-{n}",
            defaults={"email": f"bench-chat-agent-{n}@bench.example", "role": Role.AGENT,
                      "display_name": f"Bench Agent {n}"})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            AgentProfile.objects.get_or_create(user=user)
        TeamMembership.objects.get_or_create(team=team, user=user)
        staff.append(user)
    open_chats = list(Chat.objects.filter(widget=widget).exclude(state=ChatState.ENDED).order_by("pk")[:visitors])
    created = 0
    while len(open_chats) < visitors:
        open_chats.append(services.chat_start(
            widget=widget, visitor_id=uuid.uuid4(), name=f"Visitor {len(open_chats)}", email="",
            question="Where is my parcel?", language="en", origin=SHOP))
        created += 1
        if created % 100 == 0:
            say(f"  {created} chats started")
    sessions = []
    for user in staff:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        sessions.append(session.session_key)
    return [(chat.pk, tokens.visitor_token_issue(chat=chat)) for chat in open_chats], sessions, created


# ----------------------------------------------------------------------------------- server


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class Server:
    """uvicorn with N worker processes on one port."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path) -> None:
        from bench import servers

        self.port = servers.free_port()
        self.env = env
        self.workers = workers
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        command = [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", HOST, "--port",
                   str(self.port), "--workers", str(self.workers), "--lifespan", "off", "--no-access-log",
                   "--log-level", "warning", "--backlog", "4096"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=BASE_DIR, env=self.env, stdout=log,  # noqa: S603
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(OSError), urllib.request.urlopen(  # noqa: S310
                    f"http://{HOST}:{self.port}/healthz", timeout=2) as response:
                if response.status == 200 and len(self.worker_pids()) == self.workers:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not answer /healthz within 90 s; see {self.log_path}")
            time.sleep(0.3)
        # Both workers serve a first request (imports, connections) before the memory baseline.
        for _ in range(20):
            with contextlib.suppress(OSError), urllib.request.urlopen(  # noqa: S310
                    f"http://{HOST}:{self.port}/healthz", timeout=5):
                pass
        return self

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return [pid for pid in _children(self.process.pid) if "resource_tracker" not in _cmdline(pid)]

    def rss_kb(self) -> int:
        return sum(_rss_kb(pid) for pid in self.worker_pids())

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.worker_pids())

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# ----------------------------------------------------------------------------------- load


async def _connect(url: str, *, origin: str, headers: list[tuple[str, str]] = ()) -> Any:
    import websockets

    for attempt in range(5):
        try:
            return await websockets.connect(url, origin=origin, additional_headers=list(headers), open_timeout=30,
                                            ping_interval=None, max_queue=None, compression=None)
        except (OSError, TimeoutError, websockets.InvalidHandshake) as error:
            if attempt == 4:
                raise RuntimeError(f"could not connect {url.split('?')[0]}: {error!r}") from error
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


async def _gather_limited(coroutines: list, limit: int) -> list:
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine):
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(one(c) for c in coroutines))


def agents_process(port: int, sessions: list[str], chat_ids: list[int], ready, go, done, results) -> None:
    """Hold the agent sockets; record (client id, receive time) of every visitor message."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    received: list[tuple[str, float]] = []
    refused: dict[str, int] = {}

    async def main() -> None:
        shares = [chat_ids[n::len(sessions)] for n in range(len(sessions))]

        async def agent(session: str, share: list[int]):
            socket = await _connect(f"ws://{HOST}:{port}/ws/chat/agent/", origin=f"http://{HOST}:{port}",
                                    headers=[("Cookie", f"sessionid={session}")])
            for chat_id in share:
                await socket.send(json.dumps({"type": "join", "chat": chat_id}))
                frame = json.loads(await socket.recv())
                if frame.get("type") != "joined":
                    refused[str(frame.get("code"))] = refused.get(str(frame.get("code")), 0) + 1
            return socket

        sockets = await _gather_limited([agent(s, share) for s, share in zip(sessions, shares, strict=True)],
                                        CONNECT_CONCURRENCY)

        async def read(socket) -> None:
            with contextlib.suppress(Exception):
                async for raw in socket:
                    now = time.time()
                    frame = json.loads(raw)
                    if frame.get("type") == "message" and frame.get("author") == "visitor":
                        received.append((frame.get("client_id", ""), now))

        readers = [asyncio.ensure_future(read(s)) for s in sockets]
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, done.wait)
        for socket in sockets:
            await socket.close()
        for reader in readers:
            reader.cancel()

    started = time.process_time()
    try:
        asyncio.run(main())
        results.put({"received": received, "refused": refused, "cpu": time.process_time() - started})
    except Exception as error:  # reported to the parent, which prints it
        ready.set()
        results.put({"error": repr(error)})


def visitors_process(port: int, chats: list[tuple[int, str]], rate: float, seconds: float, ready, go,
                     results) -> None:
    """Hold the visitor sockets; send `rate` messages a second for `seconds`; record send and ack times."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    refused: dict[str, int] = {}

    async def main() -> None:
        url = f"ws://{HOST}:{port}/ws/chat/visitor/?token="
        sockets = await _gather_limited([_connect(url + token, origin=SHOP) for _, token in chats],
                                        CONNECT_CONCURRENCY)

        async def read(socket) -> None:
            with contextlib.suppress(Exception):
                async for raw in socket:
                    frame = json.loads(raw)
                    if frame.get("type") == "ack":
                        acked.setdefault(frame["client_id"], time.time())
                    elif frame.get("type") == "error":
                        refused[frame.get("code", "?")] = refused.get(frame.get("code", "?"), 0) + 1
            if socket.close_code not in (None, 1000):
                refused[f"closed {socket.close_code}"] = refused.get(f"closed {socket.close_code}", 0) + 1

        readers = [asyncio.ensure_future(read(s)) for s in sockets]
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        total = int(rate * seconds)
        # Chats are reused across runs and a client id already stored is a resend (not relayed again).
        run_id = uuid.uuid4().hex[:12]
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(total):
            delay = start + n / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            client_id = f"b{run_id}-{n}"
            socket = sockets[n % len(sockets)]
            sent[client_id] = time.time()
            with contextlib.suppress(Exception):
                await socket.send(json.dumps({"type": "message", "client_id": client_id,
                                              "body": f"Bench message {n}: where is my parcel?"}))
        send_seconds = loop.time() - start
        # Acks of the last messages.
        deadline = loop.time() + LOST_AFTER_SECONDS
        while len(acked) < len(sent) and loop.time() < deadline:
            await asyncio.sleep(0.1)
        results.put({"sent": sent, "acked": acked, "refused": refused, "send_seconds": send_seconds})
        await asyncio.sleep(LOST_AFTER_SECONDS)
        for socket in sockets:
            await socket.close()
        for reader in readers:
            reader.cancel()

    started = time.process_time()
    try:
        asyncio.run(main())
        results.put({"cpu": time.process_time() - started})
    except Exception as error:
        ready.set()
        results.put({"error": repr(error)})


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run(*, url: str, env: dict[str, str], redis_url: str, options: Options, log_path: Path, say=say) -> Result:
    result = Result(options=options)
    started = time.monotonic()
    say(f"Chat bench data in {url.rsplit('/', 1)[-1]}: {options.visitors} open chats, {options.agents} agents.")
    chats, sessions, result.chats_created = prepare(url=url, env=env, visitors=options.visitors, agents=options.agents)
    result.setup_seconds = time.monotonic() - started
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    # Sessions were cached in Redis (cached_db); the flush leaves them in PostgreSQL, which is enough.
    server_env = dict(env, HELPDESK_CHAT_MAX_CONNECTIONS_PER_IP=str(options.visitors * 2),
                      HELPDESK_CHAT_MESSAGES_PER_MINUTE="100000")
    context = multiprocessing.get_context("spawn")
    with Server(server_env, options.workers, log_path) as server:
        result.rss_before_kb = server.rss_kb()
        result.load_before = report.machine()["load"]
        results = context.Queue()
        agents_ready, visitors_ready, go, done = (context.Event() for _ in range(4))
        connect_started = time.monotonic()
        agents = context.Process(target=agents_process, args=(server.port, sessions, [c for c, _ in chats],
                                                              agents_ready, go, done, results))
        agents.start()
        agents_ready.wait(timeout=600)
        visitors = context.Process(target=visitors_process, args=(server.port, chats, options.rate, options.seconds,
                                                                  visitors_ready, go, results))
        visitors.start()
        visitors_ready.wait(timeout=600)
        result.connect_seconds = time.monotonic() - connect_started
        time.sleep(2)
        result.connections = len(chats) + len(sessions)
        result.rss_connected_kb = server.rss_kb()
        say(f"  {result.connections} sockets open in {result.connect_seconds:.1f} s; server RSS "
            f"{result.rss_before_kb / 1024:.0f} → {result.rss_connected_kb / 1024:.0f} MiB; sending "
            f"{options.rate:g} msg/s for {options.seconds:g} s")
        cpu_before = server.cpu_seconds()  # the sending window only, not the connections' setup
        go.set()
        outcome: dict[str, Any] = {}
        visitor_reports = 0
        while visitor_reports < 2:
            item = results.get(timeout=options.seconds + 600)
            if "error" in item:
                result.errors.append(item["error"])
                break
            outcome.update({k: v for k, v in item.items() if k != "cpu"})
            if "cpu" in item:
                result.client_cpu_seconds += item["cpu"]
            visitor_reports += 1
        result.rss_after_kb = server.rss_kb()
        result.server_cpu_seconds = server.cpu_seconds() - cpu_before
        done.set()
        while not result.errors:
            item = results.get(timeout=120)
            if "error" in item:
                result.errors.append(item["error"])
                break
            if "received" in item:
                outcome["received"], outcome["agent_refused"] = item["received"], item["refused"]
                result.client_cpu_seconds += item["cpu"]
                break
        for process in (visitors, agents):
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
        result.load_after = report.machine()["load"]
    if result.errors:
        return result
    sent, acked, received = outcome["sent"], outcome["acked"], outcome["received"]
    result.sent, result.acked = len(sent), len(acked)
    result.send_rate = len(sent) / outcome["send_seconds"] if outcome["send_seconds"] else float("nan")
    first_receipt: dict[str, float] = {}
    for client_id, at in received:
        if client_id in first_receipt:
            result.duplicates += 1
        else:
            first_receipt[client_id] = at
    result.delivered = sum(1 for client_id in sent if client_id in first_receipt)
    result.lost = len(sent) - result.delivered
    result.delivery_ms = [(first_receipt[c] - t) * 1000 for c, t in sent.items() if c in first_receipt]
    result.ack_ms = [(acked[c] - t) * 1000 for c, t in sent.items() if c in acked]
    result.refused = {**outcome.get("refused", {}), **{f"agent {k}": v for k, v in outcome["agent_refused"].items()}}
    return result


def render(result: Result, *, command: str, pg: dict[str, str]) -> str:
    box = report.machine()
    o = result.options
    when = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    delivery, ack = result.delivery_ms, result.ack_ms
    p99 = percentile(delivery, 0.99)
    per_connection_kb = ((result.rss_connected_kb - result.rss_before_kb) / result.connections
                         if result.connections else float("nan"))
    lines = [
        f"## Live chat, {o.visitors:,} visitors and {o.agents} agents, {o.rate:g} messages/s for {o.seconds:g} s — {when}",
        "",
        f"Command: `{command}`.",
        "",
        f"Data: database `{CHAT_DATABASE}`, one team of {o.agents} agents (signed in), one widget, {o.visitors:,} open "
        f"chats started through `chat_start` ({result.chats_created:,} started by this run, the others reused); "
        f"Redis database {CHAT_REDIS_DB}, flushed before the run. Each agent joined {o.visitors // max(o.agents, 1)} "
        "chats; every visitor sent to its own chat.",
        "",
        f"Server: `uvicorn helpdesk.asgi:application --workers {o.workers}` (two processes on one port, the kernel "
        "spreads the connections, so most messages cross processes through Redis). Load: two client processes "
        "(asyncio + `websockets`, uvloop), one with the visitor sockets, one with the agent sockets.",
        "",
        f"Machine: {box['nproc']} CPUs ({box['cpu']}), {box['memory']} RAM, Python {box['python']}, PostgreSQL "
        f"{pg.get('server_version', '?')} (fsync {pg.get('fsync', '?')}, synchronous_commit "
        f"{pg.get('synchronous_commit', '?')}). Load average {result.load_before} before, {result.load_after} after; "
        "**the machine is shared with other sessions**, and the clients, the servers, PostgreSQL and Redis share its "
        f"two cores. CPU used by the two server processes from the first message to the last ack (or "
        f"{LOST_AFTER_SECONDS:g} s after the last send): {result.server_cpu_seconds:.0f} s; clients "
        f"{result.client_cpu_seconds:.0f} s in all.",
        "",
    ]
    if result.errors:
        lines += ["**The run failed:** " + "; ".join(result.errors), ""]
        return "\n".join(lines)
    rows = [
        ["messages sent / acknowledged / delivered to an agent",
         f"{result.sent:,} / {result.acked:,} / {result.delivered:,} (sent at {result.send_rate:.0f}/s)", ""],
        ["messages lost (sent, never delivered within "
         f"{LOST_AFTER_SECONDS:g} s)", f"{result.lost:,}", f"0: {'met' if result.lost == 0 else 'NOT met'}"],
        ["delivered twice", f"{result.duplicates:,}", ""],
        ["delivery latency visitor → agent, p50 / p99 / max",
         f"{report.fmt(percentile(delivery, 0.5))} / {report.fmt(p99)} / "
         f"{report.fmt(max(delivery) if delivery else float('nan'))} ms",
         f"p99 ≤ 100 ms: {'met' if p99 <= 100 else 'NOT met'}"],
        ["ack latency (stored and committed), p50 / p99",
         f"{report.fmt(percentile(ack, 0.5))} / {report.fmt(percentile(ack, 0.99))} ms", ""],
        ["server memory per connection (RSS of the workers: with all sockets open − before) ÷ sockets",
         f"{per_connection_kb:.0f} KiB ({result.rss_before_kb / 1024:.0f} → {result.rss_connected_kb / 1024:.0f} MiB "
         f"for {result.connections:,} sockets; {result.rss_after_kb / 1024:.0f} MiB after the run)", ""],
        ["sockets opened (visitors + agents, agents joining their chats)",
         f"{result.connections:,} in {result.connect_seconds:.1f} s", ""],
    ]
    if result.refused:
        rows.append(["refusals / closes seen by the clients", ", ".join(f"{k}: {v}" for k, v in result.refused.items()),
                     ""])
    lines += [report.markdown_table(["measure", "value", "target (issue 6)"], rows), ""]
    if delivery:
        lines += [f"Delivery latency by percentile: p90 {report.fmt(percentile(delivery, 0.9))} ms, p95 "
                  f"{report.fmt(percentile(delivery, 0.95))} ms, p99.9 {report.fmt(percentile(delivery, 0.999))} ms; "
                  f"mean {report.fmt(statistics.fmean(delivery))} ms.", ""]
    return "\n".join(lines)
