"""Celery entry points for tickets.rules: thin wrappers over services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from channels_intake.email.outbound import TemporaryDeliveryError
from channels_intake.tasks import RETRY_DATABASE_OUTAGE, retry_countdown

logger = logging.getLogger(__name__)


@shared_task(name="tickets.rules.tasks.automations_run", acks_late=True, queue="default")
def automations_run() -> int:
    """Fire the time-based automations on the tickets they match now (once per ticket and
    occurrence; bounded batches, SKIP LOCKED, so overlapping runs share the work)."""
    from tickets.rules.automations import automations_run as run

    return run(now=timezone.now())


@shared_task(name="tickets.rules.tasks.rule_run_counts_flush", acks_late=True, queue="default")
def rule_run_counts_flush() -> int:
    """Write the rules' run counts gathered in Redis since the last run (minute beat)."""
    from tickets.rules.engine import rule_run_counts_flush as flush

    return flush()


@shared_task(name="tickets.rules.tasks.webhook_deliver", acks_late=True, queue="webhooks", **RETRY_DATABASE_OUTAGE)
def webhook_deliver(delivery_id: int) -> str:
    """One attempt at a stored webhook delivery (the retry sweep makes the next ones)."""
    from tickets.rules.webhooks import webhook_delivery_send

    return webhook_delivery_send(delivery_id=delivery_id)


@shared_task(name="tickets.rules.tasks.webhook_deliveries_retry", acks_late=True, queue="webhooks")
def webhook_deliveries_retry() -> int:
    """Send the pending deliveries whose next attempt is due (first tries whose task was lost,
    and retries after their back-off); returns how many were tried."""
    from tickets.rules.webhooks import webhook_deliveries_due, webhook_delivery_send

    now = timezone.now()
    due = webhook_deliveries_due(now=now)
    for delivery_id in due:
        webhook_delivery_send(delivery_id=delivery_id, now=now)
    return len(due)


def _max_retries() -> int:
    from django.conf import settings

    return int(getattr(settings, "HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES", 8))


@shared_task(name="tickets.rules.tasks.rule_emails_send", queue="email_out", acks_late=True, bind=True,
             **RETRY_DATABASE_OUTAGE)
def rule_emails_send(self, event_id: int) -> int:  # type: ignore[no-untyped-def]
    """Mail the agents and teams a rule's firing addressed (idempotent per event and recipient)."""
    from tickets.rules.actions import rule_emails_deliver, rule_emails_give_up

    try:
        return rule_emails_deliver(event_id=event_id)
    except TemporaryDeliveryError as error:
        max_retries = _max_retries()
        if self.request.retries >= max_retries:
            rule_emails_give_up(event_id=event_id, error=str(error))
            return 0
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries), max_retries=max_retries) from error
