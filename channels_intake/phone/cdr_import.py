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

Speed: records are taken in chunks (HELPDESK_PHONE_CDR_CHUNK_SIZE, one transaction each, progress
written to the CdrImport row in it) and written with one bulk INSERT per table and chunk instead of
the per-ticket `ingest` path. The tickets are complete all the same: number, requester and
organization, team, channel, status, message count, the `created` audit event (actor: who started
the import, via `cdr_import`), SLA timers and their `sla_started` events for callback tickets
(computed by the SLA module's own arithmetic; `sla_timers_sync` afterwards changes nothing), and
realtime notices to the queues. Agents are not mailed about imported tickets (an import's `created`
events name no assignee change, and history is not news).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
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
from channels_intake.phone.numbers import format_number, normalize_number
from channels_intake.phone.services import CALLBACK_TAG, call_summary, phone_team
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
    Ticket,
    TicketType,
    TimerState,
    User,
    Visibility,
)
from tickets.sanitize import text_to_html
from tickets.services.common import ticket_summary

logger = logging.getLogger(__name__)

VIA = "cdr_import"
# Errors kept on the CdrImport row (the page and the command list them); the rest are only counted.
MAX_STORED_ERRORS = 1000
PROVIDER_OF_FORMAT = {CdrFormat.ASTERISK: CallProvider.ASTERISK, CdrFormat.CSV: CallProvider.CSV}


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
    # E.164 number → (customer id, organization id, tier)
    customers: dict[str, tuple[int, int | None, str]] = field(default_factory=dict)
    # customer id → tier (SLA policies may depend on it)
    customer_tiers: dict[int, str] = field(default_factory=dict)
    policies: dict[tuple[int | None, int | None, str], SlaPolicy | None] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)

    def e164(self, raw: str) -> str:
        found = self.numbers.get(raw)
        if found is None:
            found = self.numbers[raw] = normalize_number(raw) if raw else ""
        return found


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
            rows = cdr_rows(stream, options=options)
            for chunk in _chunks(rows, chunk_size):
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


def _context(cdr_import: CdrImport, *, team: Team | None, summary: ImportSummary) -> _Context:
    agents = {
        extension.extension: extension.user
        for extension in AgentExtension.objects.select_related("user").filter(user__is_active=True)
        if extension.user.is_staff_member
    }
    memberships = list(
        Team.members.through.objects.filter(user_id__in=[user.pk for user in agents.values()])
        .order_by("team_id").values_list("user_id", "team_id")
    )
    agent_first_team: dict[int, int] = {}
    for user_id, team_id in memberships:
        agent_first_team.setdefault(user_id, team_id)
    return _Context(
        cdr_import=cdr_import, provider=PROVIDER_OF_FORMAT.get(cdr_import.format, CallProvider.CSV),
        actor=cdr_import.created_by, team=team, fallback_team=phone_team(), now=timezone.now(), summary=summary,
        agents=agents, agent_first_team=agent_first_team,
        team_members={(team_id, user_id) for user_id, team_id in memberships},
    )


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


def _customers_for(context: _Context, wanted: dict[str, str]) -> None:
    """Fill context.customers for these numbers (E.164 → a caller name for new ones): the customer
    who has the number (the earliest, as `customer_by_number`), else a new one."""
    missing = [number for number in wanted if number not in context.customers]
    if not missing:
        return
    for pk, numbers, organization_id, tier in (
        Customer.objects.filter(phone_numbers__overlap=missing).order_by("-pk")
        .values_list("pk", "phone_numbers", "organization_id", "tier")
    ):
        # Descending, so the earliest customer with a number is the one left in the map.
        for number in numbers:
            if number in wanted:
                context.customers[number] = (pk, organization_id, tier)
        context.customer_tiers[pk] = tier
    new = [
        Customer(name=(wanted[number] or format_number(number))[:200], phone_numbers=[number])
        for number in missing if number not in context.customers
    ]
    Customer.objects.bulk_create(new)
    for customer in new:
        context.customers[customer.phone_numbers[0]] = (customer.pk, None, customer.tier)
        context.customer_tiers[customer.pk] = customer.tier
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


def _subject(call: Call, *, is_callback: bool) -> str:
    number = format_number(call.customer_number)
    if is_callback:
        return _("Call back %(number)s") % {"number": number}
    if call.direction == OUTBOUND:
        return _("Call to %(number)s") % {"number": number}
    return _("Call from %(number)s") % {"number": number}


