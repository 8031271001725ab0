"""Writing plans with PostgreSQL COPY: a million tickets in minutes.

The rows are the ones the services would write for the same plan (tickets.demo.replay is the
reference; tests compare the two row by row): the same messages with the same sanitised HTML, the
same events in the same order, the same counters and timestamps on the ticket. Only the path
differs: plans are interpreted here into COPY text, in worker processes, a chunk per transaction.

Ids come from the tables' own sequences (`nextval` over generate_series, so concurrent writers
are safe) and ticket numbers from the ticket number sequence, in creation order. For large loads
the secondary indexes of the three tables are dropped first and rebuilt at the end (several times
faster than maintaining them row by row); their definitions are kept in a small state table until
they are rebuilt, so an interrupted load is repaired by the next one.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import connection, connections, models, transaction

from tickets.demo.base import Catalog
from tickets.demo.plan import (
    ASSIGN,
    CUSTOMER,
    NOTE,
    PRIORITY,
    REPLY,
    STATUS,
    TAG,
    TicketPlan,
    moment,
    plan_tickets,
)
from tickets.models import Event, Message, Ticket
from tickets.models.ticket import TICKET_NUMBER_SEQUENCE
from tickets.sanitize import text_to_html

NULL = "\\N"
STATE_TABLE = "demo_seed_state"
BULK_TABLES = (Ticket._meta.db_table, Message._meta.db_table, Event._meta.db_table)
# Statuses a customer message reopens (tickets.services.ticket_messages.REOPENING_STATUSES).
REOPENING = frozenset({"pending", "on_hold", "solved"})

TICKET_COLUMNS = (
    "id", "number", "subject", "status", "priority", "type", "channel", "requester_id", "organization_id", "team_id",
    "assignee_id", "tags", "custom_fields", "created_at", "updated_at", "first_responded_at", "solved_at",
    "closed_at", "reopen_count", "message_count", "last_customer_message_at", "last_agent_reply_at",
    "status_changed_at",
)
MESSAGE_COLUMNS = (
    "id", "ticket_id", "author_kind", "author_user_id", "author_customer_id", "visibility", "body_html",
    "body_text", "channel", "external_id", "delivery_state", "raw_source", "created_at",
)
# Event ids come from the column default: nothing refers to them, and COPY order keeps them in time order.
EVENT_COLUMNS = (
    "ticket_id", "kind", "actor_kind", "actor_user_id", "via", "field", "from_value", "to_value", "created_at",
)


def copy_escape(value: str) -> str:
    """A value in COPY's text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


@lru_cache(maxsize=200_000)
def _bodies(text: str) -> str:
    """body_html and body_text as the services store a plain-text message, COPY-escaped, tab-joined."""
    return f"{copy_escape(text_to_html(text))}\t{copy_escape(text)}"


_DAY = 86_400_000_000
_day_prefixes: dict[int, str] = {}


def _ts(epoch_microseconds: int) -> str:
    """moment(epoch_microseconds) as COPY text, with integer arithmetic only (exactly what moment() gives)."""
    day, rest = divmod(epoch_microseconds, _DAY)
    prefix = _day_prefixes.get(day)
    if prefix is None:
        prefix = _day_prefixes[day] = moment(day * _DAY).strftime("%Y-%m-%d ")
    seconds, micro = divmod(rest, 1_000_000)
    return f"{prefix}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{micro:06d}+00"


def _id(value: int | None) -> str:
    return NULL if value is None else str(value)


def _json(value: Any) -> str:
    return NULL if value is None else copy_escape(json.dumps(value))


def _array(values: list[str]) -> str:
    # Tags are normalised (lower case, no spaces); quote them anyway so any text is a valid array item.
    return copy_escape("{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}")


