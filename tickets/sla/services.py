"""SLA timers: which policy applies, starting/pausing/meeting timers, and the breach scan.

`sla_timers_sync` is the one function ticket services call after every change of a ticket. It does
not take a description of the change: it reads the ticket as it now stands and brings its timers in
line (a reconciliation), so calling it twice changes nothing the second time, and a missed call is
repaired by the next one. `now` is the only clock it reads.

Semantics (Zendesk's, where it has one):

* **first_response** runs from the ticket's creation until `first_responded_at` (the first public
  agent reply).
* **next_response** starts when a customer writes after the last public agent reply (so never before
  the first agent reply: first_response covers that) and runs from that first unanswered customer
  message until the next public agent reply. Further customer messages do not restart it.
* **resolution** runs from creation until the ticket is solved. On reopen the policy decides:
  `continue` (default) resumes the same timer and counts the time it spent solved as a pause (full
  resolution time); `restart` keeps the met timer as history and starts a new one from the reopen.
* The clock pauses while the status is one of the policy's pause statuses (default pending and
  on hold); response timers also pause while the ticket is solved (nobody owes an answer then).
  Pauses are stored (`SlaTimerPause`) so the ticket page can show them; due dates are recomputed on
  resume as start + target + paused time, all measured in the timer's counting time (business
  hours of the policy's calendar, or calendar time).
* A change of priority, team, type, tags (anything that picks another policy or target) recomputes
  unfinished timers from their original start. A target already breached stays breached.
* Closing or merging a ticket cancels its unfinished timers. A ticket that no longer matches any
  policy (or whose policy has no target for a metric) gets those timers cancelled; they resume if a
  policy applies again, measured from their original start.
* A timer met after its due time gets `breached_at` = its due time even if the scan never fired it.

Audit: one Event per start, met, cancel, target change, warning and breach (actor kind `sla`);
pauses and resumes follow a status change that has its own Event, so they write none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from tickets import events
from tickets.models import (
    ActorKind,
    BusinessHours,
    Metric,
    ReopenBehaviour,
    SlaPolicy,
    SlaTimer,
    SlaTimerPause,
    Status,
    Ticket,
    TimerState,
)
from tickets.sla.calendar import BusinessCalendar, business_add, business_between

VIA = "sla"
UNFINISHED = (TimerState.RUNNING, TimerState.PAUSED)
ALWAYS_OPEN = BusinessCalendar.build(timezone="UTC", always_open=True)


# -- Policies -----------------------------------------------------------------------------------


def policy_for(*, ticket: Ticket) -> SlaPolicy | None:
    """The first active policy (by position) whose conditions all match the ticket, or None.

    One query: every condition is either empty (matches anything) or must contain the ticket's value.
    """
    team_links = SlaPolicy.teams.through.objects.filter(slapolicy_id=OuterRef("pk"))
    organization_links = SlaPolicy.organizations.through.objects.filter(slapolicy_id=OuterRef("pk"))
    tier = ticket.requester.tier
    return (
        SlaPolicy.objects.filter(is_active=True)
        .filter(Q(priorities=[]) | Q(priorities__contains=[ticket.priority]))
        .filter(Q(channels=[]) | Q(channels__contains=[ticket.channel]))
        .filter(Q(ticket_types=[]) | Q(ticket_types__contains=[ticket.type]))
        .filter(Q(customer_tiers=[]) | Q(customer_tiers__contains=[tier]))
        .filter(Q(tags=[]) | Q(tags__overlap=list(ticket.tags or [])))
        .filter(_linked_or_unrestricted(team_links, "team_id", ticket.team_id))
        .filter(_linked_or_unrestricted(organization_links, "organization_id", ticket.organization_id))
        .select_related("calendar")
        .order_by("position", "id")
        .first()
    )


def _linked_or_unrestricted(links: QuerySet, column: str, value: int | None) -> Q:  # type: ignore[type-arg]
    """No links (the condition is empty), or a link to the ticket's value."""
    unrestricted = Q(~Exists(links))
    if value is None:
        return unrestricted
    return unrestricted | Q(Exists(links.filter(**{column: value})))


