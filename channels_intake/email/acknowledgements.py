"""The acknowledgement a new ticket opened by email gets: "we have your request, it is #N".

Switched on per team (`TeamEmailSettings.acknowledgement_enabled`). Sent, like Zendesk's "request
received" trigger and Zammad's "auto reply (on new tickets)", for every ticket a mail opens,
follow-ups of closed tickets included (the customer learns the new number their mail went to);
never for a mail added to an existing ticket. Never sent:
- to automatic mail (RFC 3834: Auto-Submitted, Precedence bulk/list, List-Id, X-Autoreply, a null
  return path, MAILER-DAEMON and postmaster senders; see `classify.auto_submitted_reasons`), nor to
  a null envelope sender, a no-reply address, or mail carrying another ticket system's loop guard
  (X-Loop, X-RT-Loop-Prevention, X-Zammad-Loop, X-OTRS-Loop) or an unsubscribe link (List-Unsubscribe);
- to one of our own addresses (a loop with ourselves or another helpdesk);
- more than HELPDESK_EMAIL_AUTO_REPLIES_PER_HOUR times an hour to one sender address: two auto-
  responders answering each other stop after a few rounds (counted by PostgreSQL over the stored
  mails that caused an automatic reply, under a lock per sender, so workers in parallel agree).

The acknowledgement is a public ticket message (author "system", channel email, queued) created by
`tickets.services.ticket_messages.ticket_add_automatic_reply`, and delivered by the outbound task
like an agent's reply, marked `Auto-Submitted: auto-replied`. Its text is the team's own, or the
default (templates/channels_intake/email/acknowledgement.txt and .html) in the customer's language.

Placeholders in a team's subject and text: {ticket_number}, {subject}, {customer_name}, {team_name}.
They are replaced by plain substitution, never by str.format or a template engine, so a text can
neither reach attributes ({ticket.__class__}) nor run template code; anything else in braces stays
as it is written (the admin form refuses unknown names).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext

from channels_intake.email.classify import is_system_sender
from channels_intake.email.mailboxes import Mailboxes
from channels_intake.email.outbound import ACKNOWLEDGEMENT_SOURCE, header_text
from channels_intake.email.parser import ParsedEmail
from channels_intake.models import Door, RawInbound, TeamEmailSettings
from tickets.models import Message, Ticket

PLACEHOLDERS = ("ticket_number", "subject", "customer_name", "team_name")
# Addresses that say they take no answers (noreply@, no-reply@, do-not-reply@, donotreply@ ...).
_NO_REPLY_LOCAL_PART = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply)([-_.+].*)?$", re.IGNORECASE)
# Headers of ticket systems' own mail (loop guards) and of mass mailings (unsubscribe links).
_LOOP_HEADERS = ("X-Loop", "X-RT-Loop-Prevention", "X-Zammad-Loop", "X-OTRS-Loop", "List-Unsubscribe")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
DEFAULT_AUTO_REPLIES_PER_HOUR = 5
RATE_WINDOW = timedelta(hours=1)


def unknown_placeholders(text: str) -> list[str]:
    """The names in braces of `text` that are no placeholder, in order, once each."""
    return list(dict.fromkeys(name for name in _PLACEHOLDER.findall(text or "") if name not in PLACEHOLDERS))


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """`text` with each known {placeholder} replaced by its value (plain text in, plain text out)."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text or "")


def auto_replies_per_hour() -> int:
    return int(getattr(settings, "HELPDESK_EMAIL_AUTO_REPLIES_PER_HOUR", DEFAULT_AUTO_REPLIES_PER_HOUR))


def _language(ticket: Ticket) -> str:
    return ticket.requester.language or settings.LANGUAGE_CODE


def _values(ticket: Ticket) -> dict[str, str]:
    return {
        "ticket_number": str(ticket.number),
        "subject": header_text(ticket.subject),
        "customer_name": header_text(ticket.requester.name),
        "team_name": header_text(ticket.team.name) if ticket.team_id and ticket.team else "",
    }


def acknowledgement_subject(ticket: Ticket, team_settings: TeamEmailSettings | None) -> str:
    """The acknowledgement's subject: the ticket tag (replies thread by it), then the team's subject
    or the default, in the customer's language."""
    tag = header_text(settings.HELPDESK_EMAIL_TICKET_TAG)
    custom = team_settings.acknowledgement_subject.strip() if team_settings is not None else ""
    if custom:
        text = fill_placeholders(custom, _values(ticket))
    else:
        with translation.override(_language(ticket)):
            text = gettext("We have received your request: %(subject)s") % {"subject": header_text(ticket.subject)}
    return header_text(f"[{tag}{ticket.number}] {text}")


