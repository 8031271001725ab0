"""SLA timers of bulk-written demo tickets, worked out in memory as the SLA services would have
kept them while the history happened.

`tickets.sla.services.sla_timers_sync` runs after every ticket change; going through it for each
step of two thousand tickets costs minutes. For a plan without a tag a policy looks at
(tickets.demo.history sends those through the services), the same rules are replayed here over
the ticket's states, the policy matched again at each step (a raised priority may change it): first response from creation
to the first public agent reply, next response from a customer message after an agent reply to the
next agent reply, resolution from creation to the solve (pending and on hold pause the clocks; a
reopen continues the resolution clock with the solved time as a pause, or starts a new one), and
everything unfinished cancelled when the ticket closes. The timers and their pauses come out as
unsaved model rows, with the `sla_*` audit events the services record; tests compare them with the
services' rows for the same plans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from tickets.demo.bulk import EVENT_COLUMNS, NULL, _copy, _extra_columns, _json, _ts
from tickets.demo.plan import ASSIGN, CUSTOMER, EPOCH, NOTE, PRIORITY, REPLY, STATUS, TAG, TicketPlan, moment
from tickets.models import BusinessHours, Event, SlaPolicy, SlaTimer, SlaTimerPause
from tickets.models.sla import Metric, ReopenBehaviour, TimerState
from tickets.sla.calendar import BusinessCalendar, business_add, business_between
from tickets.sla.services import ALWAYS_OPEN

REOPENING = frozenset({"pending", "on_hold", "solved"})
UNFINISHED = (TimerState.RUNNING, TimerState.PAUSED)


class Policies:
    """The active policies and their calendars, matched in memory (the rule of `policy_for`)."""

    def __init__(self) -> None:
        self.policies = list(
            SlaPolicy.objects.filter(is_active=True).order_by("position", "id").select_related("calendar")
            .prefetch_related("teams", "organizations")
        )
        self.teams = {policy.pk: {team.pk for team in policy.teams.all()} for policy in self.policies}
        self.organizations = {policy.pk: {o.pk for o in policy.organizations.all()} for policy in self.policies}
        self.tags = {tag for policy in self.policies for tag in policy.tags}
        calendar_ids = {policy.calendar_id for policy in self.policies if policy.calendar_id}
        self.calendars: dict[int, BusinessCalendar] = {
            hours.pk: hours.to_calendar(list(hours.holidays.all()))
            for hours in BusinessHours.objects.filter(pk__in=calendar_ids).prefetch_related("holidays")
        }

    def policy_for(self, plan: TicketPlan, *, tier: str, priority: str | None = None) -> SlaPolicy | None:
        priority = priority or plan.priority
        for policy in self.policies:
            if (
                (not policy.priorities or priority in policy.priorities)
                and (not policy.channels or plan.channel in policy.channels)
                and (not policy.ticket_types or plan.ticket_type in policy.ticket_types)
                and (not policy.customer_tiers or tier in policy.customer_tiers)
                and (not policy.tags or set(policy.tags) & set(plan.tags))
                and (not self.teams[policy.pk] or plan.team_id in self.teams[policy.pk])
                and (not self.organizations[policy.pk] or plan.organization_id in self.organizations[policy.pk])
            ):
                return policy
        return None

    def calendar_of(self, policy: SlaPolicy | None) -> BusinessCalendar:
        return self.calendars[policy.calendar_id] if policy is not None and policy.calendar_id else ALWAYS_OPEN

    def can_simulate(self, plan: TicketPlan) -> bool:
        """Whether the plan's steps are all ones the simulation follows (not a tag a policy looks at)."""
        return all(op[0] in (ASSIGN, CUSTOMER, NOTE, PRIORITY, REPLY, STATUS)
                   or (op[0] == TAG and op[3] not in self.tags) for op in plan.ops)


@dataclass
class _Timer:
    row: SlaTimer
    pauses: list[SlaTimerPause] = field(default_factory=list)


@dataclass
class SimulatedTimers:
    timers: list[_Timer]
    sla_due_at: datetime | None
    # The services' `sla_*` audit events: (when, kind, metric, to_value), in order.
    events: list[tuple[datetime, str, str, dict]] = field(default_factory=list)


