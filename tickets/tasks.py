"""Celery entry points for tickets: thin wrappers over services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from channels_intake.email.outbound import TemporaryDeliveryError
from channels_intake.tasks import RETRY_DATABASE_OUTAGE, _retry_countdown
from tickets import notifications
from tickets.services import tickets_close_solved

logger = logging.getLogger(__name__)


@shared_task(name="tickets.tasks.close_solved_tickets", acks_late=True, queue="default")
def close_solved_tickets() -> int:
    """Close tickets solved more than HELPDESK_AUTO_CLOSE_DAYS ago (idempotent; SKIP LOCKED batches)."""
    return tickets_close_solved()


def _max_retries() -> int:
    # The same budget as customers' mail: a mail server that says "later" is asked again with the
    # outbound back-off (channels_intake.tasks._retry_countdown), HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES times.
    return int(getattr(settings, "HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES", 8))


@shared_task(
    name="tickets.tasks.notify_agents",
    queue="email_out",
    acks_late=True,
    bind=True,
    # A database outage is retried like the intake's; the mail server's answers are handled below.
    **RETRY_DATABASE_OUTAGE,
)
def notify_agents(self, event_id: int) -> int:  # type: ignore[no-untyped-def]
    """Mail the agents an audit event concerns (idempotent per event and recipient); returns how many were mailed."""
    try:
        return notifications.event_notify(event_id=event_id)
    except TemporaryDeliveryError as error:
        max_retries = _max_retries()
        if self.request.retries >= max_retries:
            notifications.event_notify_failed(event_id=event_id, error=str(error))
            return 0
        raise self.retry(exc=error, countdown=_retry_countdown(self.request.retries), max_retries=max_retries) from error


@shared_task(
    name="tickets.tasks.send_account_email",
    queue="email_out",
    acks_late=True,
    bind=True,
    **RETRY_DATABASE_OUTAGE,
)
def send_account_email(self, kind: str, user_id: int, language: str = "", to: str = "") -> str:  # type: ignore[no-untyped-def]
    """Send one account mail (verification link, password reset, "you already have an account").

    Links are signed here, in the worker, so no secret sits in the broker. A mail server that says
    "later" is asked again with back-off; after the last try the person can ask for the mail again.
    """
    from tickets.services.accounts import account_email_send

    try:
        return account_email_send(kind=kind, user_id=user_id, language=language, to=to).name
    except TemporaryDeliveryError as error:
        max_retries = _max_retries()
        if self.request.retries >= max_retries:
            logger.warning("account email %s to user %s given up after %s tries: %s", kind, user_id,
                           max_retries + 1, error)
            return "FAILED"
        raise self.retry(exc=error, countdown=_retry_countdown(self.request.retries), max_retries=max_retries) from error
