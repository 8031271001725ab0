"""The CDR import benchmark (issue 7): 100,000 Asterisk Master.csv rows through `manage.py import_calls`'s
service, in process (what the Celery task runs for an upload).

    .venv/bin/python bench/run.py --only phone                    # 100,000 rows
    .venv/bin/python bench/run.py --only phone --phone-rows 10000 # a smoke run

Data: its own database (`helpdesk_bench_phone`, migrated, emptied of calls, phone tickets and
customers before each run) and a generated file (header row, UTF-8 with some Chinese caller names):
20,000 distinct callers, 20 agents with extensions 1001–1020 in one team, 85 % inbound / 13 %
outbound / 2 % agent-to-agent, 75 % ANSWERED, 15 % NO ANSWER, 6 % BUSY, 4 % FAILED; times in
Asia/Shanghai over the last 30 days. One SLA policy applies to callback tickets (tag `callback`),
so every callback ticket gets its timers and events.

Measured: the import (parsing, numbers to E.164, customers, calls, tickets, messages, events, SLA
timers, per-chunk progress) as rows/s; then the same file again (all duplicates). Baseline: the same
rows `COPY`ed as text into a scratch table (the floor for getting these bytes into PostgreSQL at
all), measured in the same run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import database, report

PHONE_DATABASE = "helpdesk_bench_phone"
PHONE_REDIS_DB = 57  # the phone bench's own Redis database (realtime notices of the import)
ROWS = 100_000
CALLERS = 20_000
AGENTS = 20
TARGET_SECONDS = 60.0
TEAM_SLUG = "bench-phone"
POLICY_NAME = "Bench callbacks"
SURNAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou"]
CHINESE_NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "黄敏", "赵军"]


@dataclass
class Options:
    rows: int = ROWS
    chunk_size: int | None = None


@dataclass
class Result:
    rows: int
    file_bytes: int
    import_seconds: float
    import_cpu_seconds: float  # this process (both threads)
    import_server_cpu_seconds: float  # the PostgreSQL backend serving it
    reimport_seconds: float
    copy_seconds: float
    imported: int
    duplicates: int
    skipped: int
    errors: int
    tickets: int
    callbacks: int
    customers: int
    sla_timers: int
    events: int
    chunk_size: int
    loads: dict[str, str] = field(default_factory=dict)


def generate(path: Path, *, rows: int, seed: int = 7) -> None:
    """An Asterisk Master.csv with a header row (see the module docstring for the mix)."""
    rng = random.Random(seed)
    zone_offset = timedelta(hours=8)
    start = datetime.now(tz=UTC).replace(microsecond=0) + zone_offset - timedelta(days=30)
    callers = [f"13{rng.randrange(100_000_000, 999_999_999)}" for _ in range(CALLERS)]
    names = [rng.choice(CHINESE_NAMES) if n % 3 == 0 else f"{rng.choice(SURNAMES)} {n}" for n in range(CALLERS)]
    lines = ['"accountcode","src","dst","dcontext","clid","channel","dstchannel","lastapp","lastdata","start",'
             '"answer","end","duration","billsec","disposition","amaflags","uniqueid","userfield"']
    for n in range(rows):
        caller = rng.randrange(CALLERS)
        extension = str(1001 + rng.randrange(AGENTS))
        roll = rng.random()
        began = start + timedelta(seconds=n * 25)
        ring = rng.randrange(3, 30)
        outcome = rng.random()
        disposition = ("ANSWERED" if outcome < 0.75 else "NO ANSWER" if outcome < 0.90 else
                       "BUSY" if outcome < 0.96 else "FAILED")
        talk = rng.randrange(20, 900) if disposition == "ANSWERED" else 0
        answer = began + timedelta(seconds=ring) if talk else None
        end = began + timedelta(seconds=ring + talk)
        if roll < 0.85:
            src, dst, context = callers[caller], extension, "from-pstn"
            clid = f'"{names[caller]}" <{src}>'
            channel, dstchannel = f"SIP/trunk-{n:08x}", f"SIP/{extension}-{n:08x}"
        elif roll < 0.98:
            src, dst, context = extension, callers[caller], "from-internal"
            clid = f'"Agent {extension}" <{extension}>'
            channel, dstchannel = f"SIP/{extension}-{n:08x}", f"SIP/trunk-{n:08x}"
        else:
            other = str(1001 + (int(extension) - 1000) % AGENTS)
            src, dst, context = extension, other, "from-internal"
            clid = f'"Agent {extension}" <{extension}>'
            channel, dstchannel = f"SIP/{extension}-{n:08x}", f"SIP/{other}-{n:08x}"
        clid_cell = clid.replace('"', '""')
        answer_cell = f"{answer:%Y-%m-%d %H:%M:%S}" if answer else ""
        lines.append(
            f'"","{src}","{dst}","{context}","{clid_cell}","{channel}","{dstchannel}","Dial","SIP/{dst},30",'
            f'"{began:%Y-%m-%d %H:%M:%S}","{answer_cell}","{end:%Y-%m-%d %H:%M:%S}",{ring + talk},{talk},'
            f'"{disposition}","DOCUMENTATION","{1764000000 + n}.{n}",""'
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _fixtures() -> None:
    """The team, its agents with extensions 1001–1020, and the callback SLA policy (found or created)."""
    from channels_intake.phone.models import AgentExtension
    from tickets.models import AgentProfile, Role, SlaPolicy, Team, TeamMembership, User

    team, _ = Team.objects.get_or_create(slug=TEAM_SLUG, defaults={"name": "Bench Phone"})
    for number in range(AGENTS):
        extension = str(1001 + number)
        agent, created = User.objects.get_or_create(
            username=f"bench-phone-{extension}",
            defaults={"role": Role.AGENT, "email": f"bench-phone-{extension}@example.com"},
        )
        if created:
            AgentProfile.objects.create(user=agent)
            TeamMembership.objects.create(team=team, user=agent)
        AgentExtension.objects.get_or_create(extension=extension, defaults={"user": agent})
    targets = {priority: {"first_response": 30, "resolution": 480} for priority in ("low", "normal", "high", "urgent")}
    SlaPolicy.objects.update_or_create(name=POLICY_NAME, defaults={"targets": targets, "tags": ["callback"],
                                                                   "position": 1})


def _clean(url: str) -> None:
    """Remove what an earlier run imported (calls, their tickets, the customers they created)."""
    with database._connect(url, autocommit=True) as connection:
        connection.execute("TRUNCATE channels_intake_call, channels_intake_cdrimport, channels_intake_callevent")
        connection.execute("TRUNCATE tickets_ticket, tickets_customer CASCADE")
        connection.execute("VACUUM ANALYZE")


def _copy_baseline(url: str, path: Path) -> float:
    """Seconds to COPY the file's rows (text columns) into a scratch table, committed."""
    with database._connect(url) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_cdr_copy")
        connection.execute("CREATE TABLE bench_cdr_copy (" + ", ".join(f"c{n} text" for n in range(18)) + ")")
        connection.commit()
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(
            "COPY bench_cdr_copy FROM STDIN WITH (FORMAT csv, HEADER true)"
        ) as copy, path.open("rb") as handle:
            while block := handle.read(1 << 20):
                copy.write(block)
        connection.commit()
        seconds = time.perf_counter() - started
        connection.execute("DROP TABLE bench_cdr_copy")
        connection.commit()
    return seconds