class _Simulation:
    """`tickets.sla.services._Sync` over one ticket's successive states."""

    def __init__(self, plan: TicketPlan, policies: Policies, tier: str) -> None:
        self.plan, self.policies, self.tier = plan, policies, tier
        self.priority = plan.priority
        self.policy: SlaPolicy | None = None
        self.timers: list[_Timer] = []
        self.current: dict[str, _Timer] = {}
        self.created_at = moment(plan.created_at)
        self.status = "open" if plan.assignee_id else "new"
        self.responded_at: datetime | None = None
        self.agent_at: datetime | None = None
        self.customer_at: datetime | None = self.created_at
        self.solved_at: datetime | None = None
        self.now = self.created_at
        self.reason = "created"
        self.events: list[tuple[datetime, str, str, dict]] = []

    def record(self, timer: _Timer, kind: str, **extra: object) -> None:
        row = timer.row
        self.events.append((self.now, kind, row.metric, {
            "metric": row.metric, "policy": row.policy.name if row.policy else None,
            "target_minutes": row.target_minutes,
            "due_at": row.due_at.isoformat(), "reason": self.reason, **extra,
        }))

    # -- arithmetic --------------------------------------------------------------------------

    def calendar_for(self, timer: SlaTimer) -> BusinessCalendar:
        return self.policies.calendar_of(timer.policy)

    def add(self, timer: SlaTimer, start: datetime, duration: timedelta) -> datetime:
        if not timer.is_business_hours:
            return start + duration
        return business_add(self.calendar_for(timer), start, duration)

    def between(self, timer: SlaTimer, start: datetime, end: datetime) -> timedelta:
        if end <= start:
            return timedelta(0)
        return business_between(self.calendar_for(timer), start, end) if timer.is_business_hours else end - start

    def schedule(self, timer: SlaTimer) -> None:
        if timer.breached_at is not None:
            return
        paused = timedelta(seconds=timer.paused_seconds)
        timer.due_at = self.add(timer, timer.started_at, timedelta(minutes=timer.target_minutes) + paused)
        offset = timer.policy.warning_offset_minutes(timer.target_minutes) if timer.policy else None
        timer.warning_at = None if offset is None else self.add(
            timer, timer.started_at, timedelta(minutes=offset) + paused
        )

    def should_run(self, timer: SlaTimer) -> bool:
        if self.status == "solved":
            return False
        policy = self.policy or timer.policy
        return self.status not in (policy.pause_statuses if policy is not None else ["pending", "on_hold"])

    def pause(self, timer: _Timer, at: datetime) -> None:
        timer.row.state = TimerState.PAUSED
        timer.row.paused_at = at
        timer.pauses.append(SlaTimerPause(started_at=at, status=self.status))

    def end_pause(self, timer: _Timer, at: datetime) -> None:
        row = timer.row
        open_pauses = [p for p in timer.pauses if p.ended_at is None]
        pause = max(open_pauses, key=lambda p: p.started_at) if open_pauses else None
        started = row.paused_at or (pause.started_at if pause else at)
        ended = max(at, started)
        seconds = int(self.between(row, started, ended).total_seconds())
        if pause is not None:
            pause.ended_at = ended
            pause.paused_seconds = seconds
        row.paused_seconds += seconds
        row.paused_at = None
        row.state = TimerState.RUNNING

    # -- transitions -------------------------------------------------------------------------

    def start(self, metric: str, *, started_at: datetime) -> _Timer:
        assert self.policy is not None
        target = self.target(metric)
        assert target is not None
        row = SlaTimer(metric=metric, policy=self.policy, target_minutes=target,
                       is_business_hours=self.policy.is_business_hours(metric), started_at=started_at,
                       state=TimerState.RUNNING, is_current=True, paused_seconds=0)
        self.schedule(row)
        timer = _Timer(row)
        if not self.should_run(row):
            row.state, row.paused_at = TimerState.PAUSED, max(self.now, started_at)
            timer.pauses.append(SlaTimerPause(started_at=row.paused_at, status=self.status))
        self.timers.append(timer)
        self.current[metric] = timer
        self.record(timer, "sla_started")
        return timer

    def meet(self, timer: _Timer, at: datetime) -> None:
        row = timer.row
        if row.state == TimerState.PAUSED:
            self.end_pause(timer, at)
            self.schedule(row)
        row.state = TimerState.MET
        row.met_at = at
        if row.breached_at is None and at > row.due_at:
            row.breached_at = row.due_at
        self.record(timer, "sla_met", met_at=at.isoformat(), breached=row.breached_at is not None)

    def cancel(self, timer: _Timer) -> None:
        if timer.row.state == TimerState.PAUSED:
            self.end_pause(timer, self.now)
        timer.row.state = TimerState.CANCELLED
        self.record(timer, "sla_cancelled")

    def run_clock(self, timer: _Timer) -> None:
        row = timer.row
        if row.state not in UNFINISHED:
            return
        if row.state == TimerState.RUNNING and not self.should_run(row):
            self.pause(timer, self.now)
        elif row.state == TimerState.PAUSED and self.should_run(row):
            self.end_pause(timer, self.now)
            self.schedule(row)

    def target(self, metric: str) -> int | None:
        if self.policy is None:
            return None
        return self.policy.target_minutes(metric=metric, priority=self.priority)

    def retarget(self, timer: _Timer, *, record: bool = True) -> None:
        """Follow the current policy and target, recomputing from the original start."""
        row, policy = timer.row, self.policy
        assert policy is not None
        target = self.target(row.metric)
        assert target is not None
        is_business_hours = policy.is_business_hours(row.metric)
        unchanged = (row.policy_id == policy.pk and row.target_minutes == target
                     and row.is_business_hours == is_business_hours)
        if unchanged and record:
            return
        previous_due, previous_warning = row.due_at, row.warning_at
        row.policy = policy
        row.target_minutes = target
        if row.is_business_hours != is_business_hours:
            row.is_business_hours = is_business_hours
            row.paused_seconds = sum(
                int(self.between(row, pause.started_at, pause.ended_at).total_seconds())
                for pause in timer.pauses if pause.ended_at is not None
            )
        self.schedule(row)
        if unchanged and (row.due_at, row.warning_at) == (previous_due, previous_warning):
            return
        if record:
            self.record(timer, "sla_updated", previous_due_at=previous_due.isoformat() if previous_due else None)

    def follow_policy(self, timer: _Timer) -> None:
        if timer.row.state not in UNFINISHED:
            return
        if self.target(timer.row.metric) is None:
            self.cancel(timer)
            return
        self.retarget(timer)
        self.run_clock(timer)

    # -- per metric ----------------------------------------------------------------------------

    def sync(self) -> None:
        is_ended = self.status == "closed"
        self.policy = None if is_ended else self.policies.policy_for(self.plan, tier=self.tier, priority=self.priority)
        if is_ended:
            for timer in self.current.values():
                if timer.row.state in UNFINISHED:
                    self.cancel(timer)
            return
        self.first_response(self.current.get(Metric.FIRST_RESPONSE))
        self.next_response(self.current.get(Metric.NEXT_RESPONSE))
        self.resolution(self.current.get(Metric.RESOLUTION))

    def first_response(self, timer: _Timer | None) -> None:
        if timer is None:
            if self.target(Metric.FIRST_RESPONSE) is not None and self.responded_at is None \
                    and self.status != "solved":
                self.start(Metric.FIRST_RESPONSE, started_at=self.created_at)
            return
        if timer.row.state in UNFINISHED and self.responded_at is not None:
            self.meet(timer, max(self.responded_at, timer.row.started_at))
            return
        self.follow_policy(timer)

    def next_response(self, timer: _Timer | None) -> None:
        customer_at, agent_at = self.customer_at, self.agent_at
        if timer is not None and timer.row.state in UNFINISHED and agent_at is not None \
                and agent_at >= timer.row.started_at:
            self.meet(timer, agent_at)
        awaiting = agent_at is not None and customer_at is not None and customer_at > agent_at
        if awaiting and self.target(Metric.NEXT_RESPONSE) is not None and (
            timer is None or timer.row.state not in UNFINISHED
        ):
            if timer is not None:
                timer.row.is_current = False
            assert customer_at is not None
            timer = self.start(Metric.NEXT_RESPONSE, started_at=customer_at)
        if timer is not None:
            self.follow_policy(timer)

    def resolution(self, timer: _Timer | None) -> None:
        target = self.target(Metric.RESOLUTION)
        is_solved = self.status == "solved"
        if timer is None:
            if target is not None and not is_solved:
                self.start(Metric.RESOLUTION, started_at=self.created_at)
            return
        row = timer.row
        if row.state in UNFINISHED and is_solved:
            self.meet(timer, max(self.solved_at or self.now, row.started_at))
            return
        if row.state == TimerState.MET and not is_solved and target is not None:
            self.reopen(timer)
            return
        self.follow_policy(timer)

    def reopen(self, timer: _Timer) -> None:
        row = timer.row
        assert row.met_at is not None and self.policy is not None
        if self.policy.resolution_on_reopen == ReopenBehaviour.RESTART:
            row.is_current = False
            self.start(Metric.RESOLUTION, started_at=self.now)
            return
        timer.pauses.append(SlaTimerPause(started_at=row.met_at, status="solved"))
        row.paused_at = row.met_at
        row.met_at = None
        self.end_pause(timer, self.now)
        self.retarget(timer, record=False)
        self.schedule(row)
        if not self.should_run(row):
            self.pause(timer, self.now)
        self.record(timer, "sla_started")

    # -- the ticket's steps ----------------------------------------------------------------------

    def set_status(self, target: str) -> None:
        if target == "solved":
            self.solved_at = self.now
        if self.status == "solved" and target == "open":
            self.solved_at = None
        self.status = target

    def run(self) -> SimulatedTimers:
        self.sync()
        for op in self.plan.ops:
            kind = op[0]
            self.now = moment(op[1])
            self.reason = {REPLY: "agent_reply", CUSTOMER: "customer_message"}.get(kind, "updated")
            if kind == REPLY:
                self.responded_at = self.responded_at or self.now
                self.agent_at = self.now
                target = op[4] or ("open" if self.status == "new" else None)
                if target and target != self.status:
                    self.set_status(target)
            elif kind == CUSTOMER:
                self.customer_at = self.now
                if self.status in REOPENING:
                    self.set_status("open")
            elif kind == ASSIGN:
                if self.status == "new":
                    self.set_status("open")
            elif kind == STATUS:
                if op[3] != self.status:
                    self.set_status(op[3])
            elif kind == PRIORITY:
                self.priority = op[3]
            elif kind == NOTE:
                continue  # a note changes nothing the timers follow (the service does not sync)
            self.sync()
        due = [t.row.due_at for t in self.current.values() if t.row.is_current and t.row.state == TimerState.RUNNING]
        return SimulatedTimers(self.timers, min(due, default=None), self.events)


