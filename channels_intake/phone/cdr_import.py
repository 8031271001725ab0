"""Importing call-detail records in bulk: a stored `CdrImport` file becomes calls, customers and tickets.

What each record becomes (the same outcome as a finished call reported by a webhook,
`channels_intake.phone.services.call_record_completed`, with one deliberate difference):

* an **answered** call (either direction) → a new phone ticket (channel `phone`) whose first
  message is the call entry, **solved** at once and assigned to the agent whose extension took the
  call (when they are a member of the ticket's team). Unlike a live call, whose ticket stays open
  for the agent's notes, an imported call is history: the conversation is over, and thousands of
  open tickets from last month would bury the queue. Its requester can reopen it like any ticket.
* a **NO ANSWER / BUSY / FAILED inbound** call → a callback ticket (status new, tag `callback`,
  subject "Call back …") in the team's queue, with SLA timers like any new ticket.
* an unanswered outbound call (nobody picked up where an agent called) → only the call record.
* a call between two extensions → skipped (not a customer call).
* a call whose outside number is not a phone number (withheld, "anonymous") → only the call record:
  there is nobody to match or call back.

Callers are matched to customers by any of their E.164 numbers; unknown numbers create a customer
(named by the caller id, else the number), as `customer_for_number` does one at a time.

Idempotent on (provider, uniqueid): a record already imported, or repeated within the file, is
counted as a duplicate and adds nothing, so a file can be imported again, or an interrupted import
simply run again. The team is the import's (`team`), else the agent's first team, else the phone
team setting, else the default team (`phone_team`).

Speed (100,000 rows is the target of a minute): records are taken in chunks
(HELPDESK_PHONE_CDR_CHUNK_SIZE, one transaction each, progress written to the CdrImport row in it);
a reader thread parses the next chunk while PostgreSQL writes this one; each table gets one binary
COPY per chunk, with primary keys and ticket numbers taken from their sequences first so rows can
point at each other, instead of the per-ticket `ingest` path. The tickets are complete all the
same: number, requester and organization, team, channel, status, message count, the `created`
audit event (actor: who started the import, via `cdr_import`), SLA timers and their `sla_started`
events for callback tickets (computed by the SLA module's own scheduling; `sla_timers_sync`
afterwards changes nothing, which the tests check), and a realtime notice to the queues that got
callback tickets. Agents are not mailed about imported tickets (the events are written without the
notification hook: a solved call of last month assigned to its agent is nothing to act on).
"""

from __future__ import annotations

import logging
import operator
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels_intake.phone.cdr import (
    INBOUND,
    INTERNAL,
    OUTBOUND,
    CallRecord,
    CdrFormatError,
    CdrOptions,
    RowError,
    cdr_rows,
    count_rows,
)
from channels_intake.phone.models import (
    AgentExtension,
    Call,
    CallProvider,
    CallState,
    CdrFormat,
    CdrImport,
    CdrImportState,
)
from channels_intake.phone.numbers import default_region, format_number
from channels_intake.phone.services import CALLBACK_TAG, phone_team
from helpdesk import realtime
from tickets.models import (
    ActorKind,
    AuthorKind,
    Channel,
    Customer,
    Event,
    Message,
    Metric,
    Priority,
    SlaPolicy,
    SlaTimer,
    Status,
    Team,
    TeamMembership,
    Ticket,
    TicketType,
    TimerState,
    User,
    Visibility,
)
from tickets.models.ticket import TICKET_NUMBER_SEQUENCE
from tickets.sanitize import text_to_html
from tickets.services.common import ticket_summary

logger = logging.getLogger(__name__)

VIA = "cdr_import"
# Errors kept on the CdrImport row (the page and the command list them); the rest are only counted.
MAX_STORED_ERRORS = 1000
# Up to this many customers with phone numbers, an import reads all their numbers once at the start.
PRELOAD_CUSTOMER_NUMBERS = 200_000
PROVIDER_OF_FORMAT: dict[str, str] = {CdrFormat.ASTERISK: CallProvider.ASTERISK, CdrFormat.CSV: CallProvider.CSV}


@dataclass
class ImportSummary:
    total_rows: int = 0
    processed_rows: int = 0
    imported_rows: int = 0
    duplicate_rows: int = 0
    skipped_rows: int = 0
    error_rows: int = 0
    tickets_created: int = 0
    callback_tickets: int = 0
    customers_created: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add_error(self, error: RowError) -> None:
        self.error_rows += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append(error.as_dict())


