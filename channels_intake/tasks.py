"""Celery entry points of the intake (queue `email_in`): thin wrappers over the processing service and
the IMAP poller."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from channels_intake.email.outbound import TemporaryDeliveryError, message_email_deliver, message_email_failed
from channels_intake.email.processing import PARENT_WAIT_SECONDS, Outcome, raw_inbound_process
from channels_intake.models import RawInbound, RawInboundState

# Rows still `received` this long after they arrived lost their task (broker down at commit time,
# a worker killed past its retries): the sweep queues them again. Processing is idempotent, so a
# row that was merely slow is harmless to queue twice.
STALE_AFTER = timedelta(minutes=10)
SWEEP_BATCH = 1000
# A task that finds the database away (restart, failover) tries again for about two hours.
RETRY_DATABASE_OUTAGE = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 30,
}


@shared_task(
    name="channels_intake.tasks.process_raw_inbound",
    queue="email_in",
    acks_late=True,
    bind=True,
    # Only a database outage is retried here; every other failure is recorded on the row.
    **RETRY_DATABASE_OUTAGE,
)
def process_raw_inbound(self, raw_inbound_id: int) -> str:  # type: ignore[no-untyped-def]
    """Parse, thread and ingest one stored mail (idempotent: a processed row is left alone)."""
    outcome = raw_inbound_process(raw_inbound_id=raw_inbound_id)
    if outcome is Outcome.WAITING_FOR_PARENT:
        self.apply_async(args=[raw_inbound_id], countdown=PARENT_WAIT_SECONDS)
    return outcome.name


@shared_task(name="channels_intake.tasks.requeue_unprocessed", queue="email_in", acks_late=True)
def requeue_unprocessed() -> int:
    """Queue again the messages stored long ago and never processed; returns how many."""
    cutoff = timezone.now() - STALE_AFTER
    ids = list(
        RawInbound.objects.filter(state=RawInboundState.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for raw_inbound_id in ids:
        process_raw_inbound.delay(raw_inbound_id)
    return len(ids)


@shared_task(name="channels_intake.tasks.poll_mailboxes", queue="email_in")
def poll_mailboxes() -> int:
    """Beat: queue one poll per enabled IMAP mailbox (so workers poll different mailboxes in parallel)."""
    from channels_intake.email.imap import enabled_mailbox_ids

    # A poll still queued when the next beat fires is superseded by the next one.
    expires = max(float(settings.HELPDESK_IMAP_POLL_SECONDS), 1.0)
    ids = enabled_mailbox_ids()
    for mailbox_id in ids:
        poll_mailbox.apply_async(args=[mailbox_id], expires=expires)
    return len(ids)


@shared_task(name="channels_intake.tasks.poll_mailbox", queue="email_in", acks_late=True)
def poll_mailbox(mailbox_id: int, include_disabled: bool = False) -> str:
    """Fetch one mailbox's new mail. Idempotent: a second poll at the same time finds the mailbox
    locked and returns; one killed midway is finished by the next without loss or duplicates."""
    from channels_intake.email.imap import mailbox_poll

    result = mailbox_poll(
        mailbox_id=mailbox_id, max_messages=settings.HELPDESK_IMAP_MAX_PER_POLL, include_disabled=include_disabled
    )
    return result.summary()


# --- outbound mail (queue `email_out`) ----------------------------------------------------------


def retry_countdown(retries: int) -> float:
    base = float(getattr(settings, "HELPDESK_EMAIL_OUTBOUND_RETRY_SECONDS", 30.0))
    ceiling = float(getattr(settings, "HELPDESK_EMAIL_OUTBOUND_RETRY_MAX_SECONDS", 3600.0))
    return min(base * 2**retries, ceiling)


@shared_task(
    name="channels_intake.tasks.deliver_message_email",
    queue="email_out",
    acks_late=True,
    bind=True,
    # A database outage is retried like the intake's; the mail server's answers are handled below.
    **RETRY_DATABASE_OUTAGE,
)
def deliver_message_email(self, message_id: int) -> str:  # type: ignore[no-untyped-def]
    """Mail one queued public reply (idempotent: a message no longer `queued` is left alone).

    A server that cannot take it now is tried again with exponential back-off, at most
    HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES times; then the message is `failed`.
    """
    try:
        return message_email_deliver(message_id=message_id).name
    except TemporaryDeliveryError as error:
        max_retries = int(getattr(settings, "HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES", 8))
        if self.request.retries >= max_retries:
            message_email_failed(message_id=message_id, error=str(error))
            return "FAILED"
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries), max_retries=max_retries) from error


def undelivered_cutoff_seconds() -> float:
    """How long a reply may stay `queued` while its task still lives: every retry's back-off and ten
    minutes more. Queued for longer, its task was lost (broker down at commit time, a worker killed)."""
    max_retries = int(getattr(settings, "HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES", 8))
    return sum(retry_countdown(retries) for retries in range(max_retries)) + 600.0


@shared_task(name="channels_intake.tasks.requeue_undelivered", queue="email_out", acks_late=True)
def requeue_undelivered() -> int:
    """Queue again the replies still `queued` after every retry would have run; returns how many.

    Delivery is idempotent (the message row is locked and must still be `queued`), so a reply whose
    task was merely slow is not sent twice.
    """
    from tickets.models import DeliveryState, Message

    cutoff = timezone.now() - timedelta(seconds=undelivered_cutoff_seconds())
    ids = list(
        Message.objects.filter(delivery_state=DeliveryState.QUEUED, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for message_id in ids:
        deliver_message_email.delay(message_id)
    return len(ids)
