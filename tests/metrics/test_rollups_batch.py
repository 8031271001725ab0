"""Keeping the facts and rollups current: one worker run per batch of committed changes, the
minute refresh behind it, and dashboards told when the figures changed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from helpdesk import realtime
from metrics import services
from metrics.models import DailyRollup, TicketFact
from metrics.tasks import metrics_facts_refresh, metrics_refresh_batch
from tests.factories import make_agent, make_team, make_ticket
from tests.realtime_helpers import events_during
from tickets.models import Metric, SlaTimer, Status, Ticket, TimerState
from tickets.services import ticket_reply, ticket_set_status, ticket_tag
from tickets.sla.services import sla_scan_due

pytestmark = pytest.mark.django_db


def queued_runs(client) -> int:
    """Batch runs waiting on the metrics queue (the broker is the test Redis)."""
    messages = [json.loads(raw) for raw in client.lrange("metrics", 0, -1)]
    return sum(1 for message in messages if message["headers"]["task"] == "metrics.tasks.metrics_refresh_batch")


@pytest.fixture
def team():
    return make_team()


@pytest.fixture
def agent(team):
    return make_agent(team)


def test_a_reply_refreshes_the_ticket_metrics_after_commit_and_tells_the_dashboards(
    celery_eager, django_capture_on_commit_callbacks, team, agent
):
    ticket = make_ticket(team=team)

    def reply():
        with django_capture_on_commit_callbacks(execute=True):
            ticket_reply(ticket=ticket, actor=agent, body_text="Fixed it.", status=Status.SOLVED)

    assert events_during([realtime.METRICS_GROUP], reply) == [{"type": "metrics.updated"}]

    fact = TicketFact.objects.get(ticket=ticket)
    assert (fact.public_agent_replies, fact.is_fcr) == (1, True)
    assert sum(DailyRollup.objects.values_list("solved", flat=True)) == 1
    assert sum(DailyRollup.objects.values_list("created", flat=True)) == 1


def test_changes_gather_into_one_batch_until_the_worker_takes_them(django_capture_on_commit_callbacks, team, agent):
    first, second = make_ticket(team=team), make_ticket(team=team)
    client = services._redis()
    client.flushdb()  # the tickets' creation scheduled a run already; start from nothing

    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=first, actor=agent, body_text="One.")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=second, actor=agent, body_text="Two.")
        ticket_set_status(ticket=second, status=Status.SOLVED, actor=agent)

    # One run queued on the metrics queue for both commits, the tickets waiting in the set.
    assert queued_runs(client) == 1
    assert {int(member) for member in client.smembers(services.CHANGED_TICKETS_KEY)} == {first.pk, second.pk}

    assert metrics_refresh_batch() == 2

    assert TicketFact.objects.get(ticket=first).public_agent_replies == 1
    assert TicketFact.objects.get(ticket=second).first_solved_at is not None
    assert client.scard(services.CHANGED_TICKETS_KEY) == 0
    # The run cleared its mark: the next change schedules the next run.
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=first, actor=agent, body_text="Three.")
    assert queued_runs(client) == 2


def test_one_transaction_changing_many_tickets_queues_one_run_for_all(django_capture_on_commit_callbacks, team, agent):
    tickets = [make_ticket(team=team) for _ in range(3)]
    client = services._redis()
    client.flushdb()

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for ticket in tickets:
            ticket_reply(ticket=ticket, actor=agent, body_text="Batch.")

    assert queued_runs(client) == 1
    assert {int(member) for member in client.smembers(services.CHANGED_TICKETS_KEY)} == {ticket.pk for ticket in tickets}


def test_a_rolled_back_change_schedules_nothing(django_capture_on_commit_callbacks, team, agent):
    ticket = make_ticket(team=team)
    services._redis().flushdb()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        ticket_reply(ticket=ticket, actor=agent, body_text="Never sent.")
        raise RuntimeError("abort")

    assert services._redis().scard(services.CHANGED_TICKETS_KEY) == 0


def test_redis_down_does_not_break_the_change(settings, django_capture_on_commit_callbacks, team, agent):
    ticket = make_ticket(team=team)
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there

    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=ticket, actor=agent, body_text="Still saved.")

    assert Ticket.objects.get(pk=ticket.pk).message_count == 2


def test_minute_refresh_tells_the_dashboards_only_when_figures_changed(celery_eager, team, agent):
    ticket = make_ticket(team=team)
    assert events_during([realtime.METRICS_GROUP], metrics_facts_refresh.delay) == [{"type": "metrics.updated"}]

    # Tags move no figure: refreshed again (the ticket changed), nothing to tell.
    ticket_tag(ticket=Ticket.objects.get(pk=ticket.pk), add=["printer"], actor=agent)
    assert events_during([realtime.METRICS_GROUP], metrics_facts_refresh.delay) == []

    ticket_reply(ticket=ticket, actor=agent, body_text="Answer.")
    assert events_during([realtime.METRICS_GROUP], metrics_facts_refresh.delay) == [{"type": "metrics.updated"}]
    assert TicketFact.objects.get(ticket=ticket).public_agent_replies == 1


def test_a_breach_found_by_the_scan_reaches_the_rollups_through_the_minute_refresh(celery_eager, team):
    ticket = make_ticket(team=team)
    metrics_facts_refresh.delay()
    now = timezone.now()
    SlaTimer.objects.filter(ticket=ticket).delete()
    SlaTimer.objects.create(ticket=ticket, metric=Metric.FIRST_RESPONSE, target_minutes=60, state=TimerState.RUNNING,
                            started_at=now - timedelta(hours=2), due_at=now - timedelta(minutes=1))
    # The facts were computed well after the ticket's last change: current as far as the stamps tell.
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=now - timedelta(hours=2))
    TicketFact.objects.filter(ticket=ticket).update(computed_at=now - timedelta(hours=1))

    sla_scan_due(now=now)
    metrics_facts_refresh.delay()

    fact = TicketFact.objects.get(ticket=ticket)
    assert [(target["metric"], target["met"]) for target in fact.sla_targets] == [("first_response", False)]
    assert sum(DailyRollup.objects.values_list("sla_due", flat=True)) == 1
    assert sum(DailyRollup.objects.values_list("sla_met", flat=True)) == 0
