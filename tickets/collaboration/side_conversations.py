"""Side conversations: an agent mails a third party (a supplier, another department) from a ticket,
in a thread that stays with the ticket and never reaches its requester.

- Outbound messages are stored first (`delivery_state` queued) and mailed by
  `tickets.collaboration.side_conversation_tasks.side_conversation_message_send` after commit,
  through the outbound path of ticket replies (channels_intake.email.outbound: the team's mailbox,
  Django's connection, the same retry budget and the same refusal rules).
- Threading: every Message-ID we send is `sc-<token>.<random>@<domain>` and the Reply-To is the
  team's mailbox plus-addressed with `sc-<token>`. The intake
  (channels_intake.email.side_conversations) finds the conversation by either before it looks for
  a ticket, so a third party's answer never opens a ticket nor joins the requester's thread.
- The token is random (120 bits), not derived from ids: knowing one conversation's address tells
  nothing about another's.
- Every change writes an audit event on the ticket (agents only) and an agents-only realtime event
  (`side_conversation.updated`), which maps to no trigger: side conversations are not ticket changes
  a rule reacts to.
"""

from __future__ import annotations

import base64
import enum
import logging
import re
import secrets
import zoneinfo
from collections.abc import Iterable
from email.utils import getaddresses
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import formats, translation
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets import events
from tickets.models import (
    DeliveryState,
    Event,
    Message,
    SideConversation,
    SideConversationMessage,
    SideConversationState,
    Ticket,
    User,
    Visibility,
)
from tickets.services.common import emit_ticket_event, require, via_for

logger = logging.getLogger(__name__)

MAX_PARTICIPANTS = 10
MAX_BODY_CHARS = 100_000
QUOTED_MESSAGES = 3  # the conversation's earlier messages quoted under a new one
MAX_REFERENCES = 20
# The realtime event of every side-conversation change (agents only, no trigger maps it).
REALTIME_EVENT = "side_conversation.updated"
TAG_PREFIX = "sc-"
_TOKEN_BYTES = 15  # 24 base32 characters
_TOKEN_PATTERN = r"[a-z2-7]{24}"  # noqa: S105 - a pattern, no secret
_TAG = re.compile(rf"^sc-({_TOKEN_PATTERN})$")
_MESSAGE_ID = re.compile(rf"^sc-({_TOKEN_PATTERN})\.")


class DeliveryOutcome(enum.Enum):
    SENT = DeliveryState.SENT
    FAILED = DeliveryState.FAILED
    NOTHING_TO_DO = "nothing"


# --- tokens and addresses -------------------------------------------------------------------------


def new_token() -> str:
    """A fresh conversation token: lower-case base32 (mail servers may lower-case local parts)."""
    return base64.b32encode(secrets.token_bytes(_TOKEN_BYTES)).decode("ascii").lower()


def token_from_tag(tag: str) -> str | None:
    """The token of a reply address's tag (`sc-<token>`), None for any other tag."""
    match = _TAG.match((tag or "").strip().lower())
    return match.group(1) if match else None


def token_from_message_id(message_id: str) -> str | None:
    """The token of one of our side-conversation Message-IDs (`sc-<token>.…@…`, without <>)."""
    match = _MESSAGE_ID.match((message_id or "").strip().strip("<>").lower())
    return match.group(1) if match else None


def _mailbox(ticket: Ticket) -> str:
    from channels_intake.email.outbound import sender_mailbox

    return sender_mailbox(ticket)


def reply_address(conversation: SideConversation) -> str:
    """`support@example.com` -> `support+sc-<token>@example.com`: where the third party's answers go."""
    local, _at, domain = _mailbox(conversation.ticket).rpartition("@")
    local = local.split("+", 1)[0]
    return f"{local}+{TAG_PREFIX}{conversation.token}@{domain}"


def _new_message_id(conversation: SideConversation) -> str:
    domain = _mailbox(conversation.ticket).rpartition("@")[2] or "localhost"
    return f"{TAG_PREFIX}{conversation.token}.{secrets.token_hex(8)}@{domain}"


