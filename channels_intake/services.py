"""`ingest`: the single path from any channel into tickets."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from channels_intake.base import InboundMessage
from tickets.models import Message, Team, Ticket
from tickets.services import ticket_create, ticket_reply
from tickets.services.customers import customer_find_or_create


@dataclass(frozen=True)
class IngestResult:
    ticket: Ticket
    message: Message
    created_ticket: bool


def ingest(inbound: InboundMessage) -> IngestResult:
    """Find or create the customer, continue their ticket or open one, append the message.

    Idempotent on (channel, external_id): delivering the same message again returns the first result.
    """
    if inbound.external_id:
        duplicate = (
            Message.objects.filter(channel=inbound.channel, external_id=inbound.external_id)
            .select_related("ticket")
            .first()
        )
        if duplicate is not None:
            return IngestResult(ticket=duplicate.ticket, message=duplicate, created_ticket=False)
    with transaction.atomic():
        customer = customer_find_or_create(
            email=inbound.sender_email, name=inbound.sender_name, language=inbound.language
        )
        existing = None
        if inbound.ticket_number is not None:
            existing = Ticket.objects.filter(number=inbound.ticket_number, requester=customer).first()
        if existing is not None:
            message = ticket_reply(
                ticket=existing, actor=None, author_customer=customer, body_html=inbound.body_html,
                body_text=inbound.body_text, files=inbound.files, channel=inbound.channel,
                external_id=inbound.external_id,
            )
            return IngestResult(ticket=message.ticket, message=message, created_ticket=message.ticket.pk != existing.pk)
        team = Team.objects.filter(slug=inbound.team_slug).first() if inbound.team_slug else None
        ticket = ticket_create(
            requester=customer, subject=inbound.subject, body_html=inbound.body_html, body_text=inbound.body_text,
            channel=inbound.channel, team=team, priority=inbound.priority or "normal", tags=inbound.tags,
            custom_fields=inbound.custom_fields, files=inbound.files, external_id=inbound.external_id,
        )
        return IngestResult(ticket=ticket, message=ticket.messages.order_by("id").first(), created_ticket=True)
