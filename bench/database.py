"""The benchmark's own database (never the demo's): created, migrated, seeded once per size, cleaned up.

Also the database-level baselines: the open-queue query as PostgreSQL runs it, and the rate at
which one client can commit a ticket with its event.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "helpdesk_bench"
MARKER_TABLE = "bench_seed"
BENCH_TAG = "bench"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _connect(url: str, **kwargs: Any) -> psycopg.Connection:
    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username or None, password=parts.password or None,
        dbname=parts.path.lstrip("/"), **kwargs,
    )


def _one(cursor: Any) -> tuple:
    row = cursor.fetchone()
    assert row is not None
    return row


def ensure_database(url: str, *, recreate: bool = False) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _connect(with_database(url, "postgres"), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and recreate:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


@dataclass
class SeedInfo:
    tickets: int
    messages: int
    events: int
    seconds: float | None  # the seed_demo run that made this data
    seeded_at: str
    reused: bool
    database_size: str
    conditions: str  # load average and fsync while seeding


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def seeded_with(url: str) -> tuple[int, float, str, str] | None:
    with _connect(url, autocommit=True) as connection:
        table = _one(connection.execute("SELECT to_regclass(%s)", [MARKER_TABLE]))[0]
        if table is None:
            return None
        connection.execute(f"ALTER TABLE {MARKER_TABLE} ADD COLUMN IF NOT EXISTS conditions text NOT NULL DEFAULT ''")
        row = connection.execute(
            f"SELECT tickets, seconds, seeded_at::text, conditions FROM {MARKER_TABLE} "  # noqa: S608
            "ORDER BY seeded_at DESC LIMIT 1"
        ).fetchone()
    return row


def data_size(url: str) -> tuple[int, int, int, str]:
    with _connect(url, autocommit=True) as connection:
        counts = [_one(connection.execute(f"SELECT count(*) FROM {table}"))[0]  # noqa: S608
                  for table in ("tickets_ticket", "tickets_message", "tickets_event")]
        size = _one(connection.execute("SELECT pg_size_pretty(pg_database_size(current_database()))"))[0]
    return counts[0], counts[1], counts[2], size


def prepare(url: str, env: dict[str, str], *, tickets: int, skip_seed: bool, say) -> SeedInfo:
    """A migrated bench database holding `tickets` seeded tickets (reused when it already does)."""
    ensure_database(url)
    marker = seeded_with(url)
    reused = skip_seed or (marker is not None and marker[0] == tickets)
    if not reused:
        if marker is not None:
            say(f"The bench database holds {marker[0]:,} seeded tickets, not {tickets:,}: recreating it.")
            ensure_database(url, recreate=True)
        say("Migrating the bench database.")
        manage(env, "migrate", "-v0")
        say(f"Seeding {tickets:,} tickets (seed_demo --method bulk).")
        load_before = load_average()
        started = time.monotonic()
        manage(env, "seed_demo", "--tickets", str(tickets), "--method", "bulk")
        seconds = time.monotonic() - started
        conditions = (f"load average {load_before} before, {load_average()} after; "
                      f"fsync {server_settings(url)['fsync']}")
        with _connect(url, autocommit=True) as connection:
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (tickets integer NOT NULL, seconds double precision, "
                "seeded_at timestamptz NOT NULL DEFAULT now(), conditions text NOT NULL DEFAULT '')"
            )
            connection.execute(f"INSERT INTO {MARKER_TABLE} (tickets, seconds, conditions) VALUES (%s, %s, %s)",  # noqa: S608
                               [tickets, seconds, conditions])
        marker = (tickets, seconds, time.strftime("%Y-%m-%d %H:%M:%S"), conditions)
    else:
        manage(env, "migrate", "-v0")
    count, messages, events, size = data_size(url)
    return SeedInfo(count, messages, events, marker[1] if marker else None, marker[2] if marker else "",
                    reused, size, marker[3] if marker else "")


# --- database baselines -----------------------------------------------------------------------------

OPEN_QUEUE_SQL = """
SELECT t.*, c.name, c.email, tm.name, u.username
  FROM tickets_ticket t
  JOIN tickets_customer c ON c.id = t.requester_id
  LEFT JOIN tickets_team tm ON tm.id = t.team_id
  LEFT JOIN tickets_user u ON u.id = t.assignee_id
 WHERE t.team_id = %(team)s AND t.status IN ('new', 'open', 'pending', 'on_hold')
 ORDER BY t.updated_at DESC, t.id DESC
 LIMIT 51
"""


@dataclass
class QueryBaseline:
    execution_ms: float  # median "Execution Time" of EXPLAIN ANALYZE
    round_trip_ms: float  # median wall time of running it through psycopg
    plan: str


def open_queue_baseline(url: str, team_id: int, repeats: int = 50) -> QueryBaseline:
    with _connect(url, autocommit=True) as connection:
        plan_rows = connection.execute("EXPLAIN " + OPEN_QUEUE_SQL, {"team": team_id}).fetchall()
        executions, trips = [], []
        for _ in range(repeats):
            result = connection.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + OPEN_QUEUE_SQL, {"team": team_id})
            executions.append(_one(result)[0][0]["Execution Time"])
            started = time.perf_counter()
            connection.execute(OPEN_QUEUE_SQL, {"team": team_id}).fetchall()
            trips.append((time.perf_counter() - started) * 1000)
    return QueryBaseline(statistics.median(executions), statistics.median(trips),
                         "\n".join(row[0] for row in plan_rows))


def insert_rate(url: str, *, requester_id: int, team_id: int, seconds: float = 5.0) -> float:
    """Tickets (each with its event) committed per second by one client, one transaction each."""
    done = 0
    with _connect(url) as connection:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            with connection.transaction():
                ticket_id = _one(connection.execute(
                    "INSERT INTO tickets_ticket (subject, status, priority, type, channel, requester_id, team_id, tags,"
                    " custom_fields, created_at, updated_at, reopen_count, message_count, last_customer_message_at)"
                    " VALUES (%s, 'new', 'normal', 'question', 'api', %s, %s, %s, '{}', now(), now(), 0, 0, now())"
                    " RETURNING id",
                    ["Baseline insert", requester_id, team_id, [BENCH_TAG]],
                ))[0]
                connection.execute(
                    "INSERT INTO tickets_event (ticket_id, kind, actor_kind, via, field, created_at)"
                    " VALUES (%s, 'created', 'system', 'api', '', now())",
                    [ticket_id],
                )
            done += 1
        elapsed = time.perf_counter() - started
    return done / elapsed


def server_settings(url: str) -> dict[str, str]:
    names = ("server_version", "fsync", "synchronous_commit", "shared_buffers", "max_wal_size")
    with _connect(url, autocommit=True) as connection:
        return {name: _one(connection.execute(f"SHOW {name}"))[0] for name in names}