def calendar_of(policy: SlaPolicy | None) -> BusinessCalendar:
    """The policy's business calendar (24/7 UTC when it has none)."""
    if policy is None or policy.calendar_id is None:
        return ALWAYS_OPEN
    calendar: BusinessHours = policy.calendar  # type: ignore[assignment]
    return calendar.to_calendar()


# -- Counting time ------------------------------------------------------------------------------


def _counting_between(calendar: BusinessCalendar, *, is_business_hours: bool, start: datetime, end: datetime) -> timedelta:
    if end <= start:
        return timedelta(0)
    return business_between(calendar, start, end) if is_business_hours else end - start


def _counting_add(calendar: BusinessCalendar, *, is_business_hours: bool, start: datetime, duration: timedelta) -> datetime:
    return business_add(calendar, start, duration) if is_business_hours else start + duration


# -- Sync ---------------------------------------------------------------------------------------


@dataclass
class _Sync:
    ticket: Ticket
    now: datetime
    reason: str
    policy: SlaPolicy | None
    changed: dict[int, SlaTimer]
    # An admin edited a policy or calendar and asked to recompute open timers: due times are worked
    # out again from the original start even when policy and target are unchanged.
    force: bool = False

    @functools.cached_property
    def calendar(self) -> BusinessCalendar:
        return calendar_of(self.policy)

    def calendar_for(self, timer: SlaTimer) -> BusinessCalendar:
        if timer.policy_id == (self.policy.pk if self.policy else None):
            return self.calendar
        return calendar_of(timer.policy)

    def target(self, metric: str) -> int | None:
        if self.policy is None:
            return None
        return self.policy.target_minutes(metric=metric, priority=self.ticket.priority)

    def clock_should_run(self, timer: SlaTimer) -> bool:
        status = self.ticket.status
        if status == Status.SOLVED:
            return False  # resolution is met on solve; response timers wait for a reopen
        policy = self.policy or timer.policy
        pause_statuses = policy.pause_statuses if policy is not None else [Status.PENDING, Status.ON_HOLD]
        return status not in pause_statuses

    # -- bookkeeping ---------------------------------------------------------------------

    def save(self, timer: SlaTimer) -> None:
        timer.save()
        self.changed[timer.pk] = timer

    def record(self, timer: SlaTimer, kind: str, **extra: object) -> None:
        events._record(
            ticket=self.ticket, kind=kind, actor=None, via=VIA, actor_kind=ActorKind.SLA, field=timer.metric,
            to_value={
                "metric": timer.metric,
                "policy": timer.policy.name if timer.policy else None,
                "target_minutes": timer.target_minutes,
                "due_at": timer.due_at.isoformat(),
                "reason": self.reason,
                **extra,
            },
        )

    # -- arithmetic ----------------------------------------------------------------------

    def schedule(self, timer: SlaTimer) -> None:
        """due_at and warning_at from the start, target and finished pauses (not for a breached
        timer: its due time is the instant it missed, and stays)."""
        if timer.breached_at is not None:
            return
        calendar = self.calendar_for(timer)
        paused = timedelta(seconds=timer.paused_seconds)
        timer.due_at = _counting_add(
            calendar, is_business_hours=timer.is_business_hours, start=timer.started_at,
            duration=timedelta(minutes=timer.target_minutes) + paused,
        )
        policy = timer.policy
        offset = policy.warning_offset_minutes(timer.target_minutes) if policy is not None else None
        timer.warning_at = None if offset is None else _counting_add(
            calendar, is_business_hours=timer.is_business_hours, start=timer.started_at,
            duration=timedelta(minutes=offset) + paused,
        )
        if timer.warned_at is not None and timer.warning_at is not None and timer.warning_at > self.now:
            timer.warned_at = None  # a larger target moved the warning point ahead: warn again then

    def pause(self, timer: SlaTimer, at: datetime) -> None:
        timer.state = TimerState.PAUSED
        timer.paused_at = at
        SlaTimerPause.objects.create(timer=timer, started_at=at, status=self.ticket.status)

    def end_pause(self, timer: SlaTimer, at: datetime) -> None:
        """Close the open pause at `at` and add its counting time to the timer."""
        pause = timer.pauses.filter(ended_at__isnull=True).order_by("-started_at").first()
        started = timer.paused_at or (pause.started_at if pause else at)
        ended = max(at, started)
        seconds = int(_counting_between(
            self.calendar_for(timer), is_business_hours=timer.is_business_hours, start=started, end=ended,
        ).total_seconds())
        if pause is not None:
            pause.ended_at = ended
            pause.paused_seconds = seconds
            pause.save(update_fields=["ended_at", "paused_seconds"])
        timer.paused_seconds += seconds
        timer.paused_at = None
        timer.state = TimerState.RUNNING

    # -- transitions ---------------------------------------------------------------------

    def start(self, metric: str, *, started_at: datetime, target: int) -> SlaTimer:
        assert self.policy is not None
        timer = SlaTimer(
            ticket=self.ticket, metric=metric, policy=self.policy, target_minutes=target,
            is_business_hours=self.policy.is_business_hours(metric), started_at=started_at,
            state=TimerState.RUNNING,
        )
        self.schedule(timer)
        paused_at = None if self.clock_should_run(timer) else max(self.now, started_at)
        if paused_at is not None:
            timer.state, timer.paused_at = TimerState.PAUSED, paused_at
        self.save(timer)
        if paused_at is not None:
            SlaTimerPause.objects.create(timer=timer, started_at=paused_at, status=self.ticket.status)
        self.record(timer, "sla_started")
        return timer

    def meet(self, timer: SlaTimer, at: datetime) -> None:
        if timer.state == TimerState.PAUSED:
            self.end_pause(timer, at)
            self.schedule(timer)
        timer.state = TimerState.MET
        timer.met_at = at
        if timer.breached_at is None and at > timer.due_at:
            timer.breached_at = timer.due_at  # missed, though the scan had not fired it yet
        self.save(timer)
        self.record(timer, "sla_met", met_at=at.isoformat(), breached=timer.breached_at is not None)

    def cancel(self, timer: SlaTimer) -> None:
        if timer.state == TimerState.PAUSED:
            self.end_pause(timer, self.now)
        timer.state = TimerState.CANCELLED
        self.save(timer)
        self.record(timer, "sla_cancelled")

    def revive(self, timer: SlaTimer) -> None:
        """A timer cancelled because no policy applied resumes when one does again."""
        timer.state = TimerState.RUNNING
        self.retarget(timer, record=False)
        self.save(timer)
        self.record(timer, "sla_started")

    def retarget(self, timer: SlaTimer, *, record: bool = True) -> None:
        """Follow the ticket's current policy and target, recomputing from the original start."""
        assert self.policy is not None
        target = self.target(timer.metric)
        assert target is not None
        is_business_hours = self.policy.is_business_hours(timer.metric)
        unchanged = (
            timer.policy_id == self.policy.pk and timer.target_minutes == target
            and timer.is_business_hours == is_business_hours
        )
        if unchanged and record and not self.force:
            return
        previous_due, previous_warning = timer.due_at, timer.warning_at
        timer.policy = self.policy
        timer.target_minutes = target
        # Finished pauses are re-measured when the counting time changed (business vs calendar
        # hours, or an edited calendar): a pause over a weekend counts differently then.
        if timer.is_business_hours != is_business_hours or self.force:
            timer.is_business_hours = is_business_hours
            paused_seconds = 0
            for pause in timer.pauses.filter(ended_at__isnull=False):
                assert pause.ended_at is not None
                paused_seconds += int(_counting_between(
                    self.calendar, is_business_hours=is_business_hours, start=pause.started_at, end=pause.ended_at,
                ).total_seconds())
            timer.paused_seconds = paused_seconds
        self.schedule(timer)
        if unchanged and (timer.due_at, timer.warning_at) == (previous_due, previous_warning):
            if self.force and record:
                timer.save()  # re-measured pauses may differ even when the due time does not
            return
        if record:
            self.save(timer)
            self.record(timer, "sla_updated", previous_due_at=previous_due.isoformat() if previous_due else None)

    def run_clock(self, timer: SlaTimer) -> None:
        should_run = self.clock_should_run(timer)
        if timer.state == TimerState.RUNNING and not should_run:
            self.pause(timer, self.now)
            self.save(timer)
        elif timer.state == TimerState.PAUSED and should_run:
            self.end_pause(timer, self.now)
            self.schedule(timer)
            self.save(timer)

    def follow_policy(self, timer: SlaTimer) -> None:
        """Cancel an unfinished timer without a target now, else retarget it and set its clock."""
        if timer.state not in UNFINISHED:
            return
        if self.target(timer.metric) is None:
            self.cancel(timer)
            return
        self.retarget(timer)
        self.run_clock(timer)

    # -- per metric ----------------------------------------------------------------------

    def first_response(self, timer: SlaTimer | None) -> None:
        ticket, target = self.ticket, self.target(Metric.FIRST_RESPONSE)
        responded_at = ticket.first_responded_at
        if timer is None:
            if target is not None and responded_at is None and ticket.status != Status.SOLVED:
                self.start(Metric.FIRST_RESPONSE, started_at=ticket.created_at, target=target)
            return
        if timer.state in UNFINISHED and responded_at is not None:
            self.meet(timer, max(responded_at, timer.started_at))
            return
        if timer.state == TimerState.CANCELLED and target is not None and responded_at is None:
            self.revive(timer)
        self.follow_policy(timer)

    def next_response(self, timer: SlaTimer | None) -> None:
        ticket, target = self.ticket, self.target(Metric.NEXT_RESPONSE)
        customer_at, agent_at = ticket.last_customer_message_at, ticket.last_agent_reply_at
        if timer is not None and timer.state in UNFINISHED and agent_at is not None and agent_at >= timer.started_at:
            self.meet(timer, agent_at)
        awaiting_answer = agent_at is not None and customer_at is not None and customer_at > agent_at
        if timer is not None and timer.state == TimerState.CANCELLED and awaiting_answer and target is not None \
                and timer.started_at > agent_at:  # type: ignore[operator]
            self.revive(timer)
        elif awaiting_answer and target is not None and (timer is None or timer.state not in UNFINISHED):
            if timer is not None:
                timer.is_current = False
                timer.save(update_fields=["is_current", "updated_at"])
            timer = self.start(Metric.NEXT_RESPONSE, started_at=customer_at, target=target)  # type: ignore[arg-type]
        if timer is not None:
            self.follow_policy(timer)

    def resolution(self, timer: SlaTimer | None) -> None:
        ticket, target = self.ticket, self.target(Metric.RESOLUTION)
        is_solved = ticket.status == Status.SOLVED
        if timer is None:
            if target is not None and not is_solved:
                self.start(Metric.RESOLUTION, started_at=ticket.created_at, target=target)
            return
        if timer.state in UNFINISHED and is_solved:
            self.meet(timer, max(ticket.solved_at or self.now, timer.started_at))
            return
        if timer.state == TimerState.MET and not is_solved and self.policy is not None and target is not None:
            self.reopen(timer, target=target)
            return
        if timer.state == TimerState.CANCELLED and target is not None and not is_solved:
            self.revive(timer)
        self.follow_policy(timer)

    def reopen(self, timer: SlaTimer, *, target: int) -> None:
        assert self.policy is not None and timer.met_at is not None
        if self.policy.resolution_on_reopen == ReopenBehaviour.RESTART:
            timer.is_current = False
            timer.save(update_fields=["is_current", "updated_at"])
            self.start(Metric.RESOLUTION, started_at=self.now, target=target)
            return
        # Continue: the time it stood solved becomes a pause, so only support's time counts.
        SlaTimerPause.objects.create(timer=timer, started_at=timer.met_at, status=Status.SOLVED)
        timer.paused_at = timer.met_at
        timer.met_at = None
        self.end_pause(timer, self.now)
        self.retarget(timer, record=False)
        self.schedule(timer)
        if not self.clock_should_run(timer):
            self.pause(timer, self.now)
        self.save(timer)
        self.record(timer, "sla_started")


