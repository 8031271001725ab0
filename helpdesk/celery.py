"""The Celery app: named queues per concern, beat schedule, and a worker heartbeat for /readyz."""

import os

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [
    Queue(name) for name in ("default", "email_in", "email_out", "sla", "metrics", "webhooks")
]
app.conf.beat_schedule = {
    "worker-heartbeat": {"task": "helpdesk.tasks.worker_heartbeat", "schedule": 15.0},
    # Time-based automations (tickets.rules.automations), every HELPDESK_AUTOMATIONS_INTERVAL_SECONDS
    # (scheduled in _schedule_mailbox_polls below); webhook calls whose task was lost are sent again.
    "rules-webhook-deliveries-retry": {
        "task": "tickets.rules.tasks.webhook_deliveries_retry", "schedule": 60.0,
        "options": {"expires": 60.0, "queue": "webhooks"},
    },
    # The rules' run counts gathered in Redis since the last minute (tickets.rules.engine).
    "rules-run-counts-flush": {
        "task": "tickets.rules.tasks.rule_run_counts_flush", "schedule": 60.0, "options": {"expires": 60.0},
    },
    # Side-conversation mails whose delivery task was lost are sent again.
    "side-conversations-requeue": {
        "task": "tickets.collaboration.side_conversation_tasks.side_conversation_messages_requeue",
        "schedule": 600.0, "options": {"expires": 600.0},
    },
    # Unassigned tickets of routed teams get an agent once one comes online or frees capacity.
    "assignment-waiting-tickets": {
        "task": "tickets.assignment.tasks.assignment_waiting_tickets", "schedule": 60.0, "options": {"expires": 60.0},
    },
    # Customers' and organizations' health scores for the trend on their pages.
    "customers-health-snapshots": {
        "task": "tickets.customers.tasks.health_snapshots_take", "schedule": crontab(hour=2, minute=15),
        "options": {"queue": "metrics"},
    },
    "close-solved-tickets": {"task": "tickets.tasks.close_solved_tickets", "schedule": 3600.0},
    # Stored inbound mail whose processing task was lost (broker down at commit time) is queued again.
    "intake-requeue-unprocessed": {"task": "channels_intake.tasks.requeue_unprocessed", "schedule": 300.0},
    # Replies whose delivery task was lost (broker down at commit, a worker killed) are sent again.
    "email-requeue-undelivered": {"task": "channels_intake.tasks.requeue_undelivered", "schedule": 600.0},
    # Live chat offers that timed out go to the next agent (and queued chats find one who came
    # online); a tick that waited past the next one is dropped, the next tick does its work.
    "chat-offers-expire": {
        "task": "channels_intake.chat.tasks.chat_offers_expire", "schedule": 5.0, "options": {"expires": 5.0},
    },
    # Chats whose visitor has gone (HELPDESK_CHAT_IDLE_END_MINUTES) or that nobody accepted in time
    # (HELPDESK_CHAT_QUEUE_MAX_WAIT_MINUTES) end; a minute's precision is plenty for either.
    "chats-end-idle": {
        "task": "channels_intake.chat.tasks.chats_end_idle", "schedule": 60.0, "options": {"expires": 60.0},
    },
    # Per-ticket metric facts of the tickets changed since (metrics.services.ticket_facts_refresh_changed).
    "metrics-facts-refresh": {
        "task": "metrics.tasks.metrics_facts_refresh", "schedule": 60.0,
        "options": {"expires": 60.0, "queue": "metrics"},
    },
    # Survey mails whose time has come (NPS a day after a solve, a delayed CSAT); mails due within
    # minutes are queued at once and don't wait for this sweep (metrics.surveys).
    "metrics-surveys-send-due": {
        "task": "metrics.survey_tasks.survey_invitations_send_due", "schedule": 60.0,
        "options": {"expires": 60.0, "queue": "metrics"},
    },
    # Nightly: the rollups are compared with a recomputation from the facts; drift is logged and
    # shown to admins (metrics.rollups).
    "metrics-rollups-drift-check": {
        "task": "metrics.tasks.metrics_rollups_drift_check", "schedule": crontab(hour=3, minute=30),
        "options": {"queue": "metrics"},
    },
    # Monday morning: the weekly report of the headline figures to managers (metrics.reports).
    "metrics-weekly-report": {
        "task": "metrics.report_tasks.metrics_weekly_report", "schedule": crontab(day_of_week=1, hour=8, minute=0),
        "options": {"queue": "metrics"},
    },
}


@app.on_after_configure.connect
def _schedule_mailbox_polls(sender: Celery, **kwargs: object) -> None:
    # IMAP mailboxes are polled every HELPDESK_IMAP_POLL_SECONDS, the SLA scan runs every
    # HELPDESK_SLA_SCAN_SECONDS; read here, once Django's settings are loaded (this module is
    # imported while they load).
    from django.conf import settings

    sender.add_periodic_task(
        settings.HELPDESK_IMAP_POLL_SECONDS, sender.signature("channels_intake.tasks.poll_mailboxes"),
        name="intake-poll-mailboxes",
    )
    # SLA warnings and breaches: a tick that waited longer than its interval in the queue (workers
    # down) is dropped; the next one fires everything due since.
    sender.add_periodic_task(
        settings.HELPDESK_SLA_SCAN_SECONDS, sender.signature("tickets.tasks.sla_scan"),
        name="sla-scan", queue="sla", expires=settings.HELPDESK_SLA_SCAN_SECONDS,
    )
    sender.add_periodic_task(
        settings.HELPDESK_AUTOMATIONS_INTERVAL_SECONDS, sender.signature("tickets.rules.tasks.automations_run"),
        name="rules-automations-run", expires=settings.HELPDESK_AUTOMATIONS_INTERVAL_SECONDS,
    )


app.autodiscover_tasks()
app.autodiscover_tasks(["helpdesk"])
app.autodiscover_tasks(["channels_intake.chat"])
app.autodiscover_tasks(["channels_intake.phone"])
app.autodiscover_tasks(["tickets.rules", "tickets.assignment", "tickets.customers", "tickets.collaboration"])