def _backend_cpu_seconds() -> float:
    """CPU time (user + system) of the PostgreSQL backend of this process's Django connection: the
    server's share of the work, which a loaded machine's wall clock hides."""
    import os

    from django.db import connection

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(*, url: str, env: dict[str, str], options: Options, data_dir: Path, say: Callable[[str], None]) -> Result:
    from django.conf import settings
    from django.core.files import File

    from channels_intake.phone.cdr_import import cdr_import_create, cdr_import_run
    from tickets.models import Event, SlaTimer

    database.ensure_database(url)
    say("Migrating the phone bench database.")
    database.manage(env, "migrate", "-v0")
    _fixtures()
    _clean(url)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"Master-{options.rows}.csv"
    say(f"Generating {options.rows:,} CDR rows in {path}.")
    generate(path, rows=options.rows)
    loads = {"before": database.load_average()}
    say("Baseline: COPY of the same rows into a scratch table.")
    copy_seconds = _copy_baseline(url, path)

    cpu: dict[str, float] = {}

    def import_once() -> tuple[float, object]:
        with path.open("rb") as handle:
            cdr_import = cdr_import_create(upload=File(handle, name=path.name), format="asterisk", actor=None,
                                           timezone_name="Asia/Shanghai")
        server_before, client_before = _backend_cpu_seconds(), time.process_time()
        started = time.perf_counter()
        summary = cdr_import_run(cdr_import_id=cdr_import.pk, chunk_size=options.chunk_size)
        seconds = time.perf_counter() - started
        cpu["client"], cpu["server"] = time.process_time() - client_before, _backend_cpu_seconds() - server_before
        return seconds, summary

    say("Importing.")
    import_seconds, summary = import_once()
    import_cpu = dict(cpu)
    loads["after the import"] = database.load_average()
    say(f"  {summary.processed_rows:,} rows in {import_seconds:.1f} s = {summary.processed_rows / import_seconds:,.0f}"  # type: ignore[attr-defined]
        " rows/s")
    say("Importing the same file again (all duplicates).")
    reimport_seconds, again = import_once()
    loads["at the end"] = database.load_average()
    return Result(
        rows=options.rows, file_bytes=path.stat().st_size, import_seconds=import_seconds,
        import_cpu_seconds=import_cpu["client"], import_server_cpu_seconds=import_cpu["server"],
        reimport_seconds=reimport_seconds, copy_seconds=copy_seconds,
        imported=summary.imported_rows, duplicates=again.duplicate_rows, skipped=summary.skipped_rows,  # type: ignore[attr-defined]
        errors=summary.error_rows, tickets=summary.tickets_created, callbacks=summary.callback_tickets,  # type: ignore[attr-defined]
        customers=summary.customers_created, sla_timers=SlaTimer.objects.count(),  # type: ignore[attr-defined]
        events=Event.objects.count(), chunk_size=options.chunk_size or settings.HELPDESK_PHONE_CDR_CHUNK_SIZE,
        loads=loads,
    )