@dataclass
class _Context:
    """What an import learns once and reuses in every chunk."""

    cdr_import: CdrImport
    provider: str
    actor: User | None
    team: Team | None
    fallback_team: Team | None
    now: datetime
    summary: ImportSummary
    agents: dict[str, User]
    agent_first_team: dict[int, int]
    team_members: set[tuple[int, int]]
    seen_call_ids: set[str] = field(default_factory=set)
    numbers: dict[str, str] = field(default_factory=dict)
    formatted_numbers: dict[str, str] = field(default_factory=dict)
    # E.164 number → (customer id, organization id, tier)
    customers: dict[str, tuple[int, int | None, str]] = field(default_factory=dict)
    # customer id → tier (SLA policies may depend on it)
    customer_tiers: dict[int, str] = field(default_factory=dict)
    # Every customer's numbers were read at the start (there were few enough): no look-ups per chunk.
    all_numbers_loaded: bool = False
    policies: dict[tuple[int | None, int | None, str], SlaPolicy | None] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)

    def e164(self, raw: str) -> str:
        """normalize_number(raw), worked out once per number of the file (parsing is the slow part)."""
        found = self.numbers.get(raw)
        if found is None:
            found, readable = number_forms(raw)
            self.numbers[raw] = found
            if found:
                self.formatted_numbers[found] = readable
        return found

    def formatted(self, e164: str) -> str:
        """format_number(e164), from the same parse."""
        found = self.formatted_numbers.get(e164)
        if found is None:
            found = self.formatted_numbers[e164] = format_number(e164)
        return found


