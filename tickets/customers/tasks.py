"""Celery entry points for tickets.customers: thin wrappers over services."""

from __future__ import annotations

from celery import shared_task

from tickets.customers import health


@shared_task(name="tickets.customers.tasks.health_snapshots_take", queue="metrics", acks_late=True)
def health_snapshots_take() -> dict[str, int]:
    """Today's health snapshot of every active customer and organization (nightly; idempotent)."""
    return health.health_snapshots_take()