def simulate_timers(plan: TicketPlan, *, policies: Policies, tier: str) -> SimulatedTimers:
    """The timers the SLA services would have left on the planned ticket (its whole plan replayed)."""
    return _Simulation(plan, policies, tier).run()


def timers_save(ticket_ids: Sequence[int], simulated: Sequence[SimulatedTimers]) -> int:
    """Insert the simulated timers, their pauses and their audit events for these tickets; returns
    how many timers. The events get ids after the tickets' own: within a step the services too
    record the change first and the SLA's events after it."""
    rows, pauses, event_lines = [], [], []
    event_extra = _extra_columns(Event, ("id", *EVENT_COLUMNS))
    for ticket_id, result in zip(ticket_ids, simulated, strict=True):
        for timer in result.timers:
            timer.row.ticket_id = ticket_id
            rows.append(timer)
        for at, kind, metric, value in result.events:
            event_lines.append(
                f"{ticket_id}\t{kind}\tsla\t{NULL}\tsla\t{metric}\t{NULL}\t{_json(value)}\t"
                f"{_ts((at - EPOCH) // timedelta(microseconds=1))}{event_extra[1]}\n"
            )
    # created_at / updated_at of the timers are the wall clock (auto_now): nothing reads them.
    created = SlaTimer.objects.bulk_create([timer.row for timer in rows], batch_size=2000)
    for timer, saved in zip(rows, created, strict=True):
        for pause in timer.pauses:
            pause.timer_id = saved.pk
            pauses.append(pause)
    SlaTimerPause.objects.bulk_create(pauses, batch_size=2000)
    with connection.cursor() as cursor:
        _copy(cursor, Event._meta.db_table, ", ".join(EVENT_COLUMNS) + event_extra[0], event_lines)
    return len(rows)
