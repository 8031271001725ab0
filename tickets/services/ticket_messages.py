"""Adding to a ticket's thread: public replies (agents and customers), internal notes, automatic replies."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets import events
from tickets.models import (
    ActorKind,
    AuthorKind,
    Channel,
    Customer,
    DeliveryState,
    Message,
    Status,
    Ticket,
    User,
    Visibility,
)
from tickets.services.attachments import IncomingFile, attachment_store
from tickets.services.common import emit_ticket_event, lock_ticket, sync_sla, via_for
from tickets.services.ticket_create import existing_message, message_bodies, ticket_create
from tickets.services.ticket_fields import apply_status
from tickets.transitions import check_transition

# A customer writing again on these statuses means the ticket needs support again.
REOPENING_STATUSES = frozenset({Status.PENDING, Status.ON_HOLD, Status.SOLVED})


class TicketClosed(ValidationError):
    pass


def _require_body(text: str, files: Sequence[IncomingFile]) -> None:
    if not text.strip() and not files:
        raise ValidationError(_("Write a message or attach a file."), code="empty")


def ticket_reply(
    *,
    ticket: Ticket,
    actor: User | None,
    body_html: str | None = None,
    body_text: str | None = None,
    author_customer: Customer | None = None,
    files: Sequence[IncomingFile] = (),
    status: str | None = None,
    channel: str | None = None,
    external_id: str = "",
    via: str | None = None,
) -> Message:
    """A public reply. From staff it may set the status; from the customer it reopens the ticket.

    A customer message on a closed ticket becomes a new follow-up ticket (returned message is there).
    """
    channel = channel or Channel.WEB
    duplicate = existing_message(channel, external_id)
    if duplicate is not None:
        return duplicate
    is_agent = actor is not None and actor.is_staff_member
    if not is_agent:
        author_customer = author_customer or (getattr(actor, "customer", None) if actor else None)
        if author_customer is None or (actor is not None and not permissions.can_view_ticket(actor, ticket)):
            raise PermissionDenied(_("Only the requester or staff can reply."))
    safe_html, text = message_bodies(body_html=body_html, body_text=body_text)
    _require_body(text, files)
    via = via_for(actor, via or channel)

    try:
        with transaction.atomic():
            ticket = lock_ticket(ticket)
            if ticket.status == Status.CLOSED:
                if is_agent:
                    raise TicketClosed(_("This ticket is closed; open a follow-up ticket instead."), code="closed")
                follow_up = ticket_create(
                    requester=ticket.requester, subject=ticket.subject, body_html=safe_html, body_text=text,
                    channel=channel, actor=actor, team=ticket.team, priority=ticket.priority,
                    ticket_type=ticket.type, files=files, external_id=external_id, via=via, follow_up_of=ticket,
                )
                return follow_up.messages.order_by("id").first()
            if status is not None and not is_agent:
                raise PermissionDenied(_("Customers cannot set the status while replying."))
            now = timezone.now()
            # An agent's reply that the requester gets by mail is stored `queued`, with its Message-ID;
            # the mail itself goes out from a task after commit (channels_intake.email.outbound).
            from channels_intake.email.outbound import enqueue_delivery, queued_reply_fields

            mail_fields = queued_reply_fields(ticket=ticket, channel=channel, external_id=external_id) if is_agent else {}
            message = Message.objects.create(
                ticket=ticket,
                author_kind=AuthorKind.AGENT if is_agent else AuthorKind.CUSTOMER,
                author_user=actor,
                author_customer=None if is_agent else author_customer,
                visibility=Visibility.PUBLIC,
                body_html=safe_html,
                body_text=text,
                channel=mail_fields.get("channel", channel),
                external_id=mail_fields.get("external_id", external_id[:512]),
                delivery_state=mail_fields.get("delivery_state", ""),
            )
            if mail_fields:
                # robust: a broker outage must not fail the agent's reply; the message stays `queued`.
                message_pk = message.pk
                transaction.on_commit(lambda: enqueue_delivery(message_pk), robust=True)
            for incoming in files:
                attachment_store(ticket=ticket, message=message, incoming=incoming)
            actor_kind = ActorKind.AGENT if is_agent else ActorKind.CUSTOMER
            events.message_added(
                ticket=ticket, actor=actor, via=via, message_id=message.pk, visibility=Visibility.PUBLIC,
                actor_kind=actor_kind,
            )
            update_fields = ["message_count", "updated_at"]
            ticket.message_count += 1
            changes: dict[str, object] = {}
            if is_agent:
                ticket.last_agent_reply_at = now
                update_fields.append("last_agent_reply_at")
                if ticket.first_responded_at is None:
                    ticket.first_responded_at = now
                    update_fields.append("first_responded_at")
                target = status or (Status.OPEN if ticket.status == Status.NEW else None)
                if target and target != ticket.status:
                    check_transition(ticket.status, target)
                    changes["status"] = target
                    update_fields += apply_status(ticket=ticket, status=target, actor=actor, via=via)
            else:
                ticket.last_customer_message_at = now
                update_fields.append("last_customer_message_at")
                if ticket.status in REOPENING_STATUSES:
                    changes["status"] = Status.OPEN
                    update_fields += apply_status(
                        ticket=ticket, status=Status.OPEN, actor=actor, via=via, actor_kind=ActorKind.CUSTOMER
                    )
            ticket.save(update_fields=sorted(set(update_fields)))
            sync_sla(ticket, reason="agent_reply" if is_agent else "customer_message")
            emit_ticket_event(
                ticket, "ticket.message_added", changes=changes,
                extra={"message": {"id": message.pk, "visibility": Visibility.PUBLIC, "author_kind": message.author_kind}},
            )
    except IntegrityError:
        duplicate = existing_message(channel, external_id)
        if duplicate is None:
            raise
        return duplicate
    return message


def ticket_add_note(
    *, ticket: Ticket, actor: User, body_html: str | None = None, body_text: str | None = None,
    files: Sequence[IncomingFile] = (), via: str | None = None,
) -> Message:
    """An internal note: staff only, never shown or sent to customers."""
    if not actor.is_staff_member:
        raise PermissionDenied(_("Only staff can add internal notes."))
    safe_html, text = message_bodies(body_html=body_html, body_text=body_text)
    _require_body(text, files)
    via = via_for(actor, via)
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        message = Message.objects.create(
            ticket=ticket,
            author_kind=AuthorKind.AGENT,
            author_user=actor,
            visibility=Visibility.INTERNAL,
            body_html=safe_html,
            body_text=text,
            channel=Channel.WEB if via == "web" else Channel.API if via == "api" else Channel.WEB,
        )
        for incoming in files:
            attachment_store(ticket=ticket, message=message, incoming=incoming)
        events.message_added(ticket=ticket, actor=actor, via=via, message_id=message.pk,
                             visibility=Visibility.INTERNAL)
        ticket.message_count += 1
        ticket.save(update_fields=["message_count", "updated_at"])
        emit_ticket_event(
            ticket, "ticket.message_added", is_public=False,
            extra={"message": {"id": message.pk, "visibility": Visibility.INTERNAL, "author_kind": AuthorKind.AGENT}},
        )
    return message


def ticket_add_automatic_reply(
    *, ticket: Ticket, body_text: str, body_html: str | None = None, source: str = ""
) -> Message:
    """A public message the helpdesk wrote by itself (a new ticket's acknowledgement), mailed to the
    requester as automatic mail (`Auto-Submitted: auto-replied`) by the outbound delivery task.

    It is no agent's reply: the first response, the last agent reply and the status stay as they
    were (the SLA still waits for a person). `source` says what wrote it (kept in `raw_source`),
    so the outbound mail can be built for it.
    """
    from channels_intake.email.outbound import enqueue_delivery, new_message_id

    safe_html, text = message_bodies(body_html=body_html, body_text=body_text)
    _require_body(text, ())
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        message = Message.objects.create(
            ticket=ticket,
            author_kind=AuthorKind.SYSTEM,
            visibility=Visibility.PUBLIC,
            body_html=safe_html,
            body_text=text,
            channel=Channel.EMAIL,
            external_id=new_message_id(ticket),
            delivery_state=DeliveryState.QUEUED,
            raw_source=source[:255],
        )
        # robust: a broker outage leaves the message `queued` for the resend sweep, not an error here.
        message_pk = message.pk
        transaction.on_commit(lambda: enqueue_delivery(message_pk), robust=True)
        events.message_added(ticket=ticket, actor=None, via="email", message_id=message.pk,
                             visibility=Visibility.PUBLIC, actor_kind=ActorKind.SYSTEM)
        ticket.message_count += 1
        ticket.save(update_fields=["message_count", "updated_at"])
        emit_ticket_event(
            ticket, "ticket.message_added",
            extra={"message": {"id": message.pk, "visibility": Visibility.PUBLIC, "author_kind": AuthorKind.SYSTEM}},
        )
    return message