def sla_timers_sync(*, ticket: Ticket, now: datetime, reason: str, force_recompute: bool = False) -> list[SlaTimer]:
    """Bring the ticket's SLA timers in line with the ticket as it stands; returns the timers changed.

    Call it inside the ticket service's transaction after every change (creation, customer message,
    public agent reply, status/priority/team/type/tag change, reopen, solve, close, merge). `reason`
    is recorded on the events it writes ("created", "status_changed" ...). Idempotent.
    `force_recompute` works out unfinished timers' due times again even when their policy and
    target are unchanged (after an edit of the policy's targets or its calendar).
    """
    # No savepoint: inside a ticket service a failure here must fail the whole change anyway.
    with transaction.atomic(savepoint=False):
        timers = {
            timer.metric: timer
            for timer in SlaTimer.objects.select_for_update(of=("self",)).select_related("policy")
            .filter(ticket_id=ticket.pk, is_current=True)
        }
        is_ended = ticket.status == Status.CLOSED or ticket.merged_into_id is not None
        sync = _Sync(ticket=ticket, now=now, reason=reason, policy=None if is_ended else policy_for(ticket=ticket),
                     changed={}, force=force_recompute)
        if is_ended:
            for timer in timers.values():
                if timer.state in UNFINISHED:
                    sync.cancel(timer)
            _keep_sla_due_at(ticket, timers, sync.changed)
            return list(sync.changed.values())
        sync.first_response(timers.get(Metric.FIRST_RESPONSE))
        sync.next_response(timers.get(Metric.NEXT_RESPONSE))
        sync.resolution(timers.get(Metric.RESOLUTION))
        _keep_sla_due_at(ticket, timers, sync.changed)
        return list(sync.changed.values())