# --- validation -----------------------------------------------------------------------------------


def _split_addresses(raw: str | Iterable[str]) -> list[str]:
    values = [raw] if isinstance(raw, str) else list(raw)
    pieces: list[str] = []
    for value in values:
        # Commas, semicolons and line breaks separate addresses; `Name <address>` is accepted.
        pieces += [piece.strip() for piece in re.split(r"[,;\n\r]+", value or "") if piece.strip()]
    return pieces


def clean_participants(raw: str | Iterable[str], *, ticket: Ticket) -> list[str]:
    """The participants' addresses, lower-cased and without repeats; ValidationError (with every
    problem named) for a bad address, the requester's address, one of our own, or too many."""
    from channels_intake.email.mailboxes import Mailboxes

    addresses: list[str] = []
    invalid: list[str] = []
    for piece in _split_addresses(raw):
        parsed = getaddresses([piece])
        address = parsed[0][1].strip().lower() if len(parsed) == 1 else ""
        try:
            validate_email(address)
        except ValidationError:
            invalid.append(piece)
            continue
        if address not in addresses:
            addresses.append(address)
    problems: list[str] = []
    if invalid:
        problems.append(_("Not a valid email address: %(addresses)s") % {"addresses": ", ".join(invalid)})
    if not addresses and not invalid:
        problems.append(_("Add the email address of at least one participant."))
    if len(addresses) > MAX_PARTICIPANTS:
        problems.append(_("A side conversation can have at most %(count)s participants.") % {"count": MAX_PARTICIPANTS})
    requester_email = (ticket.requester.email or "").lower()
    if requester_email and requester_email in addresses:
        problems.append(_("The requester (%(address)s) cannot take part in a side conversation: reply to them on the "
                          "ticket instead.") % {"address": requester_email})
    mailboxes = Mailboxes.load()
    own = [address for address in addresses if mailboxes.is_own(address)]
    if own:
        problems.append(_("This helpdesk's own address cannot take part: %(addresses)s") % {"addresses": ", ".join(own)})
    if problems:
        raise ValidationError({"participants": problems})
    return addresses


def _clean_body(body_text: str) -> str:
    body = (body_text or "").strip()
    if not body:
        raise ValidationError({"body": [_("Write a message.")]})
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError({"body": [_("The message is too long.")]})
    return body


def _quote_latest_public(ticket: Ticket) -> str:
    """The ticket's latest public message as a quote (what the third party needs to know)."""
    latest = (
        Message.objects.filter(ticket_id=ticket.pk, visibility=Visibility.PUBLIC)
        .select_related("author_user", "author_customer")
        .order_by("-created_at", "-pk")
        .first()
    )
    if latest is None or not (latest.body_text or "").strip():
        return ""
    header = _("On %(date)s, %(author)s wrote:") % {
        "date": formats.date_format(latest.created_at, "DATETIME_FORMAT"), "author": latest.author_name,
    }
    quoted = "\n".join(f"> {line}" if line else ">" for line in latest.body_text.strip().splitlines())
    return f"{header}\n{quoted}"


# --- changes --------------------------------------------------------------------------------------


def _record(conversation: SideConversation, *, kind: str, actor: User | None, via: str, **extra: Any) -> None:
    events.side_conversation_changed(
        ticket=conversation.ticket, kind=kind, actor=actor, via=via, conversation_id=conversation.pk,
        subject=conversation.subject, **extra,
    )


def _emit(conversation: SideConversation, *, change: str, message: SideConversationMessage | None = None) -> None:
    """Agents only (`is_public=False`): the requester's socket never hears of side conversations."""
    payload: dict[str, Any] = {"id": conversation.pk, "state": conversation.state, "change": change}
    if message is not None:
        payload["message"] = {"id": message.pk, "direction": message.direction,
                              "delivery_state": message.delivery_state}
    emit_ticket_event(conversation.ticket, REALTIME_EVENT, is_public=False, extra={"side_conversation": payload})