def render(result: Result, *, command: str, pg: dict[str, str]) -> str:
    box = report.machine()
    when = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    rate = result.rows / result.import_seconds
    copy_rate = result.rows / result.copy_seconds
    met = "met" if result.import_seconds < TARGET_SECONDS * result.rows / ROWS else "NOT met"
    rows = [
        ["import (new calls)", f"{result.import_seconds:.1f} s", f"{rate:,.0f}",
         f"{100 * rate / copy_rate:.1f} % (× {copy_rate / rate:,.0f} slower)"],
        ["import again (all duplicates)", f"{result.reimport_seconds:.1f} s",
         f"{result.rows / result.reimport_seconds:,.0f}", f"{100 * result.rows / result.reimport_seconds / copy_rate:.1f} %"],
        ["baseline: COPY of the same rows into a scratch table", f"{result.copy_seconds:.2f} s", f"{copy_rate:,.0f}",
         "100 %"],
    ]
    lines = [
        f"## CDR import, {result.rows:,} Asterisk rows — {when}",
        "",
        f"Command: `{command}`. Database `{PHONE_DATABASE}`; a generated Master.csv with a header row "
        f"({result.file_bytes / 1e6:.1f} MB; 20,000 callers, 85 % inbound, 75 % answered; see bench/phone.py), "
        f"time zone Asia/Shanghai, {result.chunk_size:,} rows per chunk, in process (what the Celery task runs).",
        "",
        f"Machine: {box['nproc']} CPUs ({box['cpu']}), {box['memory']}, Python {box['python']}, PostgreSQL "
        f"{pg.get('server_version', '?')} (fsync {pg.get('fsync', '?')}, synchronous_commit "
        f"{pg.get('synchronous_commit', '?')}). **The machine is shared with other sessions**: load average "
        + "; ".join(f"{when_}: {load}" for when_, load in result.loads.items()) + ".",
        "",
        report.markdown_table(["run", "time", "rows/s", "of the COPY rate"], rows),
        "",
        f"CPU time of the import (the wall clock above includes waiting for the CPU on a shared machine): "
        f"{result.import_cpu_seconds:.1f} s in the importing process (reader thread included) and "
        f"{result.import_server_cpu_seconds:.1f} s in its PostgreSQL backend, "
        f"{result.import_cpu_seconds + result.import_server_cpu_seconds:.1f} s in all "
        f"({1000 * (result.import_cpu_seconds + result.import_server_cpu_seconds) / result.rows:.2f} ms a row); "
        "the two overlap (the reader parses the next chunk while the server writes this one).",
        "",
        f"Target (issue 7): {ROWS:,} rows in under {TARGET_SECONDS:.0f} s — **{met}** "
        f"({result.import_seconds:.1f} s for {result.rows:,}).",
        "",
        f"What the import wrote: {result.imported:,} calls ({result.skipped:,} agent-to-agent rows skipped, "
        f"{result.errors} bad rows), {result.tickets:,} tickets ({result.callbacks:,} callback tickets with "
        f"{result.sla_timers:,} SLA timers), {result.customers:,} new customers, {result.events:,} audit events; "
        f"the second run found {result.duplicates:,} duplicates and wrote nothing.",
        "",
    ]
    return "\n".join(lines)