def _keep_sla_due_at(ticket: Ticket, timers: dict[str, SlaTimer], changed: dict[int, SlaTimer]) -> None:
    """Ticket.sla_due_at: the nearest due time of the current running timers (the queue's "due
    soonest" sort and "Breaching soon" view read it). Written only when it moved."""
    current = {timer.metric: timer for timer in timers.values() if timer.is_current}
    current.update({timer.metric: timer for timer in changed.values() if timer.is_current})
    due_at = min((timer.due_at for timer in current.values() if timer.state == TimerState.RUNNING), default=None)
    if due_at != ticket.sla_due_at:
        Ticket.objects.filter(pk=ticket.pk).update(sla_due_at=due_at)
        ticket.sla_due_at = due_at


# -- The scan -----------------------------------------------------------------------------------


FIRING_EVENT_KINDS = {"warning": "sla_warning", "breach": "sla_breached"}


@dataclass(frozen=True)
class SlaFiring:
    """A warning or breach the scan fired (once)."""

    kind: str  # "warning" or "breach"
    timer_id: int
    ticket_id: int
    metric: str
    due_at: datetime
    # A ticket that misses two targets in one scan (first response and resolution due together)
    # escalates once: only its first breach of the batch carries the escalation.
    escalates: bool = False


def _claim(queryset: QuerySet[SlaTimer]) -> QuerySet[SlaTimer]:
    # The ticket row is claimed with the timer: ticket services lock the ticket, then sync its
    # timers; a scanner holding a timer and then waiting on that ticket (its Event's foreign key
    # needs a share lock) would deadlock with them. Skipping both keeps the lock order one-way;
    # NO KEY UPDATE is the weakest lock that still conflicts with the services' FOR UPDATE.
    return queryset.select_for_update(skip_locked=True, no_key=True, of=("self", "ticket"))


