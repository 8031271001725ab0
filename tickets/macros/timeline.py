"""How tickets.macros's audit events read on the ticket timeline.

EVENT_TEXTS maps an Event.kind to a function (event, actor: SafeString, to_value: dict) -> SafeString,
looked up by tickets.views.agent.timeline.describe_event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from tickets.models import Event


def _macro_applied(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    # The title as it was when applied (the macro may have been renamed or deleted since).
    return format_html(_("{actor} applied the macro {title}"), actor=actor,
                       title=format_html("<strong>{}</strong>", to_value.get("title") or "?"))


EVENT_TEXTS: dict[str, Callable[[Event, SafeString, dict[str, Any]], SafeString]] = {
    "macro_applied": _macro_applied,
}
