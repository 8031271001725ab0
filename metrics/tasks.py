"""Metrics work of the Celery workers (thin: the computing is in metrics.services and metrics.rollups)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from metrics import services


@shared_task(name="metrics.tasks.metrics_facts_refresh")
def metrics_facts_refresh() -> int:
    """Bring the facts and rollups of recently changed tickets up to date (beat, every minute);
    the safety net behind the batches of `metrics_refresh_pending`."""
    result = services.ticket_facts_refresh_changed(
        lookback=timedelta(hours=settings.HELPDESK_METRICS_LOOKBACK_HOURS),
    )
    if result.changed:
        services.metrics_updated_send()
    return result.written


# The survey and report tasks live in their own modules; imported here so the workers'
# autodiscovery (which imports each app's `tasks`) registers them.
from metrics import report_tasks, survey_tasks  # noqa: E402, F401