def _extra_columns(model: type[models.Model], known: tuple[str, ...]) -> tuple[str, str]:
    """Columns added to the model after this writer was written: (column list, values) from their defaults.

    Nullable columns and columns with a database default are left to the database.
    """
    names, values = [], []
    for model_field in model._meta.concrete_fields:
        if model_field.column in known or model_field.null or model_field.has_db_default():
            continue
        if not model_field.has_default():
            raise RuntimeError(f"seed_demo does not know how to fill {model._meta.db_table}.{model_field.column}")
        value = model_field.get_default()
        if isinstance(value, bool):
            text = "t" if value else "f"
        elif isinstance(value, dict) or (isinstance(value, list) and model_field.get_internal_type() == "JSONField"):
            text = _json(value)
        elif isinstance(value, list):
            text = _array(value)
        else:
            text = copy_escape(str(value))
        names.append(model_field.column)
        values.append(text)
    return "".join(f", {name}" for name in names), "".join(f"\t{value}" for value in values)


@dataclass
class ChunkResult:
    tickets: int
    messages: int
    events: int


class RowWriter:
    """Interprets plans into COPY lines for the ticket, message and event tables."""

    def __init__(self, *, ticket_ids: list[int], numbers: list[int], message_ids: list[int]) -> None:
        self.ticket_ids = iter(ticket_ids)
        self.numbers = iter(numbers)
        self.message_ids = iter(message_ids)
        self.tickets: list[str] = []
        self.messages: list[str] = []
        self.events: list[str] = []
        self.ticket_extra = _extra_columns(Ticket, TICKET_COLUMNS)[1]
        self.message_extra = _extra_columns(Message, ("id", *MESSAGE_COLUMNS))[1]
        self.event_extra = _extra_columns(Event, ("id", *EVENT_COLUMNS))[1]

    def write(self, plan: TicketPlan) -> None:
        ticket_id = next(self.ticket_ids)
        number = next(self.numbers)
        messages, events = self.messages, self.events
        tid = str(ticket_id)
        message_extra, event_extra = self.message_extra, self.event_extra

        def message(at: str, author_kind: str, author_user: int | None, author_customer: int | None, visibility: str,
                    text: str, channel: str, external_id: str) -> int:
            message_id = next(self.message_ids)
            messages.append(
                f"{message_id}\t{tid}\t{author_kind}\t{NULL if author_user is None else author_user}\t"
                f"{NULL if author_customer is None else author_customer}\t{visibility}\t"
                f"{_bodies(text)}\t{channel}\t{copy_escape(external_id)}\t\t\t{at}{message_extra}\n"
            )
            return message_id

        def event(at: str, kind: str, actor_kind: str, actor: int | None, via: str, field: str = "",
                  from_value: str = NULL, to_value: str = NULL) -> None:
            events.append(
                f"{tid}\t{kind}\t{actor_kind}\t{NULL if actor is None else actor}\t{via}\t{field}\t{from_value}\t{to_value}\t{at}{event_extra}\n"
            )

        # State as the services keep it on the ticket row.
        status = "open" if plan.assignee_id else "new"
        priority = plan.priority
        assignee = plan.assignee_id
        tags = list(plan.tags)
        first_responded = solved = closed = last_agent = status_changed = None
        reopen_count = 0
        created = _ts(plan.created_at)
        updated = last_customer = created
        message_count = 1

        def set_status(at: str, target: str, actor: int | None, actor_kind: str, via: str) -> None:
            # tickets.services.ticket_fields.apply_status
            nonlocal status, solved, closed, reopen_count, status_changed
            previous = status
            status = target
            status_changed = at
            if target == "solved":
                solved = at
            elif target == "closed":
                closed = at
            if previous == "solved" and target == "open":
                reopen_count += 1
                solved = None
            event(at, "status_changed", actor_kind, actor, via, "status", f'"{previous}"', f'"{target}"')
            if previous == "solved" and target == "open":
                event(at, "reopened", actor_kind, actor, via, to_value=f'{{"reopen_count": {reopen_count}}}')

        creator_kind = "agent" if plan.creator_id else "customer"
        creator = plan.creator_id or (plan.requester_user_id if plan.channel == "web" else None)
        message(created, "customer", None, plan.requester_id, "public", plan.body, plan.channel, plan.external_id)
        event(created, "created", creator_kind, creator, plan.channel,
              to_value=f'{{"status": "{status}", "priority": "{priority}", "team": {plan.team_id}, '
                       f'"channel": "{plan.channel}"}}')

        for op in plan.ops:
            kind = op[0]
            at = _ts(op[1])
            if kind == REPLY:
                agent, text, target = op[2], op[3], op[4]
                message_id = message(at, "agent", agent, None, "public", text, "web", "")
                event(at, "reply_added", "agent", agent, "web", to_value=f'{{"message": {message_id}}}')
                message_count += 1
                last_agent = at
                if first_responded is None:
                    first_responded = at
                target = target or ("open" if status == "new" else None)
                if target and target != status:
                    set_status(at, target, agent, "agent", "web")
                updated = at
            elif kind == CUSTOMER:
                text, external_id = op[2], op[3]
                user = plan.requester_user_id
                message_id = message(at, "customer", user, plan.requester_id, "public", text, plan.channel, external_id)
                event(at, "reply_added", "customer", user, plan.channel, to_value=f'{{"message": {message_id}}}')
                message_count += 1
                last_customer = at
                if status in REOPENING:
                    set_status(at, "open", user, "customer", plan.channel)
                updated = at
            elif kind == NOTE:
                agent, text = op[2], op[3]
                message_id = message(at, "agent", agent, None, "internal", text, "web", "")
                event(at, "note_added", "agent", agent, "web", to_value=f'{{"message": {message_id}}}')
                message_count += 1
                updated = at
            elif kind == ASSIGN:
                actor, new_assignee = op[2], op[3]
                if new_assignee == assignee:
                    continue
                event(at, "assignee_changed", "agent", actor, "web", "assignee", _id(assignee), str(new_assignee))
                assignee = new_assignee
                if status == "new":
                    set_status(at, "open", actor, "agent", "web")
                updated = at
            elif kind == STATUS:
                actor, target, via = op[2], op[3], op[4]
                if target == status:
                    continue
                # The requester marking their request solved in the portal is the customer.
                kind = "customer" if actor and actor == plan.requester_user_id else ("agent" if actor else "system")
                set_status(at, target, actor, kind, via)
                updated = at
            elif kind == PRIORITY:
                actor, new_priority = op[2], op[3]
                if new_priority == priority:
                    continue
                event(at, "priority_changed", "agent", actor, "web", "priority", f'"{priority}"', f'"{new_priority}"')
                priority = new_priority
                updated = at
            elif kind == TAG:
                actor, tag = op[2], op[3]
                if tag in tags:
                    continue
                new_tags = [*tags, tag]
                event(at, "tags_changed", "agent", actor, "web", "tags", _json(tags), _json(new_tags))
                tags = new_tags
                updated = at
            else:
                raise ValueError(f"unknown operation {kind!r}")

        self.tickets.append(
            f"{tid}\t{number}\t{copy_escape(plan.subject)}\t{status}\t{priority}\t{plan.ticket_type}\t{plan.channel}\t"
            f"{plan.requester_id}\t{_id(plan.organization_id)}\t{plan.team_id}\t{_id(assignee)}\t{_array(tags)}\t"
            f"{_json(plan.custom_fields)}\t{created}\t{updated}\t{first_responded or NULL}\t{solved or NULL}\t"
            f"{closed or NULL}\t{reopen_count}\t{message_count}\t{last_customer}\t{last_agent or NULL}\t"
            f"{status_changed or NULL}"
            f"{self.ticket_extra}\n"
        )