def _enqueue_delivery(message_id: int) -> None:
    from tickets.collaboration.side_conversation_tasks import side_conversation_message_send

    side_conversation_message_send.delay(message_id)


def _queue_outbound(conversation: SideConversation, *, actor: User, body_text: str) -> SideConversationMessage:
    from tickets.sanitize import text_to_html

    # HELPDESK_EMAIL_REPLIES=False (history imports, the demo seed) mails nothing, as for replies.
    mailing = bool(getattr(settings, "HELPDESK_EMAIL_REPLIES", True))
    message = SideConversationMessage.objects.create(
        conversation=conversation,
        direction=SideConversationMessage.Direction.OUTBOUND,
        author_user=actor,
        from_email=_mailbox(conversation.ticket),
        body_text=body_text,
        body_html=text_to_html(body_text),
        message_id=_new_message_id(conversation),
        delivery_state=DeliveryState.QUEUED if mailing else DeliveryState.NOT_APPLICABLE,
    )
    if mailing:
        message_pk = message.pk
        # robust: a broker outage leaves the message queued (see side_conversation_messages_requeue).
        transaction.on_commit(lambda: _enqueue_delivery(message_pk), robust=True)
    return message


def _lock(conversation: SideConversation) -> SideConversation:
    return (
        SideConversation.objects.select_for_update(of=("self",))
        .select_related("ticket", "ticket__requester", "ticket__team")
        .get(pk=conversation.pk)
    )


def side_conversation_start(
    *, ticket: Ticket, actor: User, participants: str | Iterable[str], subject: str, body_text: str,
    quote_latest_public: bool = False, via: str | None = None,
) -> SideConversation:
    """Open a side conversation and mail its first message to `participants` (on commit).

    Raises PermissionDenied unless `actor` may work the ticket, ValidationError (keyed by
    participants / subject / body) for bad input; nothing is stored or sent then.
    """
    require(permissions.can_work_ticket(actor, ticket), _("You cannot work on this ticket."))
    from channels_intake.email.outbound import header_text

    problems: dict[str, list[str]] = {}
    addresses: list[str] = []
    try:
        addresses = clean_participants(participants, ticket=ticket)
    except ValidationError as error:
        problems.update(error.message_dict)
    subject = header_text(subject)
    if not subject:
        problems["subject"] = [_("Give the conversation a subject.")]
    elif len(subject) > SideConversation._meta.get_field("subject").max_length:
        problems["subject"] = [_("The subject is too long.")]
    try:
        body = _clean_body(body_text)
    except ValidationError as error:
        problems.update(error.message_dict)
    if problems:
        raise ValidationError(problems)
    if quote_latest_public:
        quote = _quote_latest_public(ticket)
        if quote:
            body = f"{body}\n\n{quote}"
    with transaction.atomic():
        conversation = SideConversation.objects.create(
            ticket=ticket, subject=subject, participants=addresses, token=new_token(), created_by=actor,
        )
        message = _queue_outbound(conversation, actor=actor, body_text=body)
        _record(conversation, kind="side_conversation_started", actor=actor, via=via_for(actor, via),
                participants=addresses)
        _emit(conversation, change="started", message=message)
    return conversation


def side_conversation_reply(
    *, conversation: SideConversation, actor: User, body_text: str, via: str | None = None
) -> SideConversationMessage:
    """Mail a new message to the conversation's participants; a closed conversation opens again."""
    require(permissions.can_work_ticket(actor, conversation.ticket), _("You cannot work on this ticket."))
    body = _clean_body(body_text)
    via = via_for(actor, via)
    with transaction.atomic():
        conversation = _lock(conversation)
        if conversation.state == SideConversationState.CLOSED:
            conversation.state = SideConversationState.OPEN
            _record(conversation, kind="side_conversation_reopened", actor=actor, via=via)
        message = _queue_outbound(conversation, actor=actor, body_text=body)
        conversation.save(update_fields=["state", "updated_at"])
        _record(conversation, kind="side_conversation_sent", actor=actor, via=via)
        _emit(conversation, change="sent", message=message)
    return message