def _due_breaches(*, now: datetime, limit: int) -> QuerySet[SlaTimer]:
    # ORDER BY due_at on the partial index (state running, not breached) reads only what is due.
    return (
        _claim(SlaTimer.objects.all())
        .select_related("ticket", "policy")
        .filter(state=TimerState.RUNNING, breached_at__isnull=True, due_at__lte=now)
        .order_by("due_at")[:limit]
    )


def _due_warnings(*, now: datetime, limit: int) -> QuerySet[SlaTimer]:
    return (
        _claim(SlaTimer.objects.all())
        .select_related("ticket", "policy")
        .filter(state=TimerState.RUNNING, warned_at__isnull=True, warning_at__isnull=False, warning_at__lte=now,
                due_at__gt=now)
        .order_by("warning_at")[:limit]
    )


def sla_scan_due(
    *, now: datetime, batch_size: int = 500, on_fire: Callable[[SlaFiring], None] | None = None
) -> list[SlaFiring]:
    """Fire the breaches and warnings due by `now`, at most `batch_size`, each exactly once.

    Rows are claimed with FOR UPDATE SKIP LOCKED, so concurrent scanners share the work instead of
    firing twice; marking and the audit Event commit together, so a scanner that dies before its
    commit leaves the rows unfired for the next scan. `on_fire` runs inside that transaction for
    each firing (where escalation actions will hook in; it must only queue side effects on commit).
    A breach also marks the warning fired: a warning after the breach would be noise.
    """
    fired: list[SlaFiring] = []
    escalated_tickets: set[int] = set()
    with transaction.atomic():
        for timer in _due_breaches(now=now, limit=batch_size):
            timer.breached_at = timer.due_at
            timer.warned_at = timer.warned_at or now
            timer.save(update_fields=["breached_at", "warned_at", "updated_at"])
            fired.append(_fire(timer, kind="breach", now=now, escalates=timer.ticket_id not in escalated_tickets))
            escalated_tickets.add(timer.ticket_id)
        if escalated_tickets:
            # A missed target changes the ticket's metrics (SLA compliance): the stamp is how the
            # metrics workers find changed tickets. The claim above holds these rows (NO KEY UPDATE).
            Ticket.objects.filter(pk__in=escalated_tickets).update(updated_at=now)
        remaining = batch_size - len(fired)
        if remaining > 0:
            for timer in _due_warnings(now=now, limit=remaining):
                timer.warned_at = now
                timer.save(update_fields=["warned_at", "updated_at"])
                fired.append(_fire(timer, kind="warning", now=now))
        if on_fire is not None:
            for firing in fired:
                on_fire(firing)
    return fired


