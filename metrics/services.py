"""Computing the per-ticket facts (metrics.models.TicketFact) from tickets and their audit events.

Definitions (PRODUCT.md, "Metric definitions"), as read from the audit trail:

* A public agent reply is a `reply_added` event by an agent (internal notes are `note_added`;
  the helpdesk's automatic acknowledgements are recorded with actor kind `system`). Events stay
  on the ticket they happened on when a merge moves its messages, so they, not the messages,
  say who answered which ticket.
* First solve: the first `status_changed` event to `solved`; resolution runs from creation to it,
  whatever happened afterwards. `solved_by_customer`: that first solve was the customer's.
* Reopens: `reopened` events (a solved ticket back to open).
* FCR: solved, exactly one public agent reply in the ticket's whole life, never reopened.
* Agent: the assignee at the first solve (replayed from `assignee_changed` events), else the
  current assignee.
* A merged ticket (the duplicate that went into another) is kept with `is_merged` but has no
  durations and no FCR: it was closed as a duplicate, not resolved.
* Business-hours durations use the calendar of the ticket's SLA policy; 24/7 without one.
* SLA targets: the ticket's decided SLA timers (see `_decided_sla_targets`), each counted on the
  day it was due.

Each refresh also maintains the daily rollups in the same transaction (metrics.rollups explains
why by deltas). Refreshes run in batches a moment after ticket changes commit (the bottom of this
module) and every minute for whatever those batches missed.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import realtime
from metrics import rollups
from metrics.models import TicketFact
from tickets.models import ActorKind, BusinessHours, SlaPolicy, SlaTimer, Ticket, TimerState, User
from tickets.sla.calendar import BusinessCalendar, business_between
from tickets.sla.services import ALWAYS_OPEN

logger = logging.getLogger(__name__)

# One statement per chunk: each ticket's row, the aggregates of its events, its first solve and
# the assignee it had then.
# Events are ordered by id: within one ticket they are written under its row lock, in order.
_FACTS_SQL = """
    WITH chunk AS (
        SELECT ticket.id, ticket.created_at, ticket.team_id, ticket.assignee_id, ticket.channel,
               ticket.priority, ticket.type, ticket.tags, ticket.organization_id, ticket.merged_into_id,
               customer.tier
        FROM tickets_ticket AS ticket JOIN tickets_customer AS customer ON customer.id = ticket.requester_id
        WHERE ticket.id = ANY(%(ticket_ids)s)
    ), first_solve AS (
        SELECT DISTINCT ON (event.ticket_id) event.ticket_id, event.id, event.created_at, event.actor_kind
        FROM tickets_event AS event
        WHERE event.ticket_id = ANY(%(ticket_ids)s) AND event.kind = 'status_changed'
          AND event.to_value = '"solved"'::jsonb
        ORDER BY event.ticket_id, event.id
    ), totals AS (
        SELECT event.ticket_id,
               min(event.created_at) FILTER (WHERE event.kind = 'reply_added' AND event.actor_kind = 'agent')
                   AS first_agent_reply_at,
               count(*) FILTER (WHERE event.kind = 'reply_added' AND event.actor_kind = 'agent') AS agent_replies,
               count(*) FILTER (WHERE event.kind = 'reopened') AS reopens,
               bool_or(event.kind = 'merged_into') AS was_merged
        FROM tickets_event AS event
        WHERE event.ticket_id = ANY(%(ticket_ids)s) AND event.kind IN ('reply_added', 'reopened', 'merged_into')
        GROUP BY event.ticket_id
    )
    SELECT chunk.id, chunk.created_at, chunk.team_id, chunk.channel, chunk.priority, chunk.type, chunk.tags,
           chunk.organization_id, chunk.tier,
           chunk.merged_into_id IS NOT NULL OR coalesce(totals.was_merged, false) AS is_merged,
           totals.first_agent_reply_at, coalesce(totals.agent_replies, 0), coalesce(totals.reopens, 0),
           first_solve.created_at, first_solve.actor_kind,
           CASE WHEN next_change.id IS NULL THEN chunk.assignee_id
                ELSE (next_change.from_value #>> '{}')::bigint END AS agent_id
    FROM chunk
    LEFT JOIN first_solve ON first_solve.ticket_id = chunk.id
    LEFT JOIN totals ON totals.ticket_id = chunk.id
    -- The first change of assignee after the first solve says who held the ticket then; without
    -- one (or without a solve) the assignee now is the one.
    LEFT JOIN LATERAL (
        SELECT change.id, change.from_value FROM tickets_event AS change
        WHERE change.ticket_id = chunk.id AND change.kind = 'assignee_changed' AND change.id > first_solve.id
        ORDER BY change.id LIMIT 1
    ) AS next_change ON true
"""


class PolicyCalendars:
    """Which SLA policy's calendar applies to a ticket, for many tickets without a query each.

    The same rule as `tickets.sla.services.policy_for` (first active policy by position whose
    non-empty conditions all hold), evaluated in memory over the active policies loaded once.
    """

    def __init__(self) -> None:
        self.policies = list(
            SlaPolicy.objects.filter(is_active=True).order_by("position", "id").prefetch_related("teams", "organizations")
        )
        calendar_ids = {policy.calendar_id for policy in self.policies if policy.calendar_id}
        self.calendars: dict[int, BusinessCalendar] = {
            hours.pk: hours.to_calendar(list(hours.holidays.all()))
            for hours in BusinessHours.objects.filter(pk__in=calendar_ids).prefetch_related("holidays")
        }
        self.team_ids = {policy.pk: {team.pk for team in policy.teams.all()} for policy in self.policies}
        self.organization_ids = {
            policy.pk: {organization.pk for organization in policy.organizations.all()} for policy in self.policies
        }

    def calendar_for(self, *, priority: str, channel: str, ticket_type: str, tier: str, tags: Sequence[str],
                     team_id: int | None, organization_id: int | None) -> BusinessCalendar:
        for policy in self.policies:
            teams, organizations = self.team_ids[policy.pk], self.organization_ids[policy.pk]
            if (
                (not policy.priorities or priority in policy.priorities)
                and (not policy.channels or channel in policy.channels)
                and (not policy.ticket_types or ticket_type in policy.ticket_types)
                and (not policy.customer_tiers or tier in policy.customer_tiers)
                and (not policy.tags or set(policy.tags) & set(tags or ()))
                and (not teams or team_id in teams)
                and (not organizations or organization_id in organizations)
            ):
                return self.calendars[policy.calendar_id] if policy.calendar_id else ALWAYS_OPEN
        return ALWAYS_OPEN


def _seconds(duration: timedelta) -> int:
    # Clamped: an event stamped a moment before its ticket (clocks of two app servers) is no answer
    # before the question.
    return max(0, int(duration.total_seconds()))


def _durations(calendar: BusinessCalendar, start: datetime, end: datetime | None) -> tuple[int | None, int | None]:
    if end is None:
        return None, None
    return _seconds(end - start), _seconds(business_between(calendar, start, end))


@dataclass(frozen=True)
class FactsRefresh:
    """What a refresh did: facts written, facts whose content changed (new ones included) and
    rollup rows changed."""

    written: int = 0
    changed: int = 0
    rollup_rows: int = 0

    def __add__(self, other: FactsRefresh) -> FactsRefresh:
        return FactsRefresh(written=self.written + other.written, changed=self.changed + other.changed,
                            rollup_rows=self.rollup_rows + other.rollup_rows)


def ticket_facts_refresh(*, ticket_ids: Sequence[int], calendars: PolicyCalendars | None = None) -> int:
    """(Re)compute the facts of these tickets, and the rollups with them; returns how many rows were written.

    Idempotent (one upsert per ticket id); ids of tickets that no longer exist are skipped. A few
    queries whatever the number of ids: meant for chunks of about 1,000. A caller refreshing many
    chunks passes one `PolicyCalendars` so the policies and calendars are loaded once.
    """
    return ticket_facts_refresh_counted(ticket_ids=ticket_ids, calendars=calendars).written


def ticket_facts_refresh_counted(*, ticket_ids: Sequence[int], calendars: PolicyCalendars | None = None) -> FactsRefresh:
    """`ticket_facts_refresh`, telling also what changed (to know whether dashboards should hear of it)."""
    ticket_ids = sorted(set(ticket_ids))
    if not ticket_ids:
        return FactsRefresh()
    calendars = calendars or PolicyCalendars()
    with connection.cursor() as cursor:
        cursor.execute(_FACTS_SQL, {"ticket_ids": ticket_ids})
        rows = cursor.fetchall()
    now = timezone.now()
    sla_targets = _decided_sla_targets(ticket_ids=ticket_ids, now=now)
    facts = []
    for (ticket_id, created_at, team_id, channel, priority, ticket_type, tags, organization_id, tier, is_merged,
         first_reply_at, agent_replies, reopens, first_solved_at, solve_actor_kind, agent_id) in rows:
        calendar = calendars.calendar_for(priority=priority, channel=channel, ticket_type=ticket_type, tier=tier,
                                          tags=tags, team_id=team_id, organization_id=organization_id)
        frt, frt_business = _durations(calendar, created_at, first_reply_at)
        resolution, resolution_business = _durations(calendar, created_at, first_solved_at)
        if is_merged:
            frt = frt_business = resolution = resolution_business = None
        is_solved = first_solved_at is not None
        facts.append(TicketFact(
            ticket_id=ticket_id, created_at=created_at, team_id=team_id, agent_id=agent_id, channel=channel,
            priority=priority, organization_id=organization_id, first_public_agent_reply_at=first_reply_at,
            frt_seconds=frt, frt_business_seconds=frt_business, first_solved_at=first_solved_at,
            resolution_seconds=resolution, resolution_business_seconds=resolution_business,
            public_agent_replies=agent_replies, reopen_count=reopens,
            is_fcr=(agent_replies == 1 and reopens == 0) if is_solved and not is_merged else None,
            solved_by_customer=solve_actor_kind == ActorKind.CUSTOMER, is_merged=is_merged,
            sla_targets=sla_targets.get(ticket_id, []), computed_at=now,
        ))
    # An agent deleted since (their id survives in the events) is no agent any more.
    agent_ids = {fact.agent_id for fact in facts if fact.agent_id}
    if agent_ids:
        existing = set(User.objects.filter(pk__in=agent_ids).values_list("pk", flat=True))
        for fact in facts:
            if fact.agent_id not in existing:
                fact.agent_id = None
    if not facts:
        return FactsRefresh()
    with transaction.atomic():
        # New tickets first: inserted rows had no contribution to take away. A ticket inserted
        # meanwhile by a concurrent refresh is waited for (unique index), then counts as existing.
        records = {fact.ticket_id: _record(fact) for fact in facts}
        inserted = _facts_insert_new(list(records.values()))
        existing_facts = [fact for fact in facts if fact.ticket_id not in inserted]
        # The old rows, locked in id order (two refreshes of overlapping tickets queue up, never
        # deadlock): their contribution is taken away in this same transaction.
        old = list(
            TicketFact.objects.filter(ticket_id__in=[fact.ticket_id for fact in existing_facts])
            .order_by("ticket_id").select_for_update()
        )
        if existing_facts:
            _facts_update([records[fact.ticket_id] for fact in existing_facts])
        rollup_rows = rollups.rollups_apply(rollups.rollup_deltas(old=old, new=facts))
    old_by_ticket = {fact.ticket_id: _content(fact) for fact in old}
    changed = sum(1 for fact in facts if old_by_ticket.get(fact.ticket_id) != _content(fact))
    return FactsRefresh(written=len(facts), changed=changed, rollup_rows=rollup_rows)


_CONTENT_ATTNAMES = [field.attname for field in TicketFact._meta.concrete_fields if field.name != "computed_at"]


def _content(fact: TicketFact) -> tuple[object, ...]:
    return tuple(fact.sla_targets if attname == "sla_targets" else getattr(fact, attname)
                 for attname in _CONTENT_ATTNAMES)


_COLUMNS: dict[str, str] = {field.attname: field.column or field.attname for field in TicketFact._meta.concrete_fields}
# Rows travel as one JSON array read with jsonb_populate_recordset: one parameter whatever the
# chunk, and no per-value work in the ORM (which took a third of a refresh).
_INSERT_SQL = (
    "INSERT INTO metrics_ticketfact SELECT * FROM jsonb_populate_recordset(NULL::metrics_ticketfact, %s)"
    " ORDER BY ticket_id ON CONFLICT (ticket_id) DO NOTHING RETURNING ticket_id"
)
_UPDATE_SQL = (
    "UPDATE metrics_ticketfact AS fact SET "  # noqa: S608 (column names from the model)
    + ", ".join(f"{column} = new.{column}" for column in _COLUMNS.values() if column != "ticket_id")
    + " FROM jsonb_populate_recordset(NULL::metrics_ticketfact, %s) AS new WHERE fact.ticket_id = new.ticket_id"
)


def _record(fact: TicketFact) -> dict[str, object]:
    return {column: _json_value(getattr(fact, attname)) for attname, column in _COLUMNS.items()}


def _facts_insert_new(records: list[dict[str, object]]) -> set[int]:
    """Insert the facts of tickets that have none yet (in id order); the ids inserted."""
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [json.dumps(records)])
        return {row[0] for row in cursor.fetchall()}


def _facts_update(records: list[dict[str, object]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_UPDATE_SQL, [json.dumps(records)])


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _decided_sla_targets(*, ticket_ids: Sequence[int], now: datetime) -> dict[int, list[dict[str, object]]]:
    """The decided SLA targets of these tickets, each {"metric", "due", "met"}, by ticket, in due order.

    Decided: met (on time if met at or before its due time and never marked breached: a target
    breached stays breached even if its due time moved later since), or missed (breached, or
    still running past its due time). Cancelled targets and those not yet due are not counted.
    Every timer counts, not only the current ones: each next response and each resolution
    restarted by a reopen was a target of its own.
    """
    targets: dict[int, list[dict[str, object]]] = {}
    timers = (
        SlaTimer.objects.filter(ticket_id__in=ticket_ids).exclude(state=TimerState.CANCELLED)
        .order_by("ticket_id", "due_at", "metric", "id")
        .values_list("ticket_id", "metric", "state", "due_at", "met_at", "breached_at")
    )
    for ticket_id, metric, state, due_at, met_at, breached_at in timers:
        if state == TimerState.MET and met_at is not None:
            met = breached_at is None and met_at <= due_at
        elif breached_at is not None or (state == TimerState.RUNNING and due_at <= now):
            met = False
        else:
            continue
        targets.setdefault(ticket_id, []).append({"metric": metric, "due": due_at.isoformat(), "met": met})
    return targets


def ticket_facts_refresh_created_between(
    *, created_from: datetime | None = None, created_to: datetime | None = None, chunk_size: int = 1000
) -> int:
    """Recompute the facts of every ticket created in [created_from, created_to), in chunks by id."""
    tickets = Ticket.objects.order_by("pk")
    if created_from is not None:
        tickets = tickets.filter(created_at__gte=created_from)
    if created_to is not None:
        tickets = tickets.filter(created_at__lt=created_to)
    calendars = PolicyCalendars()
    total, last_id = 0, 0
    while True:
        chunk = list(tickets.filter(pk__gt=last_id).values_list("pk", flat=True)[:chunk_size])
        if not chunk:
            return total
        total += ticket_facts_refresh(ticket_ids=chunk, calendars=calendars)
        last_id = chunk[-1]


# A ticket changed this shortly before its facts were computed may have committed after they read
# it (its updated_at is stamped before its commit): such facts count as stale once more.
STALE_OVERLAP_SECONDS = 60
_CHANGED_SQL = """
    SELECT ticket.id FROM tickets_ticket AS ticket
    LEFT JOIN metrics_ticketfact AS fact ON fact.ticket_id = ticket.id
    WHERE ticket.updated_at >= %(since)s AND NOT (ticket.id = ANY(%(done)s))
      AND (fact.ticket_id IS NULL OR ticket.updated_at > fact.computed_at - make_interval(secs => %(overlap)s))
    ORDER BY ticket.updated_at, ticket.id
    LIMIT %(limit)s
"""


def ticket_facts_refresh_changed(
    *, lookback: timedelta, chunk_size: int = 1000, max_chunks: int = 50
) -> FactsRefresh:
    """Refresh the facts (and rollups) of the tickets changed within `lookback` whose facts are
    missing or older than the change; `written` says how many were refreshed. What the workers
    run every minute, behind the batches of `metrics_refresh_schedule`: every ticket service saves
    the ticket (its updated_at) with the change that moves a fact, and so does the SLA scan when a
    target is missed. Anything older than the lookback is left to `recompute_metrics`."""
    since = timezone.now() - lookback
    calendars = PolicyCalendars()
    done: list[int] = []
    result = FactsRefresh()
    for _chunk in range(max_chunks):
        with connection.cursor() as cursor:
            cursor.execute(_CHANGED_SQL, {"since": since, "done": done, "overlap": STALE_OVERLAP_SECONDS,
                                          "limit": chunk_size})
            ticket_ids = [row[0] for row in cursor.fetchall()]
        if not ticket_ids:
            break
        result += ticket_facts_refresh_counted(ticket_ids=ticket_ids, calendars=calendars)
        done += ticket_ids
        if len(ticket_ids) < chunk_size:
            break
    return result


def metrics_updated_send() -> None:
    """Tell the open dashboards that the figures changed (each fetches its own again)."""
    realtime.send_now([realtime.METRICS_GROUP], {"type": "metrics.updated"})


# --- batches of changed tickets ------------------------------------------------------------------
#
# Ticket services announce every change after commit (tickets.services.common.emit_ticket_event);
# after the commit each changed ticket is added to a Redis set and, unless a run is already
# scheduled, one task is scheduled a moment later that refreshes everything gathered by then. So
# the workers refresh per batch of events, not per request, and a request pays a Redis round trip.
# A lost batch (Redis or the broker down) is caught by the minute refresh of changed tickets.

CHANGED_TICKETS_KEY = "helpdesk:metrics:changed-tickets"
REFRESH_SCHEDULED_KEY = "helpdesk:metrics:refresh-scheduled"
# Changes within this many seconds of the first one share its run.
REFRESH_DELAY_SECONDS = 2
# The run clears the mark when it starts; this only frees it if the run was lost on the way.
REFRESH_SCHEDULED_TTL_SECONDS = 60
REFRESH_CHUNK_SIZE = 1000


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis() -> redis.Redis:
    return _redis_client(settings.REDIS_URL)


def metrics_refresh_after_commit(*, ticket_id: int) -> None:
    """Have this ticket's facts and rollups refreshed soon after the transaction commits (nothing
    if it rolls back). One Redis round trip per call, after the commit; a service announces a
    change or two per transaction."""
    transaction.on_commit(functools.partial(metrics_refresh_schedule, ticket_ids=[ticket_id]), robust=True)


def metrics_refresh_schedule(*, ticket_ids: Sequence[int]) -> None:
    """Add these tickets to the next batch refresh, scheduling it unless one is pending.

    Never raises: the change has committed already, and the minute refresh will find it anyway.
    """
    if not ticket_ids:
        return
    try:
        pipeline = _redis().pipeline(transaction=False)
        pipeline.sadd(CHANGED_TICKETS_KEY, *ticket_ids)
        pipeline.set(REFRESH_SCHEDULED_KEY, "1", nx=True, ex=REFRESH_SCHEDULED_TTL_SECONDS)
        _added, is_first = pipeline.execute()
        if is_first:
            from metrics.tasks import metrics_refresh_batch

            metrics_refresh_batch.apply_async(countdown=REFRESH_DELAY_SECONDS, queue="metrics")
    except Exception:
        logger.warning("metrics refresh not scheduled; the minute refresh will catch up", exc_info=True,
                       extra={"ticket_ids": list(ticket_ids)[:20]})


def metrics_refresh_pending() -> FactsRefresh:
    """Refresh the facts and rollups of the tickets gathered by `metrics_refresh_schedule`.

    The scheduled mark is cleared before the set is read: a change added after that schedules the
    next run, one added before is read by this one, so none waits for the minute refresh.
    """
    client = _redis()
    client.delete(REFRESH_SCHEDULED_KEY)
    result = FactsRefresh()
    calendars: PolicyCalendars | None = None
    while True:
        members = client.spop(CHANGED_TICKETS_KEY, REFRESH_CHUNK_SIZE)
        if not members:
            return result
        ticket_ids = sorted(int(member) for member in members)
        calendars = calendars or PolicyCalendars()
        try:
            result += ticket_facts_refresh_counted(ticket_ids=ticket_ids, calendars=calendars)
        except Exception:
            client.sadd(CHANGED_TICKETS_KEY, *ticket_ids)  # for the next run
            raise