def _set_conversation_state(
    *, conversation: SideConversation, actor: User, state: str, kind: str, via: str | None
) -> SideConversation:
    require(permissions.can_work_ticket(actor, conversation.ticket), _("You cannot work on this ticket."))
    with transaction.atomic():
        conversation = _lock(conversation)
        if conversation.state == state:
            return conversation  # nothing changed, nothing to record
        conversation.state = state
        conversation.save(update_fields=["state", "updated_at"])
        _record(conversation, kind=kind, actor=actor, via=via_for(actor, via))
        _emit(conversation, change=state)
    return conversation


def side_conversation_close(*, conversation: SideConversation, actor: User, via: str | None = None) -> SideConversation:
    """Close the conversation (a later answer from a participant opens it again)."""
    return _set_conversation_state(conversation=conversation, actor=actor, state=SideConversationState.CLOSED,
                                   kind="side_conversation_closed", via=via)


def side_conversation_reopen(*, conversation: SideConversation, actor: User, via: str | None = None) -> SideConversation:
    return _set_conversation_state(conversation=conversation, actor=actor, state=SideConversationState.OPEN,
                                   kind="side_conversation_reopened", via=via)


def side_conversation_message_receive(
    *, conversation: SideConversation, from_email: str, message_id: str, body_text: str | None,
    body_html: str | None,
) -> tuple[SideConversationMessage, bool]:
    """Keep a participant's answer (from the email intake): (message, created).

    Idempotent on the Message-ID: a mail delivered twice is stored once. A closed conversation
    opens again. The ticket gets an internal audit event and an agents-only realtime event; the
    ticket's own thread, status and requester are not touched.
    """
    from tickets.services.ticket_create import message_bodies

    with transaction.atomic():
        conversation = _lock(conversation)
        existing = SideConversationMessage.objects.filter(message_id=message_id).first()
        if existing is not None:
            return existing, False
        safe_html, text = message_bodies(body_html=body_html, body_text=body_text)
        message = SideConversationMessage.objects.create(
            conversation=conversation,
            direction=SideConversationMessage.Direction.INBOUND,
            from_email=from_email[:254],
            body_html=safe_html,
            body_text=text,
            message_id=message_id,
        )
        if conversation.state == SideConversationState.CLOSED:
            conversation.state = SideConversationState.OPEN
            _record(conversation, kind="side_conversation_reopened", actor=None, via="email")
        conversation.save(update_fields=["state", "updated_at"])
        _record(conversation, kind="side_conversation_reply", actor=None, via="email", sender=from_email)
        _emit(conversation, change="received", message=message)
    return message, True


# --- the mail -------------------------------------------------------------------------------------


def _quoted_text(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in (text or "").strip().splitlines())


def _author_label(message: SideConversationMessage) -> str:
    if message.author_user_id and message.author_user:
        return message.author_user.name
    return message.from_email


