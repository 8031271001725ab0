"""Outbound mail: agents' public replies delivered to the requester by email.

Who gets mail (the rule of Zendesk and its peers): an agent's public reply goes to the ticket's
requester by email when the requester has an address and the ticket did not come in by chat or
phone (there the customer follows the conversation where it happens). Email, web-form and API
tickets get their replies by mail. Internal notes and the customer's own messages never do.

The reply is stored first: `ticket_reply` creates it with delivery state `queued` (on an email
ticket also with channel `email` and its Message-ID in `external_id`, so the customer's reply and
a bounce find it; see `queued_reply_fields`), and queues `channels_intake.tasks.deliver_message_email` on commit. The task sends it through
Django's email backend and leaves it `sent`, or `failed` after its retries (a refusal the server
calls permanent fails at once). Nothing is sent inside a request.
"""

from __future__ import annotations

import enum
import logging
import smtplib
import zoneinfo
from email.header import Header
from email.utils import make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from channels_intake.email.parser import message_id_key
from channels_intake.email.tokens import reply_address
from tickets import events
from tickets.models import ActorKind, AuthorKind, Channel, DeliveryState, Message, Ticket, Visibility

if TYPE_CHECKING:
    from channels_intake.models import OutboundCapture

logger = logging.getLogger(__name__)

# Tickets of these channels get agents' public replies by email.
EMAILED_TICKET_CHANNELS = frozenset({Channel.EMAIL, Channel.WEB, Channel.API})
# `Message.raw_source` of a new ticket's acknowledgement (channels_intake.email.acknowledgements).
ACKNOWLEDGEMENT_SOURCE = "auto-reply:acknowledgement"
QUOTED_MESSAGES = 3  # the recent public thread quoted under a reply
MAX_REFERENCES = 20  # the thread's newest Message-IDs in References (long headers get folded or cut)


class TemporaryDeliveryError(Exception):
    """The mail server could not take the message now (4xx, connection trouble): try again later."""


class DeliveryOutcome(enum.Enum):
    SENT = DeliveryState.SENT
    FAILED = DeliveryState.FAILED
    NOTHING_TO_DO = "nothing"  # not queued (sent before, or not a mail), or gone


def header_text(value: str) -> str:
    """One header line's worth of text: CR, LF and every other line break or run of spaces become
    one space, so a subject or a name can never start a header of its own."""
    return " ".join((value or "").split())


def encoded_subject(subject: str) -> str:
    """The subject as RFC 2047 encoded words when it is not ASCII, sized so the first one fits on the
    `Subject:` line. (Django encodes it too, but then folds it onto a line of its own, which
    Python's parser and some clients read back with a leading space.)"""
    subject = header_text(subject)
    if subject.isascii():
        return subject
    return " ".join(Header(subject, "utf-8", header_name="Subject").encode().split())


def _mailbox_header(name: str, address: str) -> str:
    """`"Name" <address>` with the name quoted; Django encodes non-ASCII names (RFC 2047)."""
    name = header_text(name).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}" <{address}>' if name else address


def emails_replies(ticket: Ticket) -> bool:
    """Whether agents' public replies on this ticket go to the requester by email (see the module).

    A chat ticket's replies reach the visitor in the chat while it is live; by email once the chat
    has ended (left open for a follow-up), and on a "leave a message" ticket (tag chat-offline).
    """
    if not ticket.requester.email:
        return False
    if ticket.channel == Channel.CHAT:
        from channels_intake.chat.models import Chat, ChatState
        from channels_intake.chat.services import OFFLINE_TAG

        state = Chat.objects.filter(ticket_id=ticket.pk).values_list("state", flat=True).first()
        return state == ChatState.ENDED if state is not None else OFFLINE_TAG in (ticket.tags or [])
    return ticket.channel in EMAILED_TICKET_CHANNELS


def sender_mailbox(ticket: Ticket) -> str:
    """The address replies come from: the ticket's team's first address, else DEFAULT_FROM_EMAIL."""
    if ticket.team_id and ticket.team and ticket.team.email_addresses:
        return ticket.team.email_addresses[0].lower()
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()


def new_message_id(ticket: Ticket) -> str:
    """A fresh Message-ID (without <>) in the domain of the ticket's mailbox, as it is stored."""
    domain = sender_mailbox(ticket).rpartition("@")[2] or "localhost"
    return message_id_key(make_msgid(idstring=f"ticket{ticket.pk}", domain=domain).strip("<>"))


def queued_reply_fields(*, ticket: Ticket, channel: str, external_id: str) -> dict[str, str]:
    """The fields an agent's public reply is created with when it will be mailed ({} when not).

    On an email ticket the reply joins the mail thread: channel `email`, and its Message-ID (a
    caller's own id on the email channel, else a new one) stored where the intake's threading and
    bounce handling look for it. On a web or API ticket the reply keeps the channel it was written
    in (an API client sees its reply as `api`); the mail's Message-ID is then not stored, and the
    customer's answer threads by the reply token in Reply-To and the ticket tag in the subject.
    HELPDESK_EMAIL_REPLIES=False (history imports, the demo seed) mails nothing.
    """
    if not getattr(settings, "HELPDESK_EMAIL_REPLIES", True) or not emails_replies(ticket):
        return {}
    if ticket.channel != Channel.EMAIL or (external_id and channel != Channel.EMAIL):
        return {"delivery_state": DeliveryState.QUEUED}
    return {
        "channel": Channel.EMAIL,
        "external_id": message_id_key(external_id.strip().strip("<>")) if external_id else new_message_id(ticket),
        "delivery_state": DeliveryState.QUEUED,
    }


