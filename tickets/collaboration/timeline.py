"""How tickets.collaboration's audit events read on the ticket timeline.

EVENT_TEXTS maps an Event.kind to a function (event, actor: SafeString, to_value: dict) -> SafeString,
looked up by tickets.views.agent.timeline.describe_event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.safestring import SafeString

from tickets.models import Event

EVENT_TEXTS: dict[str, Callable[[Event, SafeString, dict[str, Any]], SafeString]] = {}


# --- side conversations (tickets.collaboration.side_conversations) ---------------------------------


def _side_conversation_text(template: Callable[[], str]) -> Callable[[Event, SafeString, dict[str, Any]], SafeString]:
    def describe(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
        from django.utils.html import format_html

        return format_html(
            template(), actor=actor, subject=to_value.get("subject", ""),
            participants=", ".join(to_value.get("participants") or []), sender=to_value.get("from", ""),
        )

    return describe


def _side_conversation_texts() -> dict[str, Callable[[Event, SafeString, dict[str, Any]], SafeString]]:
    from django.utils.translation import gettext as _

    return {
        "side_conversation_started": _side_conversation_text(
            lambda: _("{actor} started the side conversation “{subject}” with {participants}")),
        "side_conversation_sent": _side_conversation_text(
            lambda: _("{actor} wrote in the side conversation “{subject}”")),
        "side_conversation_reply": _side_conversation_text(
            lambda: _("{sender} replied in the side conversation “{subject}”")),
        "side_conversation_closed": _side_conversation_text(
            lambda: _("{actor} closed the side conversation “{subject}”")),
        "side_conversation_reopened": _side_conversation_text(
            lambda: _("{actor} reopened the side conversation “{subject}”")),
    }


EVENT_TEXTS.update(_side_conversation_texts())