def build_side_conversation_email(message: SideConversationMessage) -> EmailMultiAlternatives:
    """The mail of an outbound side-conversation message: to the participants only, from the
    ticket's mailbox, replies to the conversation's address, threaded on its earlier messages."""
    from channels_intake.email.outbound import _mailbox_header, encoded_subject, header_text

    conversation = message.conversation
    ticket = conversation.ticket
    earlier = list(
        conversation.messages.filter(pk__lt=message.pk).select_related("author_user").order_by("-pk")[:MAX_REFERENCES]
    )
    ids = [item.message_id for item in reversed(earlier) if not item.message_id.startswith("mid-sha256:")]
    inbound = [item.message_id for item in earlier if item.direction == SideConversationMessage.Direction.INBOUND
               and not item.message_id.startswith("mid-sha256:")]
    parent = inbound[0] if inbound else (ids[-1] if ids else "")
    headers = {"Message-ID": f"<{message.message_id}>", "Reply-To": reply_address(conversation)}
    if parent:
        headers["In-Reply-To"] = f"<{parent}>"
    if ids:
        headers["References"] = " ".join(f"<{value}>" for value in ids)
    subject = header_text(conversation.subject)
    if earlier and not re.match(r"(?i)^re:", subject):
        subject = f"Re: {subject}"
    team_name = ticket.team.name if ticket.team_id and ticket.team else ""
    author = message.author_user.name if message.author_user_id and message.author_user else ""
    from_name = f"{author} ({team_name})" if author and team_name else author or team_name
    thread = [
        {"author": _author_label(item), "created_at": item.created_at, "text": _quoted_text(item.body_text),
         "html": item.body_html}
        for item in earlier[:QUOTED_MESSAGES]
    ]
    context = {"conversation": conversation, "message": message, "thread": thread}
    language = (message.author_user.language if message.author_user_id and message.author_user else "") or (
        settings.LANGUAGE_CODE
    )
    with translation.override(language):
        text = render_to_string("tickets/email/side_conversation.txt", context)
        html = render_to_string("tickets/email/side_conversation.html", context)
    mail = EmailMultiAlternatives(
        subject=encoded_subject(subject),
        body=text,
        from_email=_mailbox_header(from_name, _mailbox(ticket)),
        to=list(conversation.participants),
        headers=headers,
    )
    mail.attach_alternative(html, "text/html")
    return mail


def _set_delivery_state(message: SideConversationMessage, *, state: str) -> None:
    SideConversationMessage.objects.filter(pk=message.pk).update(delivery_state=state)
    message.delivery_state = state
    _emit(message.conversation, change="delivery", message=message)


