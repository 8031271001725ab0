"""The weekly report: last week's headline figures, mailed to every active manager and admin in
their own language (Celery beat, Mondays: metrics.report_tasks.metrics_weekly_report).

The figures are `metrics_summary` of last week (Monday to Sunday in the reporting time zone,
against the week before), shown as on the dashboard (metrics.presentation). Mail leaves the way the
agents' notifications do (tickets.notifications): one message per recipient through the configured
connection, from a worker, never in a request. A retried task does not mail anyone twice: each
recipient's mail of a week is marked in the cache before it is sent (and unmarked if sending fails).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from metrics import presentation
from metrics.selectors import MetricFilters, metrics_summary, reporting_today
from tickets.models import ALL_TICKET_ROLES, User

logger = logging.getLogger(__name__)

# How long a sent report is remembered (longer than any retry, shorter than a week).
SENT_MARK_SECONDS = 6 * 24 * 3600


@dataclass(frozen=True)
class ReportWeek:
    start: date  # a Monday
    end: date  # the Sunday after

    @classmethod
    def before(cls, today: date) -> ReportWeek:
        """The last full week (Monday to Sunday) before `today`'s week."""
        this_monday = today - timedelta(days=today.weekday())
        return cls(start=this_monday - timedelta(days=7), end=this_monday - timedelta(days=1))


def weekly_report_recipients() -> list[User]:
    """Active managers and admins with an email address."""
    return list(
        User.objects.filter(is_active=True, role__in=ALL_TICKET_ROLES).exclude(email="").order_by("pk")
    )


def _dashboard_link(week: ReportWeek) -> str:
    query = urlencode({"period": "custom", "start": week.start.isoformat(), "end": week.end.isoformat()})
    return f"{str(settings.HELPDESK_SITE_URL).rstrip('/')}{reverse('metrics:dashboard')}?{query}"


def weekly_report_email(*, recipient: User, week: ReportWeek, summary: dict[str, Any]) -> EmailMultiAlternatives:
    """The report for `recipient`, in their language."""
    from channels_intake.email.outbound import encoded_subject

    with translation.override(recipient.language or settings.LANGUAGE_CODE):
        start, end = date_format(week.start, "DATE_FORMAT"), date_format(week.end, "DATE_FORMAT")
        context = {
            "recipient": recipient,
            "start": start,
            "end": end,
            "cards": presentation.headline_cards(summary),
            "business_hours": summary.get("period", {}).get("hours", "business") == "business",
            "link": _dashboard_link(week),
            "language": translation.get_language(),
        }
        subject = _("Helpdesk weekly report: %(start)s – %(end)s") % {"start": start, "end": end}
        text = render_to_string("metrics/email/weekly_report.txt", context)
        html = render_to_string("metrics/email/weekly_report.html", context)
    mail = EmailMultiAlternatives(
        subject=encoded_subject(subject),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        # RFC 3834: machine-made, so autoresponders (out-of-office) stay silent.
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
    )
    mail.attach_alternative(html, "text/html")
    return mail


def _sent_key(week: ReportWeek, recipient: User) -> str:
    return f"metrics:weekly-report:{week.start.isoformat()}:{recipient.pk}"


def weekly_report_send(*, today: date | None = None) -> int:
    """Mail last week's report to every manager and admin not mailed it yet; returns how many were sent.

    Raises smtplib.SMTPException / OSError when the mail server fails (the task retries; those
    already mailed are skipped then).
    """
    week = ReportWeek.before(today or reporting_today())
    recipients = weekly_report_recipients()
    if not recipients:
        return 0
    # Managers and admins read every ticket, so one summary serves them all.
    summary = metrics_summary(filters=MetricFilters(start=week.start, end=week.end))
    sent = 0
    with get_connection(fail_silently=False) as connection:
        for recipient in recipients:
            key = _sent_key(week, recipient)
            if not cache.add(key, True, timeout=SENT_MARK_SECONDS):
                continue
            try:
                connection.send_messages([weekly_report_email(recipient=recipient, week=week, summary=summary)])
            except (smtplib.SMTPException, OSError):
                cache.delete(key)
                raise
            sent += 1
    logger.info("Weekly report of %s sent to %s recipients", week.start.isoformat(), sent)
    return sent
