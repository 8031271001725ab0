"""Celery entry points for tickets: thin wrappers over services."""

from celery import shared_task

from tickets.services import tickets_close_solved


@shared_task(name="tickets.tasks.close_solved_tickets", acks_late=True, queue="default")
def close_solved_tickets() -> int:
    """Close tickets solved more than HELPDESK_AUTO_CLOSE_DAYS ago (idempotent; SKIP LOCKED batches)."""
    return tickets_close_solved()