def _fire(timer: SlaTimer, *, kind: str, now: datetime, escalates: bool = False) -> SlaFiring:
    events._record(
        ticket=timer.ticket, kind=FIRING_EVENT_KINDS[kind], actor=None, via=VIA, actor_kind=ActorKind.SLA, field=timer.metric,
        to_value={
            "metric": timer.metric,
            "policy": timer.policy.name if timer.policy else None,
            "target_minutes": timer.target_minutes,
            "due_at": timer.due_at.isoformat(),
            "fired_at": now.isoformat(),
            # The notification mail finds the policy (and whom it escalates to) through the timer.
            "timer": timer.pk,
        },
    )
    return SlaFiring(kind=kind, timer_id=timer.pk, ticket_id=timer.ticket_id, metric=timer.metric, due_at=timer.due_at,
                     escalates=escalates)


# -- Recomputing after an edit -----------------------------------------------------------------


def sla_recompute_ticket_ids(*, policy_id: int | None = None, calendar_id: int | None = None) -> list[int]:
    """The tickets whose timers an edit of this policy or calendar can change.

    A policy edit can move any unsolved ticket onto or off it (its conditions and position decide
    which policy a ticket gets), so it is every unsolved ticket; a calendar edit changes only the
    unfinished timers counted on it.
    """
    from tickets.models import UNSOLVED_STATUSES

    if policy_id is not None:
        return list(
            Ticket.objects.filter(status__in=UNSOLVED_STATUSES, merged_into__isnull=True)
            .order_by("pk").values_list("pk", flat=True)
        )
    if calendar_id is not None:
        return list(
            SlaTimer.objects.filter(state__in=UNFINISHED, is_current=True, policy__calendar_id=calendar_id)
            .order_by("ticket_id").values_list("ticket_id", flat=True).distinct()
        )
    return []