def _next_values(cursor: Any, sequence_sql: str, count: int) -> list[int]:
    if count == 0:
        return []
    cursor.execute(f"SELECT nextval({sequence_sql}) FROM generate_series(1, %s)", [count])  # noqa: S608
    return [row[0] for row in cursor.fetchall()]


def _serial(table: str) -> str:
    return f"pg_get_serial_sequence('{table}', 'id')"


def reserve_numbers(count: int) -> list[int]:
    """`count` ticket numbers from the ticket number sequence, ascending."""
    with connection.cursor() as cursor:
        return _next_values(cursor, f"'{TICKET_NUMBER_SEQUENCE}'", count)


def _copy(cursor: Any, table: str, columns: str, lines: list[str]) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for start in range(0, len(lines), 20_000):
            copy.write("".join(lines[start : start + 20_000]).encode())


def load_plans(plans: list[TicketPlan], numbers: list[int], *, skip_constraint_checks: bool) -> ChunkResult:
    """Write planned tickets in one transaction with COPY."""
    message_count = sum(1 + sum(1 for op in plan.ops if op[0] in (REPLY, CUSTOMER, NOTE)) for plan in plans)
    with connection.cursor() as cursor:
        ticket_ids = _next_values(cursor, _serial(Ticket._meta.db_table), len(plans))
        message_ids = _next_values(cursor, _serial(Message._meta.db_table), message_count)
    writer = RowWriter(ticket_ids=ticket_ids, numbers=numbers, message_ids=message_ids)
    for plan in plans:
        writer.write(plan)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        if skip_constraint_checks:
            # The rows are consistent by construction; skipping the per-row foreign key triggers
            # (superusers only) roughly halves the load time.
            cursor.execute("SET LOCAL session_replication_role = replica")
        _copy(cursor, Ticket._meta.db_table, ", ".join(TICKET_COLUMNS) + _extra_columns(Ticket, TICKET_COLUMNS)[0],
              writer.tickets)
        _copy(cursor, Message._meta.db_table,
              ", ".join(MESSAGE_COLUMNS) + _extra_columns(Message, ("id", *MESSAGE_COLUMNS))[0], writer.messages)
        _copy(cursor, Event._meta.db_table, ", ".join(EVENT_COLUMNS) + _extra_columns(Event, ("id", *EVENT_COLUMNS))[0],
              writer.events)
    return ChunkResult(len(writer.tickets), len(writer.messages), len(writer.events))