def _write_calls(context: _Context, records: list[CallRecord]) -> None:
    wanted: dict[str, str] = {}
    for record in records:
        number = context.e164(record.customer_raw)
        if number and not wanted.get(number):
            wanted[number] = record.caller_name
    _customers_for(context, wanted)

    calls: list[Call] = []
    tickets: list[Ticket] = []
    messages: list[Message] = []
    ticket_of_call: dict[int, int] = {}  # index in calls → index in tickets
    callback_indexes: list[int] = []
    for record in records:
        agent = context.agents.get(record.agent_extension) if record.agent_extension else None
        team = _team_for(context, agent)
        call = Call(
            provider=context.provider, call_id=record.call_id, direction=OUTBOUND if record.direction == OUTBOUND
            else INBOUND, from_raw=record.from_raw, to_raw=record.to_raw, from_number=context.e164(record.from_raw),
            to_number=context.e164(record.to_raw), agent=agent, team=team,
            state=CallState.ENDED if record.is_answered else CallState.MISSED, started_at=record.started_at,
            answered_at=record.answered_at, ended_at=record.ended_at, duration_seconds=record.duration_seconds,
        )
        customer = context.customers.get(call.customer_number) if call.customer_number else None
        if customer is not None:
            call.customer_id = customer[0]
        calls.append(call)
        is_callback = not record.is_answered and record.direction == INBOUND
        if customer is None or not (record.is_answered or is_callback):
            continue
        customer_id, organization_id, _tier = customer
        assignee = agent if record.is_answered and agent is not None and team is not None \
            and (team.pk, agent.pk) in context.team_members else None
        ticket = Ticket(
            subject=" ".join(_subject(call, is_callback=is_callback).split())[:255], channel=Channel.PHONE,
            status=Status.NEW if is_callback else Status.SOLVED, priority=Priority.NORMAL, type=TicketType.QUESTION,
            requester_id=customer_id, organization_id=organization_id, team=team, assignee=assignee,
            tags=[CALLBACK_TAG] if is_callback else [], custom_fields={}, message_count=1,
            last_customer_message_at=context.now, solved_at=None if is_callback else context.now,
        )
        text = call_summary(call, with_notes=False)
        messages.append(Message(
            author_kind=AuthorKind.CUSTOMER, author_customer_id=customer_id, visibility=Visibility.PUBLIC,
            body_html=text_to_html(text), body_text=text, channel=Channel.PHONE,
            external_id=f"call:{call.provider}:{call.call_id}"[:512],
        ))
        ticket_of_call[len(calls) - 1] = len(tickets)
        if is_callback:
            callback_indexes.append(len(tickets))
        tickets.append(ticket)

    Ticket.objects.bulk_create(tickets)
    for ticket, message in zip(tickets, messages, strict=True):
        message.ticket = ticket
    Message.objects.bulk_create(messages)
    for call_index, ticket_index in ticket_of_call.items():
        calls[call_index].ticket = tickets[ticket_index]
        calls[call_index].message = messages[ticket_index]
    Call.objects.bulk_create(calls)
    actor = context.actor
    Event.objects.bulk_create([
        Event(
            ticket=ticket, kind="created", actor_kind=ActorKind.SYSTEM, actor_user=actor, via=VIA,
            to_value={"status": ticket.status, "priority": ticket.priority, "team": ticket.team_id,
                      "channel": ticket.channel},
        )
        for ticket in tickets
    ])
    callbacks = [tickets[index] for index in callback_indexes]
    if callbacks and settings.HELPDESK_SLA_TIMERS:
        _start_sla_timers(context, callbacks)
    context.summary.tickets_created += len(tickets)
    context.summary.callback_tickets += len(callbacks)
    _announce(callbacks)


# --- SLA timers of new callback tickets ---------------------------------------------------------


def _start_sla_timers(context: _Context, tickets: list[Ticket]) -> None:
    """What `sla_timers_sync(reason="created")` does for a brand-new ticket, for many at once: the
    first-response and resolution timers of the policy that applies (running from the ticket's
    creation; a new ticket is never in a pause status), their `sla_started` events and
    Ticket.sla_due_at. The due times come from the SLA module's own scheduling."""
    from tickets.sla.services import VIA as SLA_VIA
    from tickets.sla.services import _Sync, policy_for

    timers: list[SlaTimer] = []
    events: list[Event] = []
    due_by_ticket: dict[int, datetime] = {}
    for ticket in tickets:
        tier = context.customer_tiers.get(ticket.requester_id, Customer.Tier.STANDARD)
        key = (ticket.team_id, ticket.organization_id, tier)
        if key not in context.policies:
            probe = Ticket(
                priority=ticket.priority, channel=ticket.channel, type=ticket.type, tags=ticket.tags,
                team_id=ticket.team_id, organization_id=ticket.organization_id,
                requester=Customer(tier=tier),
            )
            context.policies[key] = policy_for(ticket=probe)
        policy = context.policies[key]
        if policy is None:
            continue
        sync = _Sync(ticket=ticket, now=context.now, reason="created", policy=policy, changed={})
        for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
            target = sync.target(metric)
            if target is None:
                continue
            timer = SlaTimer(
                ticket=ticket, metric=metric, policy=policy, target_minutes=target,
                is_business_hours=policy.is_business_hours(metric), started_at=ticket.created_at,
                state=TimerState.RUNNING,
            )
            sync.schedule(timer)
            timers.append(timer)
            events.append(Event(
                ticket=ticket, kind="sla_started", actor_kind=ActorKind.SLA, actor_user=None, via=SLA_VIA,
                field=metric, to_value={
                    "metric": metric, "policy": policy.name, "target_minutes": target,
                    "due_at": timer.due_at.isoformat(), "reason": "created",
                },
            ))
            due = due_by_ticket.get(ticket.pk)
            due_by_ticket[ticket.pk] = timer.due_at if due is None else min(due, timer.due_at)
    SlaTimer.objects.bulk_create(timers)
    Event.objects.bulk_create(events)
    if due_by_ticket:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Ticket._meta.db_table} AS t SET sla_due_at = v.due_at "  # noqa: S608 - our table name
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, due_at) WHERE t.id = v.id",
                [list(due_by_ticket), list(due_by_ticket.values())],
            )
        for ticket in tickets:
            ticket.sla_due_at = due_by_ticket.get(ticket.pk)


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
