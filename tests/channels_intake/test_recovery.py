"""Nothing is lost when the task queue is away: the stored mail waits and the sweep picks it up."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_intake.models import RawInbound, RawInboundState
from channels_intake.tasks import requeue_unprocessed
from tests.channels_intake.helpers import build_mail, free_port
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_broker():
    """Point Celery at a port nobody listens on (a fresh connection pool, not one made earlier)."""
    from helpdesk.celery import app

    def forget_connections() -> None:
        # Celery keeps its producer pool (bound to the broker URL of its first use) beyond app.close().
        app.close()
        app.amqp._producer_pool = None

    previous = app.conf.broker_url, app.conf.task_always_eager
    forget_connections()
    app.conf.broker_url, app.conf.task_always_eager = f"redis://127.0.0.1:{free_port()}/0", False
    yield app
    forget_connections()
    app.conf.broker_url, app.conf.task_always_eager = previous


def test_mail_stored_while_the_queue_is_down_is_acknowledged_and_processed_by_the_sweep(
    client, settings, support_team, dead_broker, django_capture_on_commit_callbacks, caplog
):
    settings.HELPDESK_EMAIL_INTAKE_TOKEN = "relay-secret-0123456789"

    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/intake/email/", data=build_mail(subject="During the outage"),
                               content_type="message/rfc822",
                               headers={"authorization": "Bearer relay-secret-0123456789"})

    assert response.status_code == 202  # stored: the relay may forget the mail
    row = RawInbound.objects.get()
    assert row.state == RawInboundState.RECEIVED
    assert any("on_commit" in record.getMessage() for record in caplog.records)  # the queueing failed

    dead_broker.conf.task_always_eager = True  # the queue is back
    RawInbound.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(minutes=11))
    assert requeue_unprocessed() == 1

    row.refresh_from_db()
    assert row.state == RawInboundState.PROCESSED
    assert Ticket.objects.get().subject == "During the outage"


def test_sweep_leaves_recent_and_finished_mail_alone(support_team, celery_eager):
    recent = RawInbound.objects.create(door="smtp", raw=build_mail(), size=1, sha256="-")
    done = RawInbound.objects.create(door="smtp", raw=build_mail(), size=1, sha256="-",
                                     state=RawInboundState.FAILED, error="kept")
    RawInbound.objects.filter(pk=done.pk).update(received_at=timezone.now() - timedelta(hours=1))

    assert requeue_unprocessed() == 0

    recent.refresh_from_db()
    done.refresh_from_db()
    assert (recent.state, done.state, done.error) == (RawInboundState.RECEIVED, RawInboundState.FAILED, "kept")