def acknowledgement_bodies(ticket: Ticket, team_settings: TeamEmailSettings | None) -> tuple[str, str]:
    """(text, HTML) of the acknowledgement: the team's text with its placeholders filled, or the
    default templates rendered in the customer's language."""
    custom = team_settings.acknowledgement_text.strip() if team_settings is not None else ""
    if custom:
        text = fill_placeholders(custom, _values(ticket))
        return text, linebreaks(escape(text))
    context = {"ticket": ticket, "customer": ticket.requester, "team": ticket.team if ticket.team_id else None}
    with translation.override(_language(ticket)):
        text = render_to_string("channels_intake/email/acknowledgement.txt", context).strip()
        html = render_to_string("channels_intake/email/acknowledgement.html", context).strip()
    return text, html


def _lock_sender(address: str) -> None:
    """Serialise the count-and-send of automatic replies to one address until commit."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7123))", [f"auto-reply:{address}"])


def _recent_auto_replies(address: str) -> int:
    return (
        RawInbound.objects.alias(sender=Lower("from_address"))
        .filter(sender=address, auto_reply__isnull=False, processed_at__gte=timezone.now() - RATE_WINDOW)
        .count()
    )


def _refusal(*, row: RawInbound, parsed: ParsedEmail, ticket: Ticket, mailboxes: Mailboxes) -> str:
    """Why this mail gets no acknowledgement ("" when it may get one)."""
    address = (parsed.from_address or "").strip().lower()
    if parsed.is_auto_submitted:
        return "automatic mail (" + "; ".join(parsed.auto_submitted_reasons) + ")"
    if not address or is_system_sender(address):
        return f"system sender {address or '(none)'}"
    if _NO_REPLY_LOCAL_PART.match(address.rpartition("@")[0]):
        return f"{address} takes no replies"
    loop_header = next((name for name in _LOOP_HEADERS if parsed.header(name)), "")
    if loop_header:
        # Not marked automatic by RFC 3834, but sent by another ticket system or a mass mailer.
        return f"{loop_header} present"
    if row.door == Door.SMTP and not row.envelope_sender.strip().strip("<>").strip():
        return "null envelope sender"
    if mailboxes.is_own(address) or mailboxes.is_own(ticket.requester.email):
        return f"{address} is one of our own addresses"
    if not ticket.requester.email:
        return "the requester has no email address"
    if not getattr(settings, "HELPDESK_EMAIL_REPLIES", True):
        return "outbound mail is switched off (HELPDESK_EMAIL_REPLIES)"
    return ""


def acknowledge_new_ticket(
    *, row: RawInbound, parsed: ParsedEmail, ticket: Ticket, mailboxes: Mailboxes,
    team_settings: TeamEmailSettings | None = None,
) -> tuple[Message | None, str]:
    """Acknowledge the ticket `row` just opened, when its team wants it and the rules allow it.

    Returns the acknowledgement (None when none was sent) and a note for the admin ("" when the
    team does not acknowledge at all). Runs in the caller's transaction; the mail goes out after commit.
    """
    from tickets.services.ticket_messages import ticket_add_automatic_reply

    if team_settings is None and ticket.team_id:
        team_settings = TeamEmailSettings.objects.filter(team_id=ticket.team_id).first()
    if team_settings is None or not team_settings.acknowledgement_enabled:
        return None, ""
    refusal = _refusal(row=row, parsed=parsed, ticket=ticket, mailboxes=mailboxes)
    if refusal:
        return None, f"No acknowledgement: {refusal}."
    address = parsed.from_address.strip().lower()
    _lock_sender(address)
    limit = auto_replies_per_hour()
    sent = _recent_auto_replies(address)
    if sent >= limit:
        return None, f"No acknowledgement: {sent} automatic replies to {address} in the last hour (the limit is {limit})."
    text, html = acknowledgement_bodies(ticket, team_settings)
    message = ticket_add_automatic_reply(ticket=ticket, body_text=text, body_html=html, source=ACKNOWLEDGEMENT_SOURCE)
    return message, "Acknowledgement queued."
