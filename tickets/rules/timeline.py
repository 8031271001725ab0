"""How tickets.rules's audit events read on the ticket timeline.

EVENT_TEXTS maps an Event.kind to a function (event, actor: SafeString, to_value: dict) -> SafeString,
looked up by tickets.views.agent.timeline.describe_event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.safestring import SafeString

from tickets.models import Event

EVENT_TEXTS: dict[str, Callable[[Event, SafeString, dict[str, Any]], SafeString]] = {}


def rule_actor_name(event: Event) -> str:
    """The name a change made by a rule shows as (Event.via is "rule:<id>"); to be refined by the
    rules' owner (e.g. the rule's name, cached)."""
    from django.utils.translation import gettext as _

    return _("Rule")
