"""Celery entry points of side conversations (queue `email_out`): thin wrappers over
tickets.collaboration.side_conversations, with the retry budget of ticket replies."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from channels_intake.email.outbound import TemporaryDeliveryError
from channels_intake.tasks import (
    RETRY_DATABASE_OUTAGE,
    SWEEP_BATCH,
    retry_countdown,
    undelivered_cutoff_seconds,
)
from tickets.collaboration import side_conversations


@shared_task(
    name="tickets.collaboration.side_conversation_tasks.side_conversation_message_send",
    queue="email_out",
    acks_late=True,
    bind=True,
    **RETRY_DATABASE_OUTAGE,
)
def side_conversation_message_send(self, message_id: int) -> str:  # type: ignore[no-untyped-def]
    """Mail one queued side-conversation message (idempotent: one no longer `queued` is left alone).

    A server that cannot take it now is tried again with exponential back-off, at most
    HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES times; then the message is `failed`.
    """
    try:
        return side_conversations.side_conversation_message_deliver(message_id=message_id).name
    except TemporaryDeliveryError as error:
        max_retries = int(getattr(settings, "HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES", 8))
        if self.request.retries >= max_retries:
            side_conversations.side_conversation_message_failed(message_id=message_id)
            return "FAILED"
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries), max_retries=max_retries) from error


@shared_task(name="tickets.collaboration.side_conversation_tasks.side_conversation_messages_requeue",
             queue="email_out", acks_late=True)
def side_conversation_messages_requeue() -> int:
    """Queue again the messages still `queued` after every retry would have run (their task was
    lost: broker down at commit time, a worker killed); returns how many. Sending is idempotent."""
    from tickets.models import DeliveryState, SideConversationMessage

    cutoff = timezone.now() - timedelta(seconds=undelivered_cutoff_seconds())
    ids = list(
        SideConversationMessage.objects.filter(delivery_state=DeliveryState.QUEUED, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for message_id in ids:
        side_conversation_message_send.delay(message_id)
    return len(ids)
