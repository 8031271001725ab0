"""Metrics work of the Celery workers (thin: the computing is in metrics.services and metrics.rollups)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from metrics import rollups, services


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


@shared_task(name="metrics.tasks.metrics_refresh_batch", queue="metrics")
def metrics_refresh_batch() -> int:
    """Refresh the tickets changed since the last batch (scheduled on commit by the ticket
    services, a couple of seconds after the first change), then tell the dashboards."""
    result = services.metrics_refresh_pending()
    if result.changed:
        services.metrics_updated_send()
    return result.written


@shared_task(name="metrics.tasks.metrics_rollups_drift_check", queue="metrics")
def metrics_rollups_drift_check(days: int = 35) -> int:
    """Nightly: compare the recent rollups with a recomputation from the facts; any drift is
    logged as an error (what to alert on) and left for `manage.py check_metrics_drift --repair`,
    so it is looked at rather than silently papered over. Returns the number of differing rows."""
    return len(rollups.rollups_drift_check(days=days))


# The survey and report tasks live in their own modules; imported here so the workers'
# autodiscovery (which imports each app's `tasks`) registers them.
from metrics import report_tasks, survey_tasks  # noqa: E402, F401
