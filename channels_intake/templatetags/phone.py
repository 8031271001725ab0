"""Template helpers of the phone channel's pages (call entries, the ticket's "Log a call" form)."""

from __future__ import annotations

from django import template

from channels_intake.phone.forms import CallLogForm
from channels_intake.phone.numbers import format_number
from tickets.models import Ticket

register = template.Library()


@register.filter
def call_duration(seconds: int | None) -> str:
    """3:05 for 185 seconds, 1:02:03 from an hour."""
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@register.filter
def phone_number(e164: str) -> str:
    """+86 138 1234 5678 for +8613812345678 (anything else as it is)."""
    return format_number(e164) if e164 else ""


@register.simple_tag
def call_log_form(ticket: Ticket) -> CallLogForm:
    """An empty "Log a call" form for the ticket, the requester's first number filled in."""
    numbers = ticket.requester.phone_numbers if ticket.requester_id else []
    return CallLogForm(initial={"number": numbers[0] if numbers else ""}, auto_id="log-call-%s")
