"""Splitting a ticket: some of its public messages were really another request, so they move to a new
ticket of the same requester and team (the reverse of a merge)."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Min
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets import events
from tickets.models import ActorKind, Attachment, AuthorKind, Message, Status, Ticket, User, Visibility
from tickets.services.common import emit_ticket_event, lock_ticket, sync_sla, via_for


def _message_times(ticket_id: int) -> dict[str, object]:
    """The thread-derived times of a ticket, read from its messages as they now stand."""
    customer = Message.objects.filter(ticket_id=ticket_id, author_kind=AuthorKind.CUSTOMER,
                                      visibility=Visibility.PUBLIC).aggregate(last=Max("created_at"))
    agent = Message.objects.filter(ticket_id=ticket_id, author_kind=AuthorKind.AGENT,
                                   visibility=Visibility.PUBLIC).aggregate(first=Min("created_at"),
                                                                           last=Max("created_at"))
    return {"last_customer_message_at": customer["last"], "last_agent_reply_at": agent["last"],
            "first_responded_at": agent["first"]}


def ticket_split(
    *, ticket: Ticket, message_ids: Sequence[int], subject: str, actor: User, via: str | None = None
) -> Ticket:
    """Move the chosen public messages of `ticket` (with their attachments) to a new ticket.

    The new ticket has the same requester, organization, team, priority, type and channel, and
    `subject`; it starts new and unassigned, so routing and triggers treat it as the new request it
    is. The ticket's first message (its description) cannot move: the ticket would be left without
    its request. One transaction: both threads' counts and times are recomputed, `split_into` /
    `split_from` events are written on both, and both tickets' viewers hear of it after commit.
    """
    if not permissions.can_work_ticket(actor, ticket):
        raise PermissionDenied(_("You cannot split this ticket."))
    subject = " ".join((subject or "").split())[:255]
    if not subject:
        raise ValidationError(_("Give the new ticket a subject."), code="subject")
    wanted = {int(message_id) for message_id in message_ids}
    if not wanted:
        raise ValidationError(_("Choose the messages to move to the new ticket."), code="no_messages")
    via = via_for(actor, via)
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        if ticket.merged_into_id or ticket.status == Status.CLOSED:
            raise ValidationError(_("A closed or merged ticket cannot be split."), code="closed")
        thread = list(Message.objects.filter(ticket=ticket).order_by("created_at", "pk")
                      .values_list("pk", "visibility"))
        visibility = dict(thread)
        if not wanted <= visibility.keys():
            raise ValidationError(_("Some of these messages are not in this ticket."), code="not_in_ticket")
        if any(visibility[message_id] != Visibility.PUBLIC for message_id in wanted):
            raise ValidationError(_("Only public messages can be split into a new ticket."), code="not_public")
        if thread[0][0] in wanted:
            raise ValidationError(
                _("The ticket's first message cannot be moved: it would leave the ticket without its request."),
                code="first_message",
            )
        new_ticket = Ticket.objects.create(
            subject=subject,
            status=Status.NEW,
            priority=ticket.priority,
            type=ticket.type,
            channel=ticket.channel,
            requester=ticket.requester,
            organization_id=ticket.organization_id,
            team=ticket.team,
            message_count=len(wanted),
        )
        Message.objects.filter(pk__in=wanted).update(ticket=new_ticket)
        Attachment.objects.filter(message_id__in=wanted).update(ticket=new_ticket)
        for target in (new_ticket, ticket):
            for name, value in _message_times(target.pk).items():
                setattr(target, name, value)
        ticket.message_count = len(thread) - len(wanted)
        events.ticket_created(ticket=new_ticket, actor=actor, via=via, actor_kind=ActorKind.AGENT)
        events.ticket_split(source=ticket, target=new_ticket, message_count=len(wanted), actor=actor, via=via)
        ticket.save(update_fields=["message_count", "last_customer_message_at", "last_agent_reply_at", "updated_at"])
        new_ticket.save(update_fields=["last_customer_message_at", "last_agent_reply_at", "first_responded_at",
                                       "updated_at"])
        sync_sla(ticket, reason="split")
        sync_sla(new_ticket, reason="created")
        emit_ticket_event(ticket, "ticket.updated", changes={"split_into": new_ticket.number})
        emit_ticket_event(new_ticket, "ticket.created")
    return new_ticket