def enqueue_delivery(message_id: int) -> None:
    """Queue the delivery task (called on commit; a broker outage leaves the message `queued`)."""
    from channels_intake.tasks import deliver_message_email

    deliver_message_email.delay(message_id)


# --- building the mail ------------------------------------------------------------------------


def _quoted_text(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in (text or "").strip().splitlines())


def _thread_ids(message: Message) -> tuple[str, list[str]]:
    """(In-Reply-To, References): the customer's last mail before this reply, and the thread's ids."""
    earlier = (
        Message.objects.filter(ticket_id=message.ticket_id, channel=Channel.EMAIL, pk__lt=message.pk)
        .exclude(external_id="")
        .exclude(external_id__startswith="mid-sha256:")  # a hash of an over-long id is no Message-ID
        .order_by("-pk")
        .values_list("external_id", "author_kind")[:MAX_REFERENCES]
    )
    rows = list(reversed(earlier))
    references = [f"<{external_id}>" for external_id, _ in rows]
    from_customer = [external_id for external_id, kind in rows if kind == AuthorKind.CUSTOMER]
    parent = from_customer[-1] if from_customer else (rows[-1][0] if rows else "")
    return (f"<{parent}>" if parent else ""), references


def _recent_thread(message: Message) -> list[Message]:
    """The public messages before this reply, newest first (internal notes are never quoted)."""
    return list(
        Message.objects.filter(ticket_id=message.ticket_id, visibility=Visibility.PUBLIC, pk__lt=message.pk)
        .select_related("author_user", "author_customer")
        .order_by("-pk")[:QUOTED_MESSAGES]
    )


def _reader_timezone(name: str) -> Any:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def build_reply_email(
    message: Message, *, automatic: bool = False, subject: str | None = None
) -> EmailMultiAlternatives:
    """The mail for a public message: headers for threading and replies, text and HTML bodies in
    the requester's language, the message's attachments, the recent public thread quoted.

    `automatic` marks mail no person wrote (acknowledgements): `Auto-Submitted: auto-replied`
    (RFC 3834), so well-behaved systems do not answer it. `subject` replaces the usual
    "Re: [#N] <ticket subject>" (it must carry the ticket tag itself).
    """
    ticket = message.ticket
    requester = ticket.requester
    mailbox = sender_mailbox(ticket)
    in_reply_to, references = _thread_ids(message)
    tag = header_text(settings.HELPDESK_EMAIL_TICKET_TAG)
    subject = header_text(subject or f"Re: [{tag}{ticket.number}] {header_text(ticket.subject)}")
    team_name = ticket.team.name if ticket.team_id and ticket.team else ""
    author = message.author_user.name if message.author_user_id and message.author_user else ""
    from_name = f"{author} ({team_name})" if author and team_name else author or team_name
    headers = {
        "Message-ID": f"<{message.external_id}>" if message.channel == Channel.EMAIL and message.external_id
        else make_msgid(domain=mailbox.rpartition("@")[2] or "localhost"),
        "Reply-To": reply_address(mailbox, ticket.pk),
    }
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
    if references:
        headers["References"] = " ".join(references)
    if automatic:
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
    thread = [
        {
            "author": quoted.author_name,
            "created_at": quoted.created_at,
            "text": _quoted_text(quoted.body_text),
            "html": quoted.body_html,
        }
        for quoted in _recent_thread(message)
    ]
    context = {"ticket": ticket, "message": message, "thread": thread, "requester": requester}
    language = requester.language or settings.LANGUAGE_CODE
    reader_zone = _reader_timezone(requester.timezone)
    with translation.override(language), timezone.override(reader_zone or timezone.get_default_timezone()):
        text = render_to_string("channels_intake/email/reply.txt", context)
        html = render_to_string("channels_intake/email/reply.html", context)
    mail = EmailMultiAlternatives(
        subject=encoded_subject(subject),
        body=text,
        from_email=_mailbox_header(from_name, mailbox),
        to=[_mailbox_header(requester.name, requester.email)],
        headers=headers,
    )
    mail.attach_alternative(html, "text/html")
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as stored:
            content = stored.read()
        mail.attach(header_text(attachment.filename) or "attachment", content, attachment.content_type or None)
    return mail


# --- delivering it ----------------------------------------------------------------------------


