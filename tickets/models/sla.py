"""SLA configuration (business-hours calendars, policies) and the per-ticket timers they drive.

The arithmetic lives in `tickets.sla.calendar` (pure Python); the rules that start, pause, meet and
breach timers live in `tickets.sla.services`. These models only store and validate.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.people import Customer, Organization, Team, User
from tickets.models.ticket import Channel, Priority, Status, Ticket, TicketType
from tickets.sla.calendar import DAYS_PER_WEEK, BusinessCalendar, LocalInterval


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")


def _parse_shifts(value: Any, where: str) -> list[str]:
    """A list of "HH:MM-HH:MM" strings, each parsed once so a typo is reported where it is."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("%(where)s: give a list of shifts like \"09:00-18:00\".") % {"where": where})
    for item in value:
        try:
            LocalInterval.parse(item)
        except ValueError as error:
            raise ValidationError(f"{where}: {error}") from None
    return value


class BusinessHours(models.Model):
    """A business-hours calendar: time zone, weekly shifts, holidays and special days."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    always_open = models.BooleanField(_("open 24/7"), default=False)
    # {"0": ["09:00-12:00", "13:00-18:00"], ..., "6": []}: 0 is Monday; a shift ending before it
    # starts runs overnight into the next day ("22:00-06:00").
    weekly = models.JSONField(_("weekly schedule"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def weekly_shifts(self) -> dict[int, list[str]]:
        if not isinstance(self.weekly, dict):
            raise ValidationError({"weekly": _("The weekly schedule maps weekdays 0 (Monday) to 6 to shifts.")})
        shifts: dict[int, list[str]] = {}
        for key, value in self.weekly.items():
            if str(key) not in {str(day) for day in range(DAYS_PER_WEEK)}:
                raise ValidationError({"weekly": _("Weekdays are numbered 0 (Monday) to 6 (Sunday).")})
            shifts[int(key)] = _parse_shifts(value, str(key))
        return shifts

    def to_calendar(self, holidays: list[BusinessHoliday] | None = None) -> BusinessCalendar:
        """The frozen calendar the arithmetic works on. Raises ValidationError if it is inconsistent.

        `holidays` defaults to the stored ones (one query); the admin passes the edited ones.
        """
        if holidays is None:
            holidays = list(self.holidays.all()) if self.pk else []
        try:
            return BusinessCalendar.build(
                timezone=self.timezone,
                weekly=self.weekly_shifts(),
                always_open=self.always_open,
                holidays={holiday.date for holiday in holidays if not holiday.intervals},
                special_days={holiday.date: holiday.intervals for holiday in holidays if holiday.intervals},
            )
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def clean(self) -> None:
        self.to_calendar()


class BusinessHoliday(models.Model):
    """A date with other hours than the weekly schedule: closed (no intervals) or special hours
    (a half day, a weekend make-up workday)."""

    calendar = models.ForeignKey(
        BusinessHours, on_delete=models.CASCADE, related_name="holidays", verbose_name=_("calendar")
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=200, blank=True)
    intervals = ArrayField(
        models.CharField(max_length=16), default=list, blank=True, verbose_name=_("open hours that day"),
        help_text=_("Empty: closed all day. Otherwise the shifts of that day, e.g. 09:00-13:00."),
    )
    # "manual", or where an import came from: "imported: CN 2026".
    source = models.CharField(_("source"), max_length=64, default="manual")

    class Meta:
        verbose_name = _("holiday or special day")
        verbose_name_plural = _("holidays and special days")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="business_holiday_unique_date")]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.name}".strip()

    def clean(self) -> None:
        _parse_shifts(list(self.intervals or []), self.date.isoformat() if isinstance(self.date, date) else "")


class ReopenBehaviour(models.TextChoices):
    CONTINUE = "continue", _("Continue the resolution clock (time solved does not count)")
    RESTART = "restart", _("Start a new resolution target from the reopen")


def _default_pause_statuses() -> list[str]:
    return [Status.PENDING, Status.ON_HOLD]


# Escalation on breach: "raise" is one step up (low → normal → high → urgent); a priority value
# raises to that priority (never lowers).
RAISE_ONE_STEP = "raise"
ESCALATE_PRIORITY_CHOICES = [("", _("Keep the priority")), (RAISE_ONE_STEP, _("Raise one step")),
                             *[(value, label) for value, label in Priority.choices if value != Priority.LOW]]


class SlaPolicy(models.Model):
    """Targets for tickets that match its conditions. Policies are tried by position; the first
    active one whose conditions all hold wins. An empty condition matches every ticket."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    priorities = ArrayField(
        models.CharField(max_length=16, choices=Priority.choices), default=list, blank=True,
        verbose_name=_("priorities"),
    )
    channels = ArrayField(
        models.CharField(max_length=16, choices=Channel.choices), default=list, blank=True, verbose_name=_("channels")
    )
    ticket_types = ArrayField(
        models.CharField(max_length=16, choices=TicketType.choices), default=list, blank=True,
        verbose_name=_("ticket types"),
    )
    customer_tiers = ArrayField(
        models.CharField(max_length=16, choices=Customer.Tier.choices), default=list, blank=True,
        verbose_name=_("customer tiers"),
    )
    tags = ArrayField(
        models.CharField(max_length=64), default=list, blank=True, verbose_name=_("tags (any of)")
    )
    teams = models.ManyToManyField(Team, blank=True, related_name="+", verbose_name=_("teams"))
    organizations = models.ManyToManyField(
        Organization, blank=True, related_name="+", verbose_name=_("organizations")
    )
    calendar = models.ForeignKey(
        BusinessHours, on_delete=models.PROTECT, null=True, blank=True, related_name="policies",
        verbose_name=_("business hours"), help_text=_("Empty: business hours are 24/7 (UTC)."),
    )
    # {"urgent": {"first_response": 30, "next_response": 60, "resolution": 240}, "normal": {...}}:
    # minutes per priority and metric; a missing entry means no target (no timer) for it.
    targets = models.JSONField(_("targets (minutes)"), default=dict, blank=True)
    first_response_business_hours = models.BooleanField(_("first response in business hours"), default=True)
    next_response_business_hours = models.BooleanField(_("next response in business hours"), default=True)
    resolution_business_hours = models.BooleanField(_("resolution in business hours"), default=True)
    pause_statuses = ArrayField(
        models.CharField(max_length=16, choices=Status.choices), default=_default_pause_statuses, blank=True,
        verbose_name=_("statuses that pause the clock"),
    )
    warning_percent = models.PositiveSmallIntegerField(
        _("warn at percent elapsed"), null=True, blank=True, default=75,
    )
    warning_minutes_before = models.PositiveIntegerField(_("warn minutes before due"), null=True, blank=True)
    resolution_on_reopen = models.CharField(
        _("on reopen"), max_length=16, choices=ReopenBehaviour.choices, default=ReopenBehaviour.CONTINUE
    )
    # What a breach does besides notifying the assignee (or the team): tickets.sla.actions.
    escalate_priority = models.CharField(
        _("on breach, priority"), max_length=16, choices=ESCALATE_PRIORITY_CHOICES, default="", blank=True,
    )
    escalate_to_team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("on breach, move to team"),
    )
    escalate_assign_to_lead = models.BooleanField(
        _("on breach, assign to the team lead"), default=False,
        help_text=_("The lead of the ticket's team (after a move, of the new team)."),
    )
    escalate_add_tag = models.CharField(_("on breach, add tag"), max_length=64, blank=True)
    escalate_notify = models.ManyToManyField(
        User, blank=True, related_name="+", verbose_name=_("on breach, also notify"),
        help_text=_("For example a manager: they get the breach notification too."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def escalated_priority(self, current: str) -> str:
        """The priority a breach raises `current` to (`current` when the policy keeps it)."""
        order = list(Priority.values)
        if self.escalate_priority == RAISE_ONE_STEP:
            return order[min(order.index(current) + 1, len(order) - 1)] if current in order else current
        if self.escalate_priority in order and current in order:
            return max(current, self.escalate_priority, key=order.index)
        return current

    def target_minutes(self, *, metric: str, priority: str) -> int | None:
        value = (self.targets or {}).get(priority, {}).get(metric)
        return int(value) if value is not None else None

    def is_business_hours(self, metric: str) -> bool:
        return bool(getattr(self, f"{metric}_business_hours"))

    def warning_offset_minutes(self, target_minutes: int) -> float | None:
        """Counting minutes after the start at which the warning fires; None for no warning."""
        if self.warning_minutes_before is not None:
            return float(max(target_minutes - self.warning_minutes_before, 0))
        if self.warning_percent is not None:
            return target_minutes * min(self.warning_percent, 100) / 100
        return None

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        if not isinstance(self.targets, dict):
            errors["targets"] = [_("Targets map a priority to minutes per metric.")]
        else:
            for priority, per_metric in self.targets.items():
                if priority not in Priority.values:
                    errors.setdefault("targets", []).append(_("Unknown priority %(p)r.") % {"p": priority})
                    continue
                if not isinstance(per_metric, dict):
                    errors.setdefault("targets", []).append(
                        _("%(p)s: give minutes per metric, e.g. {\"first_response\": 60}.") % {"p": priority}
                    )
                    continue
                for metric, minutes in per_metric.items():
                    if metric not in Metric.values:
                        errors.setdefault("targets", []).append(_("Unknown metric %(m)r.") % {"m": metric})
                    elif minutes is not None and (
                        not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0
                    ):
                        errors.setdefault("targets", []).append(
                            _("%(p)s %(m)s: a target is a whole number of minutes above zero.")
                            % {"p": priority, "m": metric}
                        )
        if self.warning_percent is not None and self.warning_minutes_before is not None:
            errors["warning_minutes_before"] = [_("Warn either at a percentage or minutes before due, not both.")]
        if self.warning_percent is not None and not 1 <= self.warning_percent <= 100:
            errors["warning_percent"] = [_("A percentage between 1 and 100.")]
        if set(self.pause_statuses or []) - {Status.PENDING, Status.ON_HOLD}:
            errors["pause_statuses"] = [_("Only pending and on hold can pause the clock.")]
        if errors:
            raise ValidationError(errors)


class TimerState(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    MET = "met", _("Met")
    CANCELLED = "cancelled", _("Cancelled")


class SlaTimer(models.Model):
    """One target of one ticket: when it started, how long it was paused, when it is due.

    A missed target is `breached_at` (the instant it was due), not a state: the clock keeps
    running until the target is met, so reports can tell how late it was. `is_current` marks the
    timer a metric is measured by now; earlier ones (a next response per customer message, a
    resolution restarted on reopen) stay as history.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_timers", verbose_name=_("ticket"))
    metric = models.CharField(_("metric"), max_length=16, choices=Metric.choices)
    policy = models.ForeignKey(
        SlaPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="timers", verbose_name=_("policy")
    )
    target_minutes = models.PositiveIntegerField(_("target (minutes)"))
    is_business_hours = models.BooleanField(_("in business hours"), default=True)
    state = models.CharField(_("state"), max_length=16, choices=TimerState.choices, default=TimerState.RUNNING)
    is_current = models.BooleanField(_("current"), default=True)
    started_at = models.DateTimeField(_("started at"))
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    # Counting time (business or calendar, as the timer) spent in finished pauses.
    paused_seconds = models.PositiveIntegerField(_("paused (seconds)"), default=0)
    due_at = models.DateTimeField(_("due at"))
    warning_at = models.DateTimeField(_("warning at"), null=True, blank=True)
    met_at = models.DateTimeField(_("met at"), null=True, blank=True)
    breached_at = models.DateTimeField(_("breached at"), null=True, blank=True)
    warned_at = models.DateTimeField(_("warned at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SLA timer")
        verbose_name_plural = _("SLA timers")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "metric"], condition=models.Q(is_current=True), name="sla_timer_current_unique"
            ),
        ]
        indexes = [
            # The scan: running timers past due that have not fired; a handful among millions.
            models.Index(
                "due_at", name="sla_timer_due_idx",
                condition=models.Q(state="running", breached_at__isnull=True),
            ),
            models.Index(
                "warning_at", name="sla_timer_warning_idx",
                condition=models.Q(state="running", warned_at__isnull=True, warning_at__isnull=False),
            ),
            models.Index("ticket", "metric", "started_at", name="sla_timer_ticket_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} on #{self.ticket_id}"


class SlaTimerPause(models.Model):
    """One stretch of time a timer stood still (the ticket was pending, on hold or solved)."""

    timer = models.ForeignKey(SlaTimer, on_delete=models.CASCADE, related_name="pauses", verbose_name=_("timer"))
    started_at = models.DateTimeField(_("paused at"))
    ended_at = models.DateTimeField(_("resumed at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, blank=True)
    # Counting time (business or calendar, as the timer) this pause took off the clock.
    paused_seconds = models.PositiveIntegerField(_("paused (seconds)"), default=0)

    class Meta:
        verbose_name = _("SLA pause")
        verbose_name_plural = _("SLA pauses")
        ordering = ["started_at", "id"]
        indexes = [models.Index("timer", "started_at", name="sla_pause_timer_idx")]

    def __str__(self) -> str:
        return f"{self.timer} paused {self.started_at.isoformat()}"
