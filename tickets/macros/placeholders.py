"""Placeholders in macro replies and rule mails: `{{ ticket.number }}`, `{{ requester.first_name }}`…

Deliberately not the Django template language: a macro is written by agents and a rule mail by
admins, and neither may reach anything but the values listed here (no attribute walking, no tags,
no filters, no includes). A placeholder that is not on the list is left as written, so a typo shows
in the preview instead of silently vanishing; values are inserted as plain text (the reply is
escaped when it becomes HTML like any other typed reply).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Ticket, User

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+(?:\.[a-z_]+)?)\s*\}\}")


def _first_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        return ""
    # CJK names have no spaces; the whole name is the polite form of address.
    return name.split()[0] if " " in name else name


def _ticket_url(ticket: Ticket) -> str:
    """The requester's page of the ticket in the portal."""
    return str(settings.HELPDESK_SITE_URL).rstrip("/") + reverse("portal:ticket", args=[ticket.number])


def _signer(ticket: Ticket, agent: User | None) -> Any:
    """Who "agent" means: the agent applying the macro, or (a rule's mail or macro) the assignee."""
    return agent if agent is not None else ticket.assignee


# name → (ticket, agent) → value. Only these exist.
PLACEHOLDERS: dict[str, Callable[[Ticket, User | None], Any]] = {
    "ticket.number": lambda t, a: t.number,
    "ticket.subject": lambda t, a: t.subject,
    "ticket.status": lambda t, a: t.get_status_display(),
    "ticket.priority": lambda t, a: t.get_priority_display(),
    "ticket.url": lambda t, a: _ticket_url(t),
    "ticket.type": lambda t, a: t.get_type_display(),
    "ticket.channel": lambda t, a: t.get_channel_display(),
    "ticket.created_date": lambda t, a: timezone.localdate(t.created_at).isoformat() if t.created_at else "",
    "ticket.team": lambda t, a: t.team.name if t.team else "",
    "requester.name": lambda t, a: t.requester.name,
    "requester.first_name": lambda t, a: _first_name(t.requester.name),
    "requester.email": lambda t, a: t.requester.email,
    "organization.name": lambda t, a: t.organization.name if t.organization else "",
    "agent.name": lambda t, a: _signer(t, a).name if _signer(t, a) else "",
    "agent.first_name": lambda t, a: _first_name(_signer(t, a).name if _signer(t, a) else ""),
    "agent.email": lambda t, a: _signer(t, a).email if _signer(t, a) else "",
    "assignee.name": lambda t, a: t.assignee.name if t.assignee else "",
}

# What each placeholder stands for, in the order the macro form lists them (its placeholder hint).
PLACEHOLDER_DESCRIPTIONS: dict[str, Any] = {
    "ticket.number": _("The ticket's number"),
    "ticket.subject": _("The ticket's subject"),
    "ticket.status": _("The ticket's status (after the macro's changes)"),
    "ticket.priority": _("The ticket's priority"),
    "ticket.type": _("The ticket's type"),
    "ticket.channel": _("The channel the ticket came in through"),
    "ticket.created_date": _("The day the ticket was created (YYYY-MM-DD)"),
    "ticket.url": _("The link to the ticket in the customer portal"),
    "ticket.team": _("The ticket's team"),
    "requester.name": _("The requester's full name"),
    "requester.first_name": _("The requester's first name (the whole name when it has no spaces)"),
    "requester.email": _("The requester's email address"),
    "organization.name": _("The requester's organization"),
    "agent.name": _("Your name (for rules: the assignee's)"),
    "agent.first_name": _("Your first name (for rules: the assignee's)"),
    "agent.email": _("Your email address (for rules: the assignee's)"),
    "assignee.name": _("The assignee's name"),
}


def render_placeholders(text: str, *, ticket: Ticket, agent: User | None = None) -> str:
    """`text` with each known placeholder replaced by its value as plain text; unknown ones kept.

    A value is never scanned again, so a customer who names themselves "{{ agent.name }}" gets
    exactly that text back, not another substitution.
    """

    def replace(match: re.Match[str]) -> str:
        getter = PLACEHOLDERS.get(match.group(1))
        if getter is None:
            return match.group(0)
        value = getter(ticket, agent)
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(replace, text or "")


def unknown_placeholders(text: str) -> list[str]:
    """The placeholders in `text` that are not on the list (for form validation and previews)."""
    return sorted({name for name in PLACEHOLDER.findall(text or "") if name not in PLACEHOLDERS})
