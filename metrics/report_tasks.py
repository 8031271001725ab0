"""The scheduled report tasks (thin: the work is in metrics.reports)."""

from __future__ import annotations

import smtplib

from celery import shared_task

from channels_intake.tasks import RETRY_DATABASE_OUTAGE, retry_countdown
from metrics import reports


@shared_task(name="metrics.report_tasks.metrics_weekly_report", queue="metrics", acks_late=True, bind=True,
             **RETRY_DATABASE_OUTAGE)
def metrics_weekly_report(self) -> int:  # type: ignore[no-untyped-def]
    """Mail last week's headline figures to the managers and admins (beat, Monday mornings)."""
    try:
        return reports.weekly_report_send()
    except (smtplib.SMTPException, OSError) as error:
        # Those already mailed are remembered, so a retry mails only the rest.
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries), max_retries=8) from error
