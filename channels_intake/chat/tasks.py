"""Celery entry points of live chat: the offer-expiry and idle sweeps (beat) and the transcript mail."""

from __future__ import annotations

import logging

from celery import shared_task

from channels_intake.tasks import RETRY_DATABASE_OUTAGE, retry_countdown

logger = logging.getLogger(__name__)
TRANSCRIPT_MAX_RETRIES = 8


@shared_task(name="channels_intake.chat.tasks.chat_offers_expire", ignore_result=True)
def chat_offers_expire() -> int:
    """Offers past their time go to the next agent; queued chats nobody was offered get one."""
    from channels_intake.chat.routing import chat_offers_expire as expire

    return expire()


@shared_task(name="channels_intake.chat.tasks.chats_end_idle", ignore_result=True)
def chats_end_idle() -> int:
    """Chats whose visitor has gone quiet end (timeout); chats left unanswered in the queue too long end."""
    from channels_intake.chat import services

    return services.chats_end_idle() + services.chats_end_unanswered()


@shared_task(
    name="channels_intake.chat.tasks.send_chat_transcript", queue="email_out", acks_late=True, bind=True,
    **RETRY_DATABASE_OUTAGE,
)
def send_chat_transcript(self, chat_id: int, email: str) -> bool:  # type: ignore[no-untyped-def]
    from channels_intake.chat.services import chat_transcript_deliver
    from channels_intake.email.outbound import TemporaryDeliveryError

    try:
        return chat_transcript_deliver(chat_id=chat_id, email=email)
    except TemporaryDeliveryError as error:
        if self.request.retries >= TRANSCRIPT_MAX_RETRIES:
            logger.warning("chat transcript of chat %s given up: %s", chat_id, error)
            return False
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries),
                         max_retries=TRANSCRIPT_MAX_RETRIES) from error
