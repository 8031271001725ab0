"""Celery entry points for tickets: thin wrappers over services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from channels_intake.email.outbound import TemporaryDeliveryError
from channels_intake.tasks import RETRY_DATABASE_OUTAGE, retry_countdown
from tickets import notifications
from tickets.services import tickets_close_solved

logger = logging.getLogger(__name__)


@shared_task(name="tickets.tasks.close_solved_tickets", acks_late=True, queue="default")
def close_solved_tickets() -> int:
    """Close tickets solved more than HELPDESK_AUTO_CLOSE_DAYS ago (idempotent; SKIP LOCKED batches)."""
    return tickets_close_solved()


# One run fires at most this many batches; a backlog bigger than that (workers down for a while) is
# worked off over the next runs instead of one task holding a worker for minutes.
SLA_SCAN_MAX_BATCHES = 20
SLA_SCAN_BATCH_SIZE = 500


@shared_task(name="tickets.tasks.sla_scan", acks_late=True, queue="sla")
def sla_scan(batch_size: int = SLA_SCAN_BATCH_SIZE, max_batches: int = SLA_SCAN_MAX_BATCHES) -> int:
    """Fire the SLA warnings and breaches that are due, with their actions; returns how many fired.

    Each batch commits on its own (marks, events and actions together), so a worker that dies
    mid-run loses nothing: what it had not committed is still due for the next run, and what it had
    committed is never fired again. Several workers running it share the work (SKIP LOCKED). No
    retries: beat runs it again within HELPDESK_SLA_SCAN_SECONDS anyway.
    """
    from tickets.sla.actions import sla_fire_actions
    from tickets.sla.services import sla_scan_due

    fired = 0
    for _batch in range(max_batches):
        batch = sla_scan_due(now=timezone.now(), batch_size=batch_size, on_fire=sla_fire_actions)
        fired += len(batch)
        if len(batch) < batch_size:
            break
    return fired


SLA_RECOMPUTE_CHUNK = 500


@shared_task(name="tickets.tasks.sla_recompute", acks_late=True, queue="sla")
def sla_recompute(policy_id: int | None = None, calendar_id: int | None = None) -> int:
    """After an admin edited a policy or calendar and chose "recompute open timers": fan the
    affected tickets out in chunks (one task each, so a big backlog spreads over the workers and a
    crash redoes one chunk); returns how many chunks were queued."""
    from tickets.sla.services import sla_recompute_ticket_ids

    ticket_ids = sla_recompute_ticket_ids(policy_id=policy_id, calendar_id=calendar_id)
    reason = "policy_changed" if policy_id is not None else "calendar_changed"
    chunks = [ticket_ids[start:start + SLA_RECOMPUTE_CHUNK] for start in range(0, len(ticket_ids), SLA_RECOMPUTE_CHUNK)]
    for chunk in chunks:
        sla_recompute_chunk.delay(chunk, reason)
    return len(chunks)


@shared_task(name="tickets.tasks.sla_recompute_chunk", acks_late=True, queue="sla")
def sla_recompute_chunk(ticket_ids: list[int], reason: str) -> int:
    """Recompute these tickets' timers (idempotent: a second run changes nothing)."""
    from tickets.sla.services import sla_recompute_tickets

    return sla_recompute_tickets(ticket_ids=ticket_ids, now=timezone.now(), reason=reason)


def _max_retries() -> int:
    # The same budget as customers' mail: a mail server that says "later" is asked again with the
    # outbound back-off (channels_intake.tasks.retry_countdown), HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES times.
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
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries), max_retries=max_retries) from error


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
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries), max_retries=max_retries) from error
