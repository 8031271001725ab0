"""How tickets.macros's audit events read on the ticket timeline.

EVENT_TEXTS maps an Event.kind to a function (event, actor: SafeString, to_value: dict) -> SafeString,
looked up by tickets.views.agent.timeline.describe_event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.safestring import SafeString

from tickets.models import Event

EVENT_TEXTS: dict[str, Callable[[Event, SafeString, dict[str, Any]], SafeString]] = {}
