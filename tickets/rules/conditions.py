"""Evaluating rule conditions (tickets.rules.vocabulary) against a ticket.

The engine compiles a rule's stored conditions once (`compile_conditions`, cached with the rule
list), then checks them against each ticket through a `Facts` object that reads what a condition
needs only when a rule asks for it: the triggering message's text, the SLA timers, the business
calendar, the values fields had before the change. A rule about the status costs no query.

Semantics worth knowing:
- text comparisons ignore case ("is", "contains"); "matches" is a regular expression searched in
  the text as written (case-sensitive unless the pattern says `(?i)`), over at most
  MAX_MATCHED_CHARS characters so a pathological pattern cannot hold a ticket change for long;
- a number, hours or time condition whose value is missing (no SLA target, never solved, a custom
  field not filled in) does not hold, whatever the operator;
- change operators ("changed", "changed to", …) look at the changes of the pass being processed
  (the change that started it and what earlier rules did); outside a trigger pass nothing changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tickets.models import (
    BusinessHours,
    Channel,
    Customer,
    Event,
    Message,
    Priority,
    SlaTimer,
    Status,
    Ticket,
    TicketType,
    TimerState,
)
from tickets.rules.vocabulary import (
    BOOLEAN,
    CHANGE_OPERATORS,
    CHOICE,
    CUSTOM_FIELD_PREFIX,
    HOURS,
    NUMBER,
    TAGS,
    TEXT,
    condition_field,
)
from tickets.sla.calendar import BusinessCalendar, is_open

MAX_MATCHED_CHARS = 20_000

# The ChangeContext key a condition field's changes are recorded under.
CHANGE_KEYS = {
    "ticket.status": "status",
    "ticket.priority": "priority",
    "ticket.type": "type",
    "ticket.team": "team",
    "ticket.assignee": "assignee",
    "ticket.subject": "subject",
    "ticket.tags": "tags",
    "ticket.escalation_level": "escalation_level",
    "requester.email": "requester",
    "requester.name": "requester",
    "requester.language": "requester",
    "requester.tier": "requester",
}

# hours_since.<x> → the ticket attribute the time counts from.
TIME_FIELDS = {
    "hours_since.created": "created_at",
    "hours_since.updated": "updated_at",
    "hours_since.status_changed": "status_changed_at",
    "hours_since.solved": "solved_at",
    "hours_since.last_customer_message": "last_customer_message_at",
    "hours_since.last_agent_reply": "last_agent_reply_at",
}
SLA_STATE_LABELS = {"none": gettext_lazy("no SLA"), "running": gettext_lazy("running"),
                    "paused": gettext_lazy("paused"), "breached": gettext_lazy("breached"), "met": gettext_lazy("met")}
CHOICE_LABELS = {"ticket.status": Status, "ticket.priority": Priority, "ticket.type": TicketType,
                 "ticket.channel": Channel, "requester.tier": Customer.Tier}


@dataclass(frozen=True)
class Condition:
    """One stored condition, compiled: its field's kind resolved (custom fields' from their
    definition) and its regular expression compiled, so checking it costs no query."""

    stored: dict[str, Any]
    group: str
    field: str
    operator: str
    value: Any
    kind: str
    pattern: re.Pattern[str] | None = None

    @property
    def is_change(self) -> bool:
        return self.operator in CHANGE_OPERATORS


@dataclass(frozen=True)
class CompiledConditions:
    all: tuple[Condition, ...] = ()
    any: tuple[Condition, ...] = ()
    # What the facts must fetch for these conditions (decided once, at compile time).
    needs_message: bool = False
    needs_previous: bool = False
    # Whether a condition reads what only a saved ticket has (its SLA timers and due time, its
    # calendar, its moments): such a rule cannot be checked on a new ticket before its INSERT.
    needs_saved_ticket: bool = False

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.all + self.any

    @property
    def is_empty(self) -> bool:
        return not self.all and not self.any


def compile_conditions(conditions: dict[str, Any] | None) -> CompiledConditions:
    """The stored conditions ready to check. A condition on a field that no longer exists (a
    custom field deleted since) never holds, so the rule stops matching instead of crashing."""
    compiled: dict[str, list[Condition]] = {"all": [], "any": []}
    for group in ("all", "any"):
        for stored in (conditions or {}).get(group) or []:
            if not isinstance(stored, dict):
                continue
            key = str(stored.get("field", ""))
            definition = condition_field(key)
            operator = str(stored.get("operator", ""))
            pattern = None
            if operator == "matches":
                try:
                    pattern = re.compile(str(stored.get("value") or ""))
                except re.error:
                    pattern = None
            compiled[group].append(Condition(
                stored=stored, group=group, field=key, operator=operator, value=stored.get("value"),
                kind=definition.kind if definition is not None else "", pattern=pattern,
            ))
    every = compiled["all"] + compiled["any"]
    return CompiledConditions(
        all=tuple(compiled["all"]), any=tuple(compiled["any"]),
        needs_message=any(c.field == "message.text" for c in every),
        needs_previous=any(c.operator == "changed_from" or (c.is_change and c.field.startswith(CUSTOM_FIELD_PREFIX))
                           for c in every),
        needs_saved_ticket=any(c.field in SAVED_TICKET_FIELDS or c.field in TIME_FIELDS for c in every),
    )


# Condition fields whose value exists only once the ticket is saved and its SLA synced.
SAVED_TICKET_FIELDS = frozenset({"business_hours", "sla.state", "sla.hours_to_due"})


# -- What a condition looks at ------------------------------------------------------------------


@dataclass
class Facts:
    """One ticket as conditions see it at `now`, with what the pass changed. Reads lazily and
    remembers what it read until `refresh` (the ticket changed under it)."""

    ticket: Ticket
    now: datetime = field(default_factory=timezone.now)
    # Field → new value (tickets.services.reactions.ChangeContext.changes); shared, so changes
    # that earlier rules make in the pass show here at once.
    changes: dict[str, Any] = field(default_factory=dict)
    message_id: int | None = None
    # For previews: use the ticket's latest public message when no message started the pass.
    latest_message_if_none: bool = False
    # A new ticket: its first message (the description) is the message that started the pass.
    first_message_if_none: bool = False
    # Field → value before the pass (from the audit events), read on first need.
    _previous: dict[str, Any] | None = None
    _event_watermark: int | None = None
    _cache: dict[str, Any] = field(default_factory=dict)
    _noted_previous: dict[str, Any] = field(default_factory=dict)

    def refresh(self) -> None:
        """Forget what was read about the ticket's state (rules just changed it); the message that
        started the pass stays what it was."""
        message_text = self._cache.get("message_text")
        self._cache.clear()
        if message_text is not None:
            self._cache["message_text"] = message_text

    def know_new_ticket(self, *, message_text: str) -> None:
        """A ticket not inserted yet (triggers run before its INSERT): its description is the
        message of the pass and it has no audit history, so neither is read from the database."""
        self.know_message_text(message_text)
        self._previous, self._event_watermark = {}, 0

    def know_message_text(self, message_text: str) -> None:
        """The text of the pass's message, known already (not read from the database)."""
        self._cache["message_text"] = message_text

    def remember_watermark(self) -> None:
        """Note the ticket's latest audit event at the start of a pass: values before the pass are
        the `from_value` of the pass's first event for each field."""
        if self._event_watermark is None:
            self._load_previous()

    # -- lazily read facts -------------------------------------------------------------------

    def _cached(self, key: str, load: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    @property
    def message_text(self) -> str:
        def load() -> str:
            if self.message_id is not None:
                text = Message.objects.filter(pk=self.message_id).values_list("body_text", flat=True).first()
                return text or ""
            if self.first_message_if_none:
                text = (Message.objects.filter(ticket_id=self.ticket.pk).order_by("id")
                        .values_list("body_text", flat=True).first())
                return text or ""
            if self.latest_message_if_none:
                text = (Message.objects.filter(ticket_id=self.ticket.pk, visibility="public")
                        .order_by("-created_at", "-id").values_list("body_text", flat=True).first())
                return text or ""
            return ""

        return self._cached("message_text", load)

    @property
    def sla_timers(self) -> list[SlaTimer]:
        def load() -> list[SlaTimer]:
            self.sla_current()
            return list(SlaTimer.objects.filter(ticket_id=self.ticket.pk, is_current=True)
                        .exclude(state=TimerState.CANCELLED).select_related("policy__calendar"))

        return self._cached("sla_timers", load)

    def sla_current(self) -> None:
        """Make the SLA sync the running pass put off (an earlier rule's change), so SLA
        conditions see the timers and due time as the ticket now stands."""
        if self.ticket.pk is None:
            return
        from tickets.services.reactions import sla_sync_pending

        synced = sla_sync_pending(self.ticket.pk)
        if synced is not None and synced is not self.ticket:
            self.ticket.sla_due_at = synced.sla_due_at

    @property
    def calendar(self) -> BusinessCalendar:
        return self._cached("calendar", self._load_calendar)

    def _load_calendar(self) -> BusinessCalendar:
        """The ticket's SLA policy's calendar: its timers' policy, else the policy that applies to
        it now; without a policy, the default calendar (`default_calendar`)."""
        from tickets.sla.services import calendar_of, policy_for

        policy = next((timer.policy for timer in self.sla_timers if timer.policy is not None), None)
        if policy is None:
            policy = policy_for(ticket=self.ticket)
        if policy is not None:
            return calendar_of(policy)
        return default_calendar()

    @property
    def noted_previous(self) -> dict[str, Any]:
        return self._noted_previous

    def note_previous(self, change_key: str, value: Any) -> None:
        """The value a field had before a change the engine made in memory (no event yet)."""
        self._noted_previous.setdefault(change_key, value)

    def previous(self, change_key: str) -> Any:
        """The field's value before the pass (its first audit event in the pass), or None."""
        if change_key in self._noted_previous:
            return self._noted_previous[change_key]
        if self._previous is None:
            self._load_previous()
        assert self._previous is not None
        if change_key not in self._previous and change_key in self.changes:
            # Changed by a rule during the pass: its first event after the pass started.
            first = (Event.objects.filter(ticket_id=self.ticket.pk, field=change_key, id__gt=self._event_watermark or 0)
                     .order_by("id").values_list("from_value", flat=True).first())
            self._previous[change_key] = first
        return self._previous.get(change_key)

    def _load_previous(self) -> None:
        # The change that started the pass wrote its events last; a change writes a handful.
        recent = list(Event.objects.filter(ticket_id=self.ticket.pk).order_by("-id")
                      .values_list("id", "field", "from_value")[:30])
        self._event_watermark = recent[0][0] if recent else 0
        previous: dict[str, Any] = {}
        for _id, changed_field, from_value in recent:
            if changed_field in self.changes and changed_field not in previous:
                previous[changed_field] = from_value
        self._previous = previous


def default_calendar() -> BusinessCalendar:
    """The calendar `business_hours` conditions use for tickets without an SLA policy: the one
    named by HELPDESK_RULES_DEFAULT_CALENDAR, else the first calendar created, else 24/7 (UTC)."""
    from tickets.sla.services import ALWAYS_OPEN

    name = str(getattr(settings, "HELPDESK_RULES_DEFAULT_CALENDAR", "") or "")
    calendars = BusinessHours.objects.order_by("pk")
    hours = calendars.filter(name=name).first() if name else None
    hours = hours or calendars.first()
    return hours.to_calendar() if hours is not None else ALWAYS_OPEN


def _id_text(value: Any) -> str:
    return "" if value in (None, "") else str(value)


def _sla_state(facts: Facts) -> str:
    """"none", or the most pressing state of the ticket's current targets: breached (a target
    missed, running or finished), running, paused, met."""
    timers = facts.sla_timers
    if not timers:
        return "none"
    if any(timer.breached_at is not None or (timer.state == TimerState.RUNNING and timer.due_at <= facts.now)
           for timer in timers):
        return "breached"
    states = {timer.state for timer in timers}
    for state in (TimerState.RUNNING, TimerState.PAUSED, TimerState.MET):
        if state in states:
            return str(state)
    return "none"


def _hours_to_due(facts: Facts) -> float | None:
    facts.sla_current()
    due = facts.ticket.sla_due_at
    if due is None:
        return None
    return (due - facts.now).total_seconds() / 3600


def _moment(facts: Facts, key: str) -> datetime | None:
    ticket = facts.ticket
    attribute = TIME_FIELDS[key]
    if attribute == "status_changed_at":
        return ticket.status_changed_at or ticket.created_at
    return getattr(ticket, attribute)


# Field → how to read it from the facts; built once (this runs for every rule of every change).
_FIELD_READERS: dict[str, Callable[[Facts], Any]] = {
    "ticket.status": lambda f: f.ticket.status,
    "ticket.priority": lambda f: f.ticket.priority,
    "ticket.type": lambda f: f.ticket.type,
    "ticket.channel": lambda f: f.ticket.channel,
    "ticket.team": lambda f: _id_text(f.ticket.team_id),
    "ticket.assignee": lambda f: _id_text(f.ticket.assignee_id),
    "ticket.organization": lambda f: _id_text(f.ticket.organization_id),
    "ticket.tags": lambda f: list(f.ticket.tags or []),
    "ticket.subject": lambda f: f.ticket.subject,
    "ticket.escalation_level": lambda f: f.ticket.escalation_level,
    "ticket.reopen_count": lambda f: f.ticket.reopen_count,
    "requester.email": lambda f: f.ticket.requester.email,
    "requester.name": lambda f: f.ticket.requester.name,
    "requester.language": lambda f: f.ticket.requester.language,
    "requester.tier": lambda f: f.ticket.requester.tier,
    "message.text": lambda f: f.message_text,
    "business_hours": lambda f: is_open(f.calendar, f.now),
    "sla.state": lambda f: _sla_state(f),
    "sla.hours_to_due": lambda f: _hours_to_due(f),
}


def field_value(facts: Facts, key: str) -> Any:
    """The ticket's value for a condition field, in the shape its kind compares."""
    reader = _FIELD_READERS.get(key)
    if reader is not None:
        return reader(facts)
    if key in TIME_FIELDS:
        moment = _moment(facts, key)
        return None if moment is None else (facts.now - moment).total_seconds() / 3600
    if key.startswith(CUSTOM_FIELD_PREFIX):
        return (facts.ticket.custom_fields or {}).get(key.removeprefix(CUSTOM_FIELD_PREFIX))
    return None


def _number(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _tags(values: Iterable[Any]) -> set[str]:
    return {str(value).strip().lower() for value in values or [] if str(value).strip()}


def _requester_attribute(key: str) -> str:
    return key.removeprefix("requester.")


def _change_holds(condition: Condition, facts: Facts) -> bool:
    key = condition.field
    if key.startswith(CUSTOM_FIELD_PREFIX):
        name = key.removeprefix(CUSTOM_FIELD_PREFIX)
        if "custom_fields" not in facts.changes:
            changed, new, old = False, None, None
        else:
            before = facts.previous("custom_fields")
            new = (facts.changes.get("custom_fields") or {}).get(name)
            old = before.get(name) if isinstance(before, dict) else None
            changed = _id_text(new) != _id_text(old)
    else:
        change_key = CHANGE_KEYS.get(key)
        changed = change_key is not None and change_key in facts.changes
        new = old = None
        if changed and change_key == "requester":
            # The requester changed: compare the new and the former requester's attribute.
            new = field_value(facts, key)
            if condition.operator == "changed_from":
                former = Customer.objects.filter(pk=facts.previous("requester")).first()
                old = getattr(former, _requester_attribute(key), None) if former is not None else None
        elif changed:
            new = facts.changes.get(str(change_key))
            if condition.operator == "changed_from":
                old = facts.previous(str(change_key))
    if condition.operator == "changed":
        return changed
    if condition.operator == "not_changed":
        return not changed
    if condition.operator == "changed_to":
        return changed and _id_text(new) == _id_text(condition.value)
    if condition.operator == "changed_from":
        return changed and _id_text(old) == _id_text(condition.value)
    return False


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "gt": lambda a, b: a > b, "lte": lambda a, b: a <= b, "gte": lambda a, b: a >= b,
}


def holds(condition: Condition, facts: Facts) -> bool:
    """Whether one condition holds for the facts."""
    if not condition.kind:
        return False  # its field is gone
    if condition.is_change:
        return _change_holds(condition, facts)
    actual = field_value(facts, condition.field)
    operator, expected = condition.operator, condition.value
    kind = condition.kind
    if kind == CHOICE:
        text = _id_text(actual)
        if operator == "is":
            return text == _id_text(expected)
        if operator == "is_not":
            return text != _id_text(expected)
        if operator == "in":
            return text in {_id_text(value) for value in expected or []}
        if operator == "not_in":
            return text not in {_id_text(value) for value in expected or []}
        return False
    if kind == TEXT:
        text = "" if actual is None else str(actual)
        if operator == "is_empty":
            return not text.strip()
        if operator == "is_not_empty":
            return bool(text.strip())
        if operator == "matches":
            return condition.pattern is not None and condition.pattern.search(text[:MAX_MATCHED_CHARS]) is not None
        folded, wanted = text.casefold(), str(expected or "").casefold()
        if operator == "is":
            return folded.strip() == wanted.strip()
        if operator == "is_not":
            return folded.strip() != wanted.strip()
        if operator == "contains":
            return wanted in folded
        if operator == "not_contains":
            return wanted not in folded
        return False
    if kind == TAGS:
        have, wanted_tags = _tags(actual or []), _tags(expected or [])
        if operator == "includes_any":
            return bool(have & wanted_tags)
        if operator == "includes_all":
            return wanted_tags <= have
        if operator == "includes_none":
            return not have & wanted_tags
        return False
    if kind == BOOLEAN:
        return _truthy(actual) if operator == "is_true" else not _truthy(actual) if operator == "is_false" else False
    if kind in (NUMBER, HOURS):
        number, limit = _number(actual), _number(expected)
        if number is None or limit is None:
            return False
        compare = _COMPARISONS.get(operator)
        return compare is not None and compare(number, limit)
    return False


def matches(conditions: CompiledConditions, facts: Facts) -> bool:
    """Whether a rule with these conditions matches: every "all" condition holds and, when there
    are "any" conditions, one of them does. Stops at the first answer (the hot path)."""
    if not all(holds(condition, facts) for condition in conditions.all):
        return False
    return not conditions.any or any(holds(condition, facts) for condition in conditions.any)


# -- Explaining (previews) ----------------------------------------------------------------------


def _hours_text(hours: float) -> str:
    return _("%(hours)s h") % {"hours": f"{hours:.1f}"}


def actual_text(condition: Condition, facts: Facts) -> str:
    """The ticket's value the condition looked at, as a person reads it."""
    key = condition.field
    if not condition.kind:
        return _("(this field no longer exists)")
    if condition.is_change:
        change_key = "custom_fields" if key.startswith(CUSTOM_FIELD_PREFIX) else CHANGE_KEYS.get(key)
        if change_key is None or change_key not in facts.changes:
            return _("not changed")
        return _("changed to %(value)s") % {"value": _display(key, facts.changes.get(change_key), facts)}
    return _display(key, field_value(facts, key), facts)


def _display(key: str, value: Any, facts: Facts) -> str:
    from tickets.models import Organization, Team, User

    if key.startswith(CUSTOM_FIELD_PREFIX) and isinstance(value, dict):
        value = value.get(key.removeprefix(CUSTOM_FIELD_PREFIX))
    if value is None or value == "" or value == []:
        if key in TIME_FIELDS or key == "sla.hours_to_due":
            return _("never") if key in TIME_FIELDS else _("no SLA target running")
        return _("none")
    if key in CHOICE_LABELS:
        try:
            return str(CHOICE_LABELS[key](value).label)
        except ValueError:
            return str(value)
    models: dict[str, Any] = {"ticket.team": Team, "ticket.assignee": User, "ticket.organization": Organization}
    if key in models:
        instance = models[key].objects.filter(pk=value).first() if str(value).isdigit() else None
        return str(getattr(instance, "name", value)) if instance is not None else f"#{value}"
    if key == "business_hours":
        return _("yes") if value else _("no")
    if key == "sla.state":
        return str(SLA_STATE_LABELS.get(value, value))
    if key in TIME_FIELDS or key == "sla.hours_to_due":
        return _hours_text(float(value))
    if key == "message.text":
        text = str(value)
        return text if len(text) <= 120 else text[:117] + "…"
    if isinstance(value, list):
        return ", ".join(str(part) for part in value)
    return str(value)


def time_moment(facts: Facts, key: str) -> datetime | None:
    """When a time condition's clock started for this ticket (automations' anchors)."""
    return _moment(facts, key)