def number_forms(raw: str) -> tuple[str, str]:
    """(normalize_number(raw), format_number of it) from one parse of the number; ("", "") when it
    is not a phone number. The same rules as channels_intake.phone.numbers, which a test holds it to."""
    text = (raw or "").strip()
    if not text:
        return "", ""
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, default_region())
    except phonenumbers.NumberParseException:
        return "", ""
    if not phonenumbers.is_possible_number(parsed):
        return "", ""
    return (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


# --- entry points -----------------------------------------------------------------------------------


def cdr_import_create(
    *, upload: Any, format: str, actor: User | None, timezone_name: str = "", column_mapping: dict[str, Any] | None = None,
    has_header: bool | None = None,
) -> CdrImport:
    """Store an uploaded CDR file as a queued import (the caller runs it or queues its task)."""
    if format not in CdrFormat.values:
        raise CdrFormatError(_("Unknown format “%(format)s”.") % {"format": format})
    cdr_import = CdrImport(
        format=format, column_mapping=column_mapping or {}, timezone=timezone_name.strip(), has_header=has_header,
        created_by=actor, state=CdrImportState.QUEUED,
    )
    cdr_import.file.save(getattr(upload, "name", "calls.csv") or "calls.csv", upload, save=False)
    cdr_import.save()
    return cdr_import


def cdr_import_queue(*, cdr_import: CdrImport, team: Team | None = None) -> None:
    """Run the import in a worker once the row is committed."""
    from channels_intake.phone.tasks import run_cdr_import

    team_id = team.pk if team is not None else None
    transaction.on_commit(lambda: run_cdr_import.delay(cdr_import.pk, team_id), robust=True)


def cdr_import_run(*, cdr_import_id: int, team: Team | None = None, chunk_size: int | None = None) -> ImportSummary:
    """Import every record of a stored file, chunk by chunk, recording progress on the row.

    A finished import is left alone (the task may be delivered twice); a failed or interrupted one
    runs again from the start, and what it had imported counts as duplicates then. A file that
    cannot be read at all (unknown time zone, a mapping naming missing columns) fails the import
    with that reason; bad rows are reported and the others imported.
    """
    cdr_import = CdrImport.objects.select_related("created_by").get(pk=cdr_import_id)
    summary = ImportSummary()
    if cdr_import.state == CdrImportState.DONE:
        return _summary_of(cdr_import)
    chunk_size = chunk_size or settings.HELPDESK_PHONE_CDR_CHUNK_SIZE
    options = CdrOptions(
        format=cdr_import.format, timezone=cdr_import.timezone, has_header=cdr_import.has_header,
        column_mapping=cdr_import.column_mapping or {},
    )
    try:
        with cdr_import.file.open("rb") as stream:
            summary.total_rows = count_rows(stream)
        CdrImport.objects.filter(pk=cdr_import.pk).update(
            state=CdrImportState.RUNNING, total_rows=summary.total_rows, processed_rows=0, imported_rows=0,
            duplicate_rows=0, errors=[], finished_at=None,
        )
        context = _context(cdr_import, team=team, summary=summary)
        with cdr_import.file.open("rb") as stream:
            for chunk in _read_ahead(stream, options=options, chunk_size=chunk_size, context=context):
                _import_chunk(context, chunk)
    except CdrFormatError as error:
        summary.add_error(RowError(0, str(error)))
        CdrImport.objects.filter(pk=cdr_import.pk).update(
            state=CdrImportState.FAILED, errors=summary.errors, finished_at=timezone.now()
        )
        return summary
    except Exception:
        logger.exception("CDR import %s failed", cdr_import.pk)
        CdrImport.objects.filter(pk=cdr_import.pk).update(
            state=CdrImportState.FAILED,
            errors=[*summary.errors, RowError(0, _("The import stopped on an internal error; "
                                                   "run it again (imported rows are kept).")).as_dict()],
            finished_at=timezone.now(),
        )
        raise
    # A header row is not a call: the total is what was read.
    CdrImport.objects.filter(pk=cdr_import.pk).update(
        state=CdrImportState.DONE, total_rows=summary.processed_rows, finished_at=timezone.now()
    )
    summary.total_rows = summary.processed_rows
    return summary


def _summary_of(cdr_import: CdrImport) -> ImportSummary:
    return ImportSummary(
        total_rows=cdr_import.total_rows, processed_rows=cdr_import.processed_rows,
        imported_rows=cdr_import.imported_rows, duplicate_rows=cdr_import.duplicate_rows,
        error_rows=len(cdr_import.errors or []), errors=list(cdr_import.errors or []),
    )


def _chunks(rows: Iterable[CallRecord | RowError], size: int) -> Iterator[list[CallRecord | RowError]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


_END = object()


def _read_ahead(
    stream: Any, *, options: CdrOptions, chunk_size: int, context: _Context
) -> Iterator[list[CallRecord | RowError]]:
    """The file's rows in chunks, read (parsed, numbers normalised) by a thread one chunk ahead.

    Half of an import's time is spent waiting for PostgreSQL (COPY, the foreign-key checks at
    commit); the reader parses the next chunk meanwhile. It touches no database, so the import's
    transaction (and a test's) stays the one connection of this thread; errors are re-raised here.
    """
    chunks: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    language = translation.get_language()

    def read() -> None:
        try:
            with translation.override(language):
                for chunk in _chunks(cdr_rows(stream, options=options), chunk_size):
                    for row in chunk:
                        if isinstance(row, CallRecord) and row.direction != INTERNAL:
                            context.e164(row.from_raw)
                            context.e164(row.to_raw)
                    while not stop.is_set():
                        try:
                            chunks.put(chunk, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
            chunks.put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the importing thread
            chunks.put(error)

    reader = threading.Thread(target=read, name="cdr-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = chunks.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)


def _context(cdr_import: CdrImport, *, team: Team | None, summary: ImportSummary) -> _Context:
    agents = {
        extension.extension: extension.user
        for extension in AgentExtension.objects.select_related("user").filter(user__is_active=True)
        if extension.user.is_staff_member
    }
    memberships = list(
        TeamMembership.objects.filter(user_id__in=[user.pk for user in agents.values()])
        .order_by("team_id").values_list("user_id", "team_id")
    )
    agent_first_team: dict[int, int] = {}
    for user_id, team_id in memberships:
        agent_first_team.setdefault(user_id, team_id)
    context = _Context(
        cdr_import=cdr_import, provider=PROVIDER_OF_FORMAT.get(cdr_import.format, CallProvider.CSV),
        actor=cdr_import.created_by, team=team, fallback_team=phone_team(), now=timezone.now(), summary=summary,
        agents=agents, agent_first_team=agent_first_team,
        team_members={(team_id, user_id) for user_id, team_id in memberships},
    )
    # One read of every customer's numbers beats a look-up of 2,000 numbers per chunk (the numbers'
    # GIN index answers those slowly while the import's own new customers fill its pending list).
    # A customer another process creates meanwhile for a new caller may so get a twin, which agents
    # can merge; with very many numbers stored, each chunk looks its numbers up instead.
    with_numbers = Customer.objects.exclude(phone_numbers=[])
    if with_numbers.count() <= PRELOAD_CUSTOMER_NUMBERS:
        _remember_customers(context, with_numbers)
        context.all_numbers_loaded = True
    return context


# --- one chunk --------------------------------------------------------------------------------------


def _import_chunk(context: _Context, chunk: list[CallRecord | RowError]) -> None:
    summary = context.summary
    records: list[CallRecord] = []
    for row in chunk:
        summary.processed_rows += 1
        if isinstance(row, RowError):
            summary.add_error(row)
        elif row.direction == INTERNAL:
            summary.skipped_rows += 1
        elif row.call_id in context.seen_call_ids:
            summary.duplicate_rows += 1
        else:
            context.seen_call_ids.add(row.call_id)
            records.append(row)
    with transaction.atomic():
        if records:
            # Imports of one provider take turns per chunk, so "already imported?" below stays true
            # until this chunk commits.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"cdr_import:{context.provider}"])
                # The chunk's commit need not wait for its WAL to reach the disk: a crash can lose
                # at most the last chunks, and running the import again adds exactly those.
                cursor.execute("SET LOCAL synchronous_commit TO off")
            existing = set(
                Call.objects.filter(provider=context.provider, call_id__in=[record.call_id for record in records])
                .values_list("call_id", flat=True)
            )
            summary.duplicate_rows += len(existing)
            records = [record for record in records if record.call_id not in existing]
        if records:
            _write_calls(context, records)
            summary.imported_rows += len(records)
        CdrImport.objects.filter(pk=context.cdr_import.pk).update(
            processed_rows=summary.processed_rows, imported_rows=summary.imported_rows,
            duplicate_rows=summary.duplicate_rows, errors=summary.errors,
        )


# --- writing rows -----------------------------------------------------------------------------------


def _next_ids(cursor: Any, model: type[Any], count: int, *extra_sequences: str) -> list[tuple[int, ...]]:
    """`count` new primary keys of `model` (and values of further sequences), taken from the
    sequences up front so that the rows can be COPYed with their keys and reference each other."""
    table = model._meta.db_table
    columns = ", ".join(
        [f"nextval(pg_get_serial_sequence('{table}', 'id'))", *(f"nextval('{name}')" for name in extra_sequences)]
    )
    cursor.execute(f"SELECT {columns} FROM generate_series(1, %s)", [count])  # noqa: S608 - our names
    return cursor.fetchall()


_COLUMN_TYPES: dict[str, dict[str, int]] = {}


def _column_types(cursor: Any, table: str) -> dict[str, int]:
    """The table's column name → type oid (binary COPY sends each value in its column's type)."""
    if table not in _COLUMN_TYPES:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped", [table],
        )
        _COLUMN_TYPES[table] = dict(cursor.fetchall())
    return _COLUMN_TYPES[table]


def _copy_rows(cursor: Any, model: type[Any], rows: list[dict[str, Any]], *, now: datetime) -> None:
    """COPY `rows` (attname → value, the same keys in each) into the model's table. Every other
    column gets what `Model.objects.create` would give it: the field's default, `now` for auto_now
    fields, and the database's own default for the primary key and db_default columns.

    Binary COPY with the columns' types: no per-value type guessing on our side, no text parsing on
    the server's (JSON values go as they are; None is NULL, as the ORM saves it).
    """
    if not rows:
        return
    given = rows[0].keys()
    fields = []
    constants: dict[str, Any] = {}
    for model_field in model._meta.concrete_fields:
        name = model_field.attname
        if name not in given:
            if model_field.primary_key or model_field.has_db_default():
                continue
            if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
                constants[name] = now
            else:
                constants[name] = model_field.get_default()
        fields.append(model_field)
    table = model._meta.db_table
    types = _column_types(cursor, table)
    columns = ", ".join(connection.ops.quote_name(model_field.column) for model_field in fields)
    values_of = operator.itemgetter(*[model_field.attname for model_field in fields])
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:  # noqa: S608 - our names
        copy.set_types([types[model_field.column] for model_field in fields])
        for row in rows:
            copy.write_row(values_of(row | constants))  # disjoint keys: the row's and the defaults'


def _remember_customers(context: _Context, customers: Any, *, only: set[str] | None = None) -> None:
    """Put these customers' numbers into context.customers, the earliest customer for a number
    shared by several (as `customer_by_number` picks)."""
    for pk, numbers, organization_id, tier in (
        customers.order_by("-pk").values_list("pk", "phone_numbers", "organization_id", "tier").iterator(chunk_size=5000)
    ):
        # Descending, so the earliest customer with a number is the one left in the map.
        for number in numbers:
            if only is None or number in only:
                context.customers[number] = (pk, organization_id, tier)
        context.customer_tiers[pk] = tier


def _customers_for(context: _Context, cursor: Any, wanted: dict[str, str], *, now: datetime) -> None:
    """Fill context.customers for these numbers (E.164 → a caller name for new ones): the customer
    who has the number (the earliest, as `customer_by_number`), else a new one."""
    missing = [number for number in wanted if number not in context.customers]
    if not missing:
        return
    if not context.all_numbers_loaded:
        _remember_customers(context, Customer.objects.filter(phone_numbers__overlap=missing), only=set(missing))
    new = [number for number in missing if number not in context.customers]
    if not new:
        return
    ids = _next_ids(cursor, Customer, len(new))
    rows: list[dict[str, Any]] = [
        {"id": pk, "name": (wanted[number] or context.formatted(number))[:200], "phone_numbers": [number]}
        for (pk,), number in zip(ids, new, strict=True)
    ]
    _copy_rows(cursor, Customer, rows, now=now)
    tier = Customer._meta.get_field("tier").get_default()
    for row in rows:
        context.customers[row["phone_numbers"][0]] = (row["id"], None, tier)
        context.customer_tiers[row["id"]] = tier
    context.summary.customers_created += len(new)


def _team_for(context: _Context, agent: User | None) -> Team | None:
    if context.team is not None:
        return context.team
    if agent is not None and agent.pk in context.agent_first_team:
        team_id = context.agent_first_team[agent.pk]
        if team_id not in context.teams:
            context.teams[team_id] = Team.objects.get(pk=team_id)
        return context.teams[team_id]
    return context.fallback_team


@dataclass(frozen=True)
class CallTexts:
    """The translated wording of call tickets, looked up once per chunk rather than per call (the
    same msgids as channels_intake.phone.services' live calls, which a test holds it to)."""

    call_back: str
    call_to: str
    call_from: str
    missed: str
    outbound: str
    inbound: str
    duration: str
    minutes_seconds: str
    seconds: str

    @classmethod
    def current(cls) -> CallTexts:
        return cls(
            call_back=_("Call back %(number)s"), call_to=_("Call to %(number)s"), call_from=_("Call from %(number)s"),
            missed=_("Missed call from %(number)s"), outbound=_("Outbound call to %(number)s"),
            inbound=_("Inbound call from %(number)s"), duration=_("Duration: %(duration)s"),
            minutes_seconds=_("%(minutes)d min %(seconds)d s"), seconds=_("%(seconds)d s"),
        )

    def subject(self, *, direction: str, number_text: str, is_callback: bool) -> str:
        template = self.call_back if is_callback else self.call_to if direction == OUTBOUND else self.call_from
        return template % {"number": number_text}

    def entry(self, *, state: str, direction: str, number_text: str, duration_seconds: int | None) -> str:
        """`call_summary` of an imported call (no recording, transcript or notes)."""
        if state == CallState.MISSED:
            lines = [self.missed % {"number": number_text}]
        elif direction == OUTBOUND:
            lines = [self.outbound % {"number": number_text}]
        else:
            lines = [self.inbound % {"number": number_text}]
        if duration_seconds:
            minutes, rest = divmod(int(duration_seconds), 60)
            duration = (self.minutes_seconds % {"minutes": minutes, "seconds": rest} if minutes
                        else self.seconds % {"seconds": rest})
            lines.append(self.duration % {"duration": duration})
        return "\n".join(lines)


def _write_calls(context: _Context, records: list[CallRecord]) -> None:
    now = timezone.now()
    texts = CallTexts.current()
    cursor = connection.connection.cursor()
    wanted: dict[str, str] = {}
    for record in records:
        number = context.e164(record.customer_raw)
        if number and not wanted.get(number):
            wanted[number] = record.caller_name
    _customers_for(context, cursor, wanted, now=now)

    calls: list[dict[str, Any]] = []
    tickets: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    callbacks: list[Ticket] = []
    with_ticket = sum(
        1 for record in records
        if (record.is_answered or record.direction == INBOUND) and context.customers.get(context.e164(record.customer_raw))
    )
    ticket_ids = iter(_next_ids(cursor, Ticket, with_ticket, TICKET_NUMBER_SEQUENCE) if with_ticket else [])
    message_ids = iter(_next_ids(cursor, Message, with_ticket) if with_ticket else [])
    for record in records:
        agent = context.agents.get(record.agent_extension) if record.agent_extension else None
        team = _team_for(context, agent)
        team_id = team.pk if team is not None else None
        direction = OUTBOUND if record.direction == OUTBOUND else INBOUND
        state = CallState.ENDED if record.is_answered else CallState.MISSED
        customer_number = context.e164(record.customer_raw)
        customer = context.customers.get(customer_number) if customer_number else None
        call = {
            "provider": context.provider, "call_id": record.call_id, "direction": direction,
            "from_raw": record.from_raw, "to_raw": record.to_raw, "from_number": context.e164(record.from_raw),
            "to_number": context.e164(record.to_raw), "customer_id": customer[0] if customer else None,
            "agent_id": agent.pk if agent is not None else None, "team_id": team_id, "state": state,
            "started_at": record.started_at, "answered_at": record.answered_at, "ended_at": record.ended_at,
            "duration_seconds": record.duration_seconds, "ticket_id": None, "message_id": None,
        }
        calls.append(call)
        is_callback = not record.is_answered and direction == INBOUND
        if customer is None or not (record.is_answered or is_callback):
            continue
        customer_id, organization_id, _tier = customer
        ticket_id, ticket_number = next(ticket_ids)
        (message_id,) = next(message_ids)
        call["ticket_id"], call["message_id"] = ticket_id, message_id
        assignee_id = agent.pk if record.is_answered and agent is not None and team_id is not None \
            and (team_id, agent.pk) in context.team_members else None
        number_text = context.formatted(customer_number)
        ticket: dict[str, Any] = {
            "id": ticket_id, "number": ticket_number, "channel": Channel.PHONE,
            "subject": texts.subject(direction=direction, number_text=number_text, is_callback=is_callback)[:255],
            "status": Status.NEW if is_callback else Status.SOLVED, "priority": Priority.NORMAL,
            "type": TicketType.QUESTION, "requester_id": customer_id, "organization_id": organization_id,
            "team_id": team_id, "assignee_id": assignee_id, "tags": [CALLBACK_TAG] if is_callback else [],
            "message_count": 1, "last_customer_message_at": now, "solved_at": None if is_callback else now,
            "sla_due_at": None,
        }
        tickets.append(ticket)
        text = texts.entry(state=state, direction=direction, number_text=number_text,
                           duration_seconds=record.duration_seconds)
        messages.append({
            "id": message_id, "ticket_id": ticket_id, "author_kind": AuthorKind.CUSTOMER,
            "author_customer_id": customer_id, "visibility": Visibility.PUBLIC, "body_html": text_to_html(text),
            "body_text": text, "channel": Channel.PHONE,
            "external_id": f"call:{context.provider}:{record.call_id}"[:512],
        })
        if is_callback:
            callbacks.append(Ticket(
                pk=ticket_id, number=ticket_number, status=Status.NEW, priority=Priority.NORMAL, type=TicketType.QUESTION,
                channel=Channel.PHONE, tags=[CALLBACK_TAG], team_id=team_id, organization_id=organization_id,
                requester_id=customer_id, created_at=now, updated_at=now,
            ))

    events = [
        {"ticket_id": ticket["id"], "kind": "created", "actor_kind": ActorKind.SYSTEM,
         "actor_user_id": context.actor.pk if context.actor is not None else None, "via": VIA, "field": "",
         "from_value": None, "to_value": {"status": ticket["status"], "priority": ticket["priority"],
                                          "team": ticket["team_id"], "channel": ticket["channel"]}}
        for ticket in tickets
    ]
    timers: list[dict[str, Any]] = []
    if callbacks and settings.HELPDESK_SLA_TIMERS:
        due_by_ticket = _sla_timers(context, callbacks, timers, events, now=now)
        for ticket in tickets:
            ticket["sla_due_at"] = due_by_ticket.get(ticket["id"])
    _copy_rows(cursor, Ticket, tickets, now=now)
    _copy_rows(cursor, Message, messages, now=now)
    _copy_rows(cursor, Call, calls, now=now)
    _copy_rows(cursor, Event, events, now=now)
    _copy_rows(cursor, SlaTimer, timers, now=now)
    context.summary.tickets_created += len(tickets)
    context.summary.callback_tickets += len(callbacks)
    _announce(callbacks)


# --- SLA timers of new callback tickets ---------------------------------------------------------


def _sla_timers(
    context: _Context, tickets: list[Ticket], timers: list[dict[str, Any]], events: list[dict[str, Any]], *,
    now: datetime,
) -> dict[int, datetime]:
    """What `sla_timers_sync(reason="created")` does for a brand-new ticket, for many at once: the
    first-response and resolution timers of the policy that applies (running from the ticket's
    creation; a new ticket is never in a pause status) and their `sla_started` events, appended to
    `timers` and `events`; returns each ticket's nearest due time (Ticket.sla_due_at). The due
    times come from the SLA module's own scheduling."""
    from tickets.sla.services import VIA as SLA_VIA
    from tickets.sla.services import _Sync, policy_for

    due_by_ticket: dict[int, datetime] = {}
    syncs: dict[int, _Sync] = {}
    for ticket in tickets:
        tier = context.customer_tiers.get(ticket.requester_id, Customer.Tier.STANDARD)
        key = (ticket.team_id, ticket.organization_id, tier)
        if key not in context.policies:
            probe = Ticket(
                priority=ticket.priority, channel=ticket.channel, type=ticket.type, tags=ticket.tags,
                team_id=ticket.team_id, organization_id=ticket.organization_id, requester=Customer(tier=tier),
            )
            context.policies[key] = policy_for(ticket=probe)
        policy = context.policies[key]
        if policy is None:
            continue
        # One per policy and chunk: its business calendar is built once, not per ticket.
        sync = syncs.get(policy.pk)
        if sync is None:
            sync = syncs[policy.pk] = _Sync(ticket=ticket, now=now, reason="created", policy=policy, changed={})
        sync.ticket = ticket
        for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
            target = sync.target(metric)
            if target is None:
                continue
            timer = SlaTimer(
                ticket_id=ticket.pk, metric=metric, policy=policy, target_minutes=target,
                is_business_hours=policy.is_business_hours(metric), started_at=ticket.created_at,
                state=TimerState.RUNNING,
            )
            sync.schedule(timer)
            timers.append({
                "ticket_id": ticket.pk, "metric": metric, "policy_id": policy.pk, "target_minutes": target,
                "is_business_hours": timer.is_business_hours, "state": TimerState.RUNNING, "is_current": True,
                "started_at": timer.started_at, "paused_seconds": 0, "due_at": timer.due_at,
                "warning_at": timer.warning_at,
            })
            events.append({
                "ticket_id": ticket.pk, "kind": "sla_started", "actor_kind": ActorKind.SLA, "actor_user_id": None,
                "via": SLA_VIA, "field": metric, "from_value": None, "to_value": {
                    "metric": metric, "policy": policy.name, "target_minutes": target,
                    "due_at": timer.due_at.isoformat(), "reason": "created",
                },
            })
            due = due_by_ticket.get(ticket.pk)
            due_by_ticket[ticket.pk] = timer.due_at if due is None else min(due, timer.due_at)
        ticket.sla_due_at = due_by_ticket.get(ticket.pk)
    return due_by_ticket


# --- realtime -------------------------------------------------------------------------------------


def _announce(callbacks: list[Ticket]) -> None:
    """Tell the queues of the chunk's new callback tickets, after commit: one `ticket.created` per
    team and chunk (the newest ticket), since an open queue page reloads its list on any new
    ticket; a notice per ticket would make it reload thousands of times."""
    newest: dict[int | None, Ticket] = {}
    for ticket in callbacks:
        newest[ticket.team_id] = ticket
    deliveries: list[realtime.Delivery] = [
        ([realtime.team_group(team_id), realtime.ALL_TICKETS_GROUP],
         {"type": "ticket.created", "ticket": ticket_summary(ticket), "changes": {}, "imported": True})
        for team_id, ticket in newest.items()
    ]
    if deliveries:
        realtime.broadcast_many_after_commit(deliveries)
