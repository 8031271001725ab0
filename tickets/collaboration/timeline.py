"""How tickets.collaboration's audit events read on the ticket timeline.

EVENT_TEXTS maps an Event.kind to a function (event, actor: SafeString, to_value: dict) -> SafeString,
looked up by tickets.views.agent.timeline.describe_event. Names and numbers come from the event's
own values (stored when it happened), so the timeline needs no query for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from tickets.models import Event


def _number(to_value: dict[str, Any]) -> str:
    return str(to_value.get("ticket", "?"))


def _mentioned(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    return format_html(_("{actor} mentioned {name} in a note"), actor=actor,
                       name=format_html("<strong>{}</strong>", to_value.get("name") or "?"))


def _follower(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    is_self = to_value.get("user") == event.actor_user_id
    name = format_html("<strong>{}</strong>", to_value.get("name") or "?")
    if event.kind == "follower_added":
        if is_self:
            return format_html(_("{actor} started following this ticket"), actor=actor)
        return format_html(_("{actor} added {name} as a follower"), actor=actor, name=name)
    if is_self:
        return format_html(_("{actor} stopped following this ticket"), actor=actor)
    return format_html(_("{actor} removed {name} from the followers"), actor=actor, name=name)


def _link(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    number, role = _number(to_value), to_value.get("role")
    if event.kind == "linked":
        if role == "problem":
            text = _("{actor} linked this ticket as an incident of problem #{number}")
        elif role == "incident":
            text = _("{actor} linked #{number} as an incident of this problem")
        else:
            text = _("{actor} linked this ticket to #{number}")
    elif role == "problem":
        text = _("{actor} unlinked this ticket from problem #{number}")
    elif role == "incident":
        text = _("{actor} unlinked incident #{number} from this problem")
    else:
        text = _("{actor} removed the link to #{number}")
    return format_html(text, actor=actor, number=number)


def _incidents_solved(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    numbers = ", ".join(f"#{number}" for number in to_value.get("tickets") or [])
    if not numbers:
        return format_html(_("{actor} solved this problem (no open incidents to notify)"), actor=actor)
    return format_html(_("{actor} solved this problem and notified its incidents {numbers}"), actor=actor,
                       numbers=numbers)


def _solved_with_problem(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    return format_html(_("{actor} solved this incident with problem #{number}"), actor=actor, number=_number(to_value))


def _split_into(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    return format_html(_("{actor} moved {count} message(s) to the new ticket #{number}"), actor=actor,
                       count=to_value.get("messages", "?"), number=_number(to_value))


def _split_from(event: Event, actor: SafeString, to_value: dict[str, Any]) -> SafeString:
    return format_html(_("{actor} split this ticket off #{number} ({count} message(s))"), actor=actor,
                       count=to_value.get("messages", "?"), number=_number(to_value))


EVENT_TEXTS: dict[str, Callable[[Event, SafeString, dict[str, Any]], SafeString]] = {
    "mentioned": _mentioned,
    "follower_added": _follower,
    "follower_removed": _follower,
    "linked": _link,
    "unlinked": _link,
    "incidents_solved": _incidents_solved,
    "solved_with_problem": _solved_with_problem,
    "split_into": _split_into,
    "split_from": _split_from,
}


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
