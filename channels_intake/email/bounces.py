"""Delivery status notifications: mark the outbound message they are about, never open a ticket.

Setting a message's delivery state belongs with the ticket services once outbound mail lands
there (the outbound task sets queued/sent/failed); until then this is its one writer for bounces.
"""

from __future__ import annotations

from django.db import transaction

from channels_intake.email.classify import DeliveryReport
from channels_intake.email.parser import message_id_key
from tickets import events
from tickets.models import ActorKind, AuthorKind, Channel, DeliveryState, Message
from tickets.services.common import emit_ticket_event


def outbound_message_for(report: DeliveryReport) -> Message | None:
    """Our own message (an agent's or the system's) the report is about, by its Message-ID."""
    if not report.original_message_id:
        return None
    return (
        Message.objects.filter(
            channel=Channel.EMAIL,
            external_id=message_id_key(report.original_message_id),
            author_kind__in=(AuthorKind.AGENT, AuthorKind.SYSTEM),
        )
        .exclude(external_id="")
        .select_related("ticket")
        .first()
    )


def message_mark_bounced(*, message: Message, report: DeliveryReport) -> bool:
    """Set the message's delivery state to bounced, with an audit event; False if it already was."""
    failed = report.failed_recipients or report.recipients
    with transaction.atomic():
        previous = (
            Message.objects.select_for_update().filter(pk=message.pk).values_list("delivery_state", flat=True).first()
        )
        if previous is None or previous == DeliveryState.BOUNCED:
            return False
        Message.objects.filter(pk=message.pk).update(delivery_state=DeliveryState.BOUNCED)
        message.delivery_state = DeliveryState.BOUNCED
        ticket = message.ticket
        events.field_changed(
            ticket=ticket, actor=None, via="email", field="delivery_state", actor_kind=ActorKind.SYSTEM,
            from_value={"message": message.pk, "state": previous},
            to_value={
                "message": message.pk,
                "state": DeliveryState.BOUNCED,
                "recipients": [
                    {"address": r.address, "status": r.status, "diagnostic": r.diagnostic[:300]} for r in failed[:20]
                ],
            },
        )
        # Agents only: the requester's view has no delivery states.
        emit_ticket_event(
            ticket, "ticket.updated", is_public=False,
            changes={"delivery_state": {"message": message.pk, "state": DeliveryState.BOUNCED}},
        )
    return True