# --- parallel loading -------------------------------------------------------------------------------

_worker_state: dict[str, Any] = {}


def _worker_init(catalog: Catalog, total: int, seed: int, skip_constraint_checks: bool) -> None:
    # The parent closed its connections before forking; each child opens its own.
    connections.close_all()
    _worker_state.update(catalog=catalog, total=total, seed=seed, skip=skip_constraint_checks)


def _worker_chunk(args: tuple[int, int, list[int]]) -> ChunkResult:
    start, count, numbers = args
    state = _worker_state
    plans = plan_tickets(state["catalog"], start=start, count=count, total=state["total"], seed=state["seed"])
    return load_plans(plans, numbers, skip_constraint_checks=state["skip"])


def is_superuser() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


def _state_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (key text PRIMARY KEY, value jsonb NOT NULL)")


def _build_indexes(definitions: list[tuple[str, str]], *, parallel_workers: int, analyze: list[str],
                   progress: Callable[[str], None]) -> None:
    """Create the missing ones of `definitions`, then ANALYZE `analyze`; run in its own thread and connection."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute("SET max_parallel_maintenance_workers = %s", [parallel_workers])
            for name, definition in definitions:
                started = time.monotonic()
                cursor.execute("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s",
                               [name])
                if cursor.fetchone() is None:
                    cursor.execute(definition)
                    progress(f"  index {name}: {time.monotonic() - started:.1f} s")
            for table in analyze:
                cursor.execute(f"ANALYZE {table}")
    finally:
        connection.close()


def restore_dropped_indexes(progress: Callable[[str], None] = lambda _m: None) -> int:
    """Rebuild indexes a previous bulk load dropped (also after an interrupted load), then ANALYZE.

    Two connections work at once: one on the message table (its trigram index is most of the work,
    built with parallel workers), one on the others. Returns how many indexes were listed.
    """
    _state_table()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {STATE_TABLE} WHERE key = 'dropped_indexes'")  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return 0
    definitions = row[0] if isinstance(row[0], list) else json.loads(row[0])
    on_messages = [(name, sql) for name, sql, table in definitions if table == Message._meta.db_table]
    others = [(name, sql) for name, sql, table in definitions if table != Message._meta.db_table]
    lanes = [
        threading.Thread(target=_build_indexes, args=(on_messages,), kwargs={
            "parallel_workers": 2, "analyze": [Message._meta.db_table], "progress": progress}),
        threading.Thread(target=_build_indexes, args=(others,), kwargs={
            "parallel_workers": 0, "analyze": [Ticket._meta.db_table, Event._meta.db_table], "progress": progress}),
    ]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ANY(%s)",
                       [[definition[0] for definition in definitions]])
        if cursor.fetchone()[0] != len(definitions):
            raise RuntimeError("Some indexes dropped for the bulk load could not be rebuilt; run seed_demo again.")
        cursor.execute(f"DELETE FROM {STATE_TABLE} WHERE key = 'dropped_indexes'")  # noqa: S608
    return len(definitions)


def drop_secondary_indexes() -> list[tuple[str, str, str]]:
    """Drop the non-unique indexes of the ticket, message and event tables, remembering their definitions."""
    _state_table()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname, pg_get_indexdef(i.oid), t.relname
              FROM pg_index x
              JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_class t ON t.oid = x.indrelid
             WHERE t.relname = ANY(%s) AND t.relnamespace = current_schema()::regnamespace
               AND NOT x.indisunique AND NOT x.indisprimary
             ORDER BY t.relname, i.relname
            """,
            [list(BULK_TABLES)],
        )
        definitions = [(name, definition, table) for name, definition, table in cursor.fetchall()]
        cursor.execute(
            f"INSERT INTO {STATE_TABLE} (key, value) VALUES ('dropped_indexes', %s) "  # noqa: S608
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [json.dumps(definitions)],
        )
        for name, _definition, _table in definitions:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    return definitions


