"""The live-chat bits every agent page shows: the chat status toggle in the top bar."""

from __future__ import annotations

from typing import Any

from django import template

from channels_intake.chat.console_views import presence_status

register = template.Library()


@register.inclusion_tag("channels_intake/chat/console_presence.html", takes_context=True)
def chat_presence_toggle(context: template.Context) -> dict[str, Any]:
    """The status select (online / away / offline), read from the presence store (Redis, no query)."""
    request = context["request"]
    return {"request": request, "csrf_token": context.get("csrf_token"), "presence_status": presence_status(request.user)}