def is_permanent_refusal(error: Exception) -> bool:
    """A 5xx answer: the server will never take this message (unknown mailbox, refused content)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    return False


def _set_state(message: Message, *, state: str, error: str = "") -> None:
    """Record the new delivery state; failures also get an audit event (the agent must notice)."""
    from tickets.services.common import emit_ticket_event

    previous = message.delivery_state
    Message.objects.filter(pk=message.pk).update(delivery_state=state)
    message.delivery_state = state
    ticket = message.ticket
    if state == DeliveryState.FAILED:
        events.field_changed(
            ticket=ticket, actor=None, via="email", field="delivery_state", actor_kind=ActorKind.SYSTEM,
            from_value={"message": message.pk, "state": previous},
            to_value={"message": message.pk, "state": state, "error": error[:500]},
        )
    # Agents only: the requester's view has no delivery states.
    emit_ticket_event(
        ticket, "ticket.updated", is_public=False, changes={"delivery_state": {"message": message.pk, "state": state}}
    )


def rule_mail_source(via: str, subject: str) -> str:
    """`Message.raw_source` of a rule's mail to the requester: the rule ("rule:<id>"), then on a
    line of its own the subject its action rendered (there is no subject column; the mail is built
    from the message when the outbound task sends it)."""
    subject = header_text(subject)
    return f"{via}\n{subject}"[:255] if subject else via


def _rule_mail_subject(message: Message) -> str | None:
    """The subject of a rule's mail (`rule_mail_source`) with the ticket tag replies thread by;
    None when the rule gave none (then it is the usual "Re: [#N] <ticket subject>")."""
    source, _newline, subject = message.raw_source.partition("\n")
    subject = header_text(subject)
    if not source.startswith("rule:") or not subject:
        return None
    tag = f"[{header_text(settings.HELPDESK_EMAIL_TICKET_TAG)}{message.ticket.number}]"
    return subject if tag in subject else f"{tag} {subject}"


def _mail_for(message: Message) -> EmailMultiAlternatives:
    """The mail of a queued message; what the helpdesk wrote by itself goes out as automatic mail."""
    if message.author_kind != AuthorKind.SYSTEM:
        return build_reply_email(message)
    subject = _rule_mail_subject(message)
    if message.raw_source == ACKNOWLEDGEMENT_SOURCE:
        from channels_intake.email.acknowledgements import acknowledgement_subject
        from channels_intake.models import TeamEmailSettings

        team_id = message.ticket.team_id
        team_settings = TeamEmailSettings.objects.filter(team_id=team_id).first() if team_id else None
        subject = acknowledgement_subject(message.ticket, team_settings)
    return build_reply_email(message, automatic=True, subject=subject)


def message_email_deliver(*, message_id: int) -> DeliveryOutcome:
    """Send one queued message by email, once; `sent` after the server took it.

    Raises TemporaryDeliveryError when the server may take it later (the task retries); a
    permanent refusal leaves the message `failed`. The row stays locked while sending, so two
    workers handed the same message never both send it.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("ticket", "ticket__requester", "ticket__team", "author_user")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.delivery_state != DeliveryState.QUEUED:
            return DeliveryOutcome.NOTHING_TO_DO
        refusal = mail_send(_mail_for(message))
        if refusal:
            logger.warning("Mail for message %s refused for good: %s", message_id, refusal)
            _set_state(message, state=DeliveryState.FAILED, error=refusal)
            return DeliveryOutcome.FAILED
        _set_state(message, state=DeliveryState.SENT)
        return DeliveryOutcome.SENT


def mail_send(mail: EmailMultiAlternatives) -> str:
    """Hand one mail to the outbound SMTP server: "" when it took it, the error when it refused it
    for good; raises TemporaryDeliveryError when it may take it later (the caller's task retries).
    Shared by ticket replies and side conversations, which lock their row around it."""
    try:
        with get_connection(fail_silently=False) as connection:
            connection.send_messages([mail])
    except (smtplib.SMTPException, OSError) as error:
        if not is_permanent_refusal(error):
            raise TemporaryDeliveryError(f"{type(error).__name__}: {error}") from error
        return f"{type(error).__name__}: {error}"
    return ""


def message_email_failed(*, message_id: int, error: str) -> bool:
    """Give up on a queued message (its retries are spent): `failed`, with an audit event."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",)).select_related("ticket").filter(pk=message_id).first()
        )
        if message is None or message.delivery_state != DeliveryState.QUEUED:
            return False
        _set_state(message, state=DeliveryState.FAILED, error=error)
    return True


# --- the local sink (embedded default) --------------------------------------------------------


def outbound_capture_store(*, raw: bytes, sender: str, recipients: list[str]) -> OutboundCapture:
    """Keep one mail the local SMTP sink received, with the headers the admin list shows."""
    from email import policy
    from email.parser import BytesHeaderParser

    from channels_intake.models import OutboundCapture

    headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)

    def header(name: str) -> str:
        try:
            return header_text(str(headers.get(name, "") or ""))
        except (ValueError, IndexError, TypeError):  # a malformed header is kept raw, in `raw`
            return ""

    return OutboundCapture.objects.create(
        envelope_sender=sender[:998],
        envelope_recipients=[recipient[:998] for recipient in recipients],
        message_id=header("Message-ID")[:998],
        from_header=header("From")[:998],
        to_header=header("To"),
        subject=header("Subject")[:998],
        size=len(raw),
        raw=raw,
    )
