"""How tickets.rules's audit events read on the ticket timeline.

EVENT_TEXTS maps an Event.kind to a function (event, actor: SafeString, to_value: dict) -> SafeString,
looked up by tickets.views.agent.timeline.describe_event. Changes a rule made (Event.via
"rule:<id>") are named after the rule by `rule_actor_name`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from tickets.models import Event, Rule, RuleKind

# Rule names by id for the timeline, per process, for NAME_TTL_SECONDS: a timeline of a hundred
# rule-made changes costs one query per rule, and a renamed rule shows its new name soon.
NAME_TTL_SECONDS = 60.0
_names: dict[int, tuple[str | None, float]] = {}


def _rule_name(rule_id: int) -> str | None:
    cached = _names.get(rule_id)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    name = Rule.objects.filter(pk=rule_id).values_list("name", flat=True).first()
    _names[rule_id] = (name, time.monotonic() + NAME_TTL_SECONDS)
    return name


def _rule_ids(event: Event) -> list[int]:
    # "rule:<id>", or "rule:<id>,<id>…" for changes several triggers of one pass made together.
    _prefix, separator, value = (event.via or "").partition("rule:")
    return [int(part) for part in value.split(",") if part.isdigit()] if separator else []


def rule_actor_name(event: Event) -> str:
    """The name a change made by rules shows as: the rule's name (its name then, from the rule's
    own events; else as it is now), several joined by commas, or "Deleted rule"."""
    if event.kind.startswith("rule_") and isinstance(event.to_value, dict) and event.to_value.get("name"):
        return str(event.to_value["name"])
    names = [_rule_name(rule_id) or _("Deleted rule") for rule_id in _rule_ids(event)]
    return ", ".join(names) if names else _("Deleted rule")


def _kind_label(to_value: dict[str, Any]) -> str:
    return _("Automation") if to_value.get("kind") == RuleKind.AUTOMATION else _("Trigger")


def _applied(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    mailed = sum(len(email.get("recipients") or []) for email in to_value.get("emails") or [])
    if mailed:
        return format_html(_("{kind} {rule} ran and mailed {count} agent(s)"), kind=_kind_label(to_value),
                           rule=actor, count=mailed)
    return format_html(_("{kind} {rule} ran"), kind=_kind_label(to_value), rule=actor)


def _failed(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    return format_html(_("{kind} {rule} failed and changed nothing: {error}"), kind=_kind_label(to_value), rule=actor,
                       error=to_value.get("error") or "?")


def _suppressed(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    return format_html(_("{kind} {rule} was not run: it ran too often on this ticket in the last hour "
                         "(loop protection)"), kind=_kind_label(to_value), rule=actor)


EVENT_TEXTS: dict[str, Callable[[Event, SafeString, dict[str, Any]], SafeString]] = {
    "rule_applied": _applied,
    "rule_failed": _failed,
    "rule_suppressed": _suppressed,
}
