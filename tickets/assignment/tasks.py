"""Celery entry points for tickets.assignment: thin wrappers over services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tickets.assignment.tasks.assignment_waiting_tickets", acks_late=True, queue="default")
def assignment_waiting_tickets() -> int:
    """Give the routed teams' waiting tickets an agent once one is online with room (every
    minute; SKIP LOCKED batches, so overlapping runs share the work). Returns how many were assigned."""
    from tickets.assignment.services import tickets_assign_waiting

    return tickets_assign_waiting()
