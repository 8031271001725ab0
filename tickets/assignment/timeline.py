"""How tickets.assignment's audit events read on the ticket timeline.

EVENT_TEXTS maps an Event.kind to a function (event, actor: SafeString, to_value: dict) -> SafeString,
looked up by tickets.views.agent.timeline.describe_event. Assignments made by routing and
first-contact ownership are ordinary `assignee_changed` events (via "routing" / "ownership").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from tickets.models import Event


def _escalated(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    return format_html(
        _("{actor} escalated the ticket from {from_team} to {to_team} (level {level})"),
        actor=actor,
        from_team=format_html("<strong>{}</strong>", to_value.get("from_team_name") or "?"),
        to_team=format_html("<strong>{}</strong>", to_value.get("to_team_name") or "?"),
        level=to_value.get("level", "?"),
    )


EVENT_TEXTS: dict[str, Callable[[Event, SafeString, dict[str, Any]], SafeString]] = {
    "escalated": _escalated,
}