def sla_recompute_tickets(*, ticket_ids: list[int], now: datetime, reason: str) -> int:
    """Recompute the timers of these tickets from their original starts under the policies and
    calendars as they now stand; returns how many tickets had a timer changed.

    One short transaction per ticket, taking the ticket's row lock first like every ticket service
    (so a reply being saved meanwhile is simply waited for). Open pages hear `ticket.updated`.
    """
    from tickets.services.common import emit_ticket_event, lock_ticket

    changed_tickets = 0
    for ticket_id in ticket_ids:
        with transaction.atomic():
            try:
                ticket = lock_ticket(Ticket(pk=ticket_id))
            except Ticket.DoesNotExist:
                continue  # deleted since the ids were listed
            changed = sla_timers_sync(ticket=ticket, now=now, reason=reason, force_recompute=True)
            if changed:
                changed_tickets += 1
                emit_ticket_event(ticket, "ticket.updated", is_public=False, changes={
                    "sla_due_at": ticket.sla_due_at.isoformat() if ticket.sla_due_at else None,
                })
    return changed_tickets


# -- Calendars ----------------------------------------------------------------------------------


def business_hours_import_holidays(*, calendar: BusinessHours, country: str, year: int, subdiv: str | None = None) -> int:
    """Add a country's public holidays for a year to the calendar (from the `holidays` package);
    returns how many dates were added. Dates the calendar already has (entered by hand, or an
    earlier import) are kept as they are. Weekend make-up workdays (China's) become special days
    with Monday's hours. Raises ValidationError for an unknown country or when the result would
    not be a valid calendar (nothing is added then)."""
    from django.core.exceptions import ValidationError

    from tickets.models import BusinessHoliday
    from tickets.sla.calendar import holidays_for, weekend_workdays_for

    country = country.strip().upper()
    try:
        public = holidays_for(country, year, subdiv)
        workdays = weekend_workdays_for(country, year, subdiv)
    except ValueError as error:
        raise ValidationError(str(error)) from None
    source = f"imported: {country} {year}"
    existing = set(calendar.holidays.values_list("date", flat=True))
    workday_hours = list(calendar.weekly_shifts().get(0, []))
    rows = [
        BusinessHoliday(calendar=calendar, date=day, name=name, source=source)
        for day, name in public.items() if day not in existing
    ]
    if workday_hours:
        rows += [
            BusinessHoliday(calendar=calendar, date=day, name="Working day", intervals=workday_hours, source=source)
            for day in sorted(workdays) if day not in existing and day not in public
        ]
    with transaction.atomic():
        BusinessHoliday.objects.bulk_create(rows)
        calendar.to_calendar()  # raises ValidationError, rolling the import back
    return len(rows)