def bulk_load(
    catalog: Catalog, *, total: int, seed: int = 0, workers: int | None = None, chunk_size: int = 10_000,
    drop_indexes: bool | None = None, progress: Callable[[str], None] = lambda _m: None,
) -> ChunkResult:
    """Create `total` planned tickets with COPY from `workers` processes; returns the row counts."""
    workers = workers or max(1, min(os.cpu_count() or 1, 4))
    if drop_indexes is None:
        drop_indexes = total >= 100_000
    restore_dropped_indexes(progress)
    skip_checks = is_superuser()
    numbers = reserve_numbers(total)
    chunks = [(start, min(chunk_size, total - start), numbers[start : start + chunk_size])
              for start in range(0, total, chunk_size)]
    if drop_indexes:
        dropped = drop_secondary_indexes()
        progress(f"Dropped {len(dropped)} secondary indexes for the load; they are rebuilt at the end.")
    result = ChunkResult(0, 0, 0)
    started = time.monotonic()

    def tally(part: ChunkResult) -> None:
        result.tickets += part.tickets
        result.messages += part.messages
        result.events += part.events
        if result.tickets % max(chunk_size * 10, total // 10 or 1) < chunk_size or result.tickets == total:
            progress(f"  {result.tickets:,} tickets, {result.messages:,} messages, {result.events:,} events "
                     f"({time.monotonic() - started:.0f} s)")

    if workers == 1 or len(chunks) == 1:
        for start, count, chunk_numbers in chunks:
            plans = plan_tickets(catalog, start=start, count=count, total=total, seed=seed)
            tally(load_plans(plans, chunk_numbers, skip_constraint_checks=skip_checks))
    else:
        connections.close_all()
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_worker_init, initargs=(catalog, total, seed, skip_checks)) as pool:
            for part in pool.imap_unordered(_worker_chunk, chunks):
                tally(part)
    if drop_indexes:
        progress("Rebuilding indexes and analyzing.")
        restore_dropped_indexes(progress)
    else:
        with connection.cursor() as cursor:
            for table in BULK_TABLES:
                cursor.execute(f"ANALYZE {table}")
    return result