def side_conversation_message_deliver(*, message_id: int) -> DeliveryOutcome:
    """Mail one queued outbound message, once; `sent` when the server took it.

    Raises channels_intake.email.outbound.TemporaryDeliveryError when the server may take it later
    (the task retries); a permanent refusal leaves it `failed`. The row stays locked while sending,
    so two workers handed the same message never both send it.
    """
    from channels_intake.email.outbound import mail_send

    with transaction.atomic():
        message = (
            SideConversationMessage.objects.select_for_update(of=("self",))
            .select_related("conversation", "conversation__ticket", "conversation__ticket__team", "author_user")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.delivery_state != DeliveryState.QUEUED:
            return DeliveryOutcome.NOTHING_TO_DO
        refusal = mail_send(build_side_conversation_email(message))
        if refusal:
            logger.warning("Side conversation message %s refused for good: %s", message_id, refusal)
            _set_delivery_state(message, state=DeliveryState.FAILED)
            return DeliveryOutcome.FAILED
        _set_delivery_state(message, state=DeliveryState.SENT)
        return DeliveryOutcome.SENT


def side_conversation_message_failed(*, message_id: int) -> bool:
    """Give up on a queued message (its retries are spent): `failed`."""
    with transaction.atomic():
        message = (
            SideConversationMessage.objects.select_for_update(of=("self",))
            .select_related("conversation", "conversation__ticket")
            .filter(pk=message_id, delivery_state=DeliveryState.QUEUED)
            .first()
        )
        if message is None:
            return False
        _set_delivery_state(message, state=DeliveryState.FAILED)
    return True


# --- reads ----------------------------------------------------------------------------------------


def side_conversation_ticket(*, user: User, number: int | str) -> Ticket:
    """The ticket whose side conversations `user` may read and write: staff who may work it; 404
    for anyone else (customers included: side conversations are never theirs to see)."""
    ticket = permissions.access_ticket_by_number(user, number)
    if not permissions.can_work_ticket(user, ticket):
        raise Http404
    return ticket


def side_conversations_of(*, ticket: Ticket) -> QuerySet[SideConversation]:
    """The ticket's side conversations, newest activity first, with their message count and
    messages (for the last one), for a ticket the caller already may work."""
    return (
        SideConversation.objects.filter(ticket_id=ticket.pk)
        .annotate(message_count=Count("messages"))
        .prefetch_related(Prefetch("messages", queryset=SideConversationMessage.objects.select_related("author_user")))
        .order_by("-updated_at", "-pk")
    )


def side_conversation_get(*, ticket: Ticket, conversation_id: int | str) -> SideConversation:
    """One of the ticket's side conversations (404 for another ticket's)."""
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        raise Http404 from None
    conversation = (
        SideConversation.objects.filter(ticket_id=ticket.pk, pk=conversation_id)
        .select_related("ticket", "ticket__requester", "ticket__team", "created_by")
        .prefetch_related(Prefetch("messages", queryset=SideConversationMessage.objects.select_related("author_user")))
        .first()
    )
    if conversation is None:
        raise Http404
    return conversation


# --- telling the agents ------------------------------------------------------------------------------
# A participant's answer (event `side_conversation_reply`) is mailed by tickets.notifications to the
# ticket's assignee (else its team) and the agent who started the conversation, like a customer's reply.


def reply_notice_candidates(event: Event) -> QuerySet[User]:
    """Who hears of a participant's answer: the assignee (else the ticket's team) and the
    conversation's starter. tickets.notifications filters them (active staff who may see the ticket,
    never the actor)."""
    ticket = event.ticket
    to_value = event.to_value if isinstance(event.to_value, dict) else {}
    starter = SideConversation.objects.filter(pk=to_value.get("conversation"), ticket_id=ticket.pk).values(
        "created_by_id"
    )
    if ticket.assignee_id is not None:
        responsible = Q(pk=ticket.assignee_id)
    elif ticket.team_id is not None:
        responsible = Q(team_memberships__team_id=ticket.team_id)
    else:
        responsible = Q(pk__in=[])
    return User.objects.filter(responsible | Q(pk__in=starter))


def build_reply_notification_email(*, event: Event, recipient: User, site_link: str) -> EmailMultiAlternatives:
    """The mail telling `recipient` that a participant answered, with an excerpt and the ticket's link."""
    from django.utils import timezone
    from django.utils.text import Truncator

    from channels_intake.email.outbound import encoded_subject

    ticket = event.ticket
    to_value = event.to_value if isinstance(event.to_value, dict) else {}
    answer = (
        SideConversationMessage.objects.filter(
            conversation_id=to_value.get("conversation"), conversation__ticket_id=ticket.pk,
            direction=SideConversationMessage.Direction.INBOUND, created_at__lte=event.created_at,
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    context = {
        "ticket": ticket, "subject": to_value.get("subject", ""), "sender": to_value.get("from", ""),
        "excerpt": Truncator((answer.body_text if answer else "").strip()).chars(500), "link": site_link,
    }
    try:
        zone = zoneinfo.ZoneInfo(recipient.timezone) if getattr(recipient, "timezone", "") else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = None
    with translation.override(recipient.language or settings.LANGUAGE_CODE), timezone.override(
        zone or timezone.get_default_timezone()
    ):
        subject = _("[#%(number)s] %(sender)s replied in the side conversation “%(subject)s”") % {
            "number": ticket.number, "sender": context["sender"], "subject": context["subject"],
        }
        text = render_to_string("tickets/email/side_conversation_notification.txt", context)
        html = render_to_string("tickets/email/side_conversation_notification.html", context)
    mail = EmailMultiAlternatives(
        subject=encoded_subject(subject), body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[recipient.email],
        # RFC 3834: machine-made, so autoresponders (out-of-office) stay silent.
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
    )
    mail.attach_alternative(html, "text/html")
    return mail


def side_conversation_message_bounced(*, message_id: str) -> SideConversationMessage | None:
    """A bounce came back for one of our side-conversation mails (by its Message-ID, as stored):
    mark it `bounced` so the agent sees it was not delivered. None when it is not ours; a message
    bounced before is returned unchanged."""
    with transaction.atomic():
        message = (
            SideConversationMessage.objects.select_for_update(of=("self",))
            .select_related("conversation", "conversation__ticket")
            .filter(message_id=message_id, direction=SideConversationMessage.Direction.OUTBOUND)
            .first()
        )
        if message is not None and message.delivery_state != DeliveryState.BOUNCED:
            _set_delivery_state(message, state=DeliveryState.BOUNCED)
    return message
