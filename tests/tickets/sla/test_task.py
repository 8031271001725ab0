"""The worker side of the SLA engine: the beat-scheduled `tickets.tasks.sla_scan` task (batches,
a bound per run, a crash mid-run), the in-app notice reaching the assignee's websocket, and the
demo's SLA configuration."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from tests.factories import make_agent, make_team, make_ticket
from tickets.demo.base import ensure_base_data
from tickets.demo.sla import DEMO_POLICY, DEMO_TAG, SHANGHAI_CALENDAR, STANDARD_POLICY, URGENT_POLICY
from tickets.models import BusinessHours, Event, Priority, SlaPolicy, SlaTimer, Ticket
from tickets.routing import websocket_urlpatterns
from tickets.sla import actions
from tickets.sla.services import policy_for, sla_timers_sync
from tickets.tasks import sla_scan

TARGETS = {priority: {"first_response": 60} for priority in ("low", "normal", "high", "urgent")}


def overdue_tickets(count: int, **fields) -> list[Ticket]:
    """Tickets opened two hours ago under a one-hour first-response policy: due now, not yet fired.

    The policy is created after the tickets, so timers start only here, from the backdated creation.
    """
    tickets = [make_ticket(**fields) for _ in range(count)]
    two_hours_ago = timezone.now() - timedelta(hours=2)
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(created_at=two_hours_ago,
                                                                 last_customer_message_at=two_hours_ago)
    policy = SlaPolicy.objects.create(name="Hourly", targets=TARGETS, first_response_business_hours=False,
                                      escalate_priority="raise")
    for ticket in Ticket.objects.filter(pk__in=[t.pk for t in tickets]):
        sla_timers_sync(ticket=ticket, now=two_hours_ago, reason="created")
    assert SlaTimer.objects.filter(policy=policy).count() == count
    return tickets


def breached_count() -> int:
    return SlaTimer.objects.filter(breached_at__isnull=False).count()


# --- the task -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_task_works_batches_until_nothing_is_due_and_is_idempotent():
    tickets = overdue_tickets(5, priority=Priority.LOW)

    assert sla_scan(batch_size=2) == 5
    assert sla_scan(batch_size=2) == 0

    assert breached_count() == 5
    assert Event.objects.filter(kind="sla_breached").count() == 5
    # Actions ran once per breach: raised one step, not two.
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("priority", flat=True)) == {
        Priority.NORMAL
    }


@pytest.mark.django_db
def test_one_run_stops_after_its_batch_bound_and_the_next_run_goes_on():
    overdue_tickets(5)

    assert sla_scan(batch_size=2, max_batches=2) == 4
    assert breached_count() == 4
    assert sla_scan(batch_size=2, max_batches=2) == 1
    assert breached_count() == 5


@pytest.mark.django_db
def test_a_run_that_crashes_mid_batch_keeps_finished_batches_and_loses_nothing(monkeypatch):
    tickets = overdue_tickets(5, priority=Priority.LOW)
    real_actions = actions.sla_fire_actions
    acted = []

    def crash_on_the_fourth(firing):
        if len(acted) == 3:
            raise RuntimeError("worker killed")
        real_actions(firing)
        acted.append(firing.ticket_id)

    monkeypatch.setattr(actions, "sla_fire_actions", crash_on_the_fourth)
    with pytest.raises(RuntimeError):
        sla_scan(batch_size=2)

    # The first batch committed; the second (one ticket acted on, then the crash) rolled back whole.
    assert breached_count() == 2
    assert Ticket.objects.filter(pk__in=[t.pk for t in tickets], priority=Priority.NORMAL).count() == 2

    monkeypatch.setattr(actions, "sla_fire_actions", real_actions)
    assert sla_scan(batch_size=2) == 3
    assert breached_count() == 5
    assert Event.objects.filter(kind="sla_breached").count() == 5
    assert Event.objects.filter(kind="priority_changed", via="sla").count() == 5
    assert Ticket.objects.filter(pk__in=[t.pk for t in tickets], priority=Priority.NORMAL).count() == 5


def test_the_task_is_on_the_sla_queue_with_late_acks_and_in_the_beat_schedule(settings):
    from helpdesk.celery import app

    assert (sla_scan.queue, sla_scan.acks_late) == ("sla", True)
    entry = app.conf.beat_schedule["sla-scan"]
    assert entry["task"] == "tickets.tasks.sla_scan"
    assert entry["schedule"] == settings.HELPDESK_SLA_SCAN_SECONDS == 30.0
    # A tick still queued when the next is due is dropped, not run late on top of it.
    assert entry["options"] == {"queue": "sla", "expires": 30.0}


# --- in-app notice over the websocket --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_assignee_sees_the_breach_live_and_a_teammate_does_not(settings):
    settings.HELPDESK_AGENT_NOTIFICATIONS = False  # mail is tested in test_actions; no broker here
    support = make_team("Support", slug="support")
    agent = make_agent(support)
    teammate = make_agent(support)
    [ticket] = overdue_tickets(1, team=support, assignee=agent)

    async def open_socket(user) -> WebsocketCommunicator:
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
        communicator.scope["user"] = user
        connected, _ = await communicator.connect()
        assert connected
        return communicator

    async def messages_until_quiet(communicator: WebsocketCommunicator) -> list[dict]:
        received = [await communicator.receive_json_from(timeout=10)]
        while not await communicator.receive_nothing(timeout=1.0):
            received.append(await communicator.receive_json_from(timeout=10))
        return received

    async def scenario():
        assignee_socket, teammate_socket = await open_socket(agent), await open_socket(teammate)
        assert await database_sync_to_async(sla_scan)() == 1
        to_assignee = await messages_until_quiet(assignee_socket)
        to_teammate = await messages_until_quiet(teammate_socket)
        await assignee_socket.disconnect()
        await teammate_socket.disconnect()
        return to_assignee, to_teammate

    to_assignee, to_teammate = async_to_sync(scenario)()

    timer = SlaTimer.objects.get(ticket=ticket)
    [notice] = [message for message in to_assignee if message["type"] == "sla.breached"]
    assert notice["ticket"]["number"] == ticket.number
    assert (notice["metric"], notice["due_at"]) == ("first_response", timer.due_at.isoformat())
    # The escalation is an ordinary change: both see the ticket update, only the assignee the notice.
    assert "ticket.updated" in {message["type"] for message in to_assignee}
    assert [message["type"] for message in to_teammate] == ["ticket.updated"]


# --- demo ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_demo_seed_creates_calendars_and_policies_once():
    ensure_base_data(tickets=0)
    counts = (BusinessHours.objects.count(), SlaPolicy.objects.count(),
              BusinessHours.objects.get(name=SHANGHAI_CALENDAR).holidays.count())
    ensure_base_data(tickets=0)

    assert (BusinessHours.objects.count(), SlaPolicy.objects.count(),
            BusinessHours.objects.get(name=SHANGHAI_CALENDAR).holidays.count()) == counts
    assert list(SlaPolicy.objects.values_list("name", flat=True)) == [DEMO_POLICY, URGENT_POLICY, STANDARD_POLICY]
    shanghai = BusinessHours.objects.get(name=SHANGHAI_CALENDAR).to_calendar()
    year = timezone.localdate().year
    assert date(year, 10, 1) in shanghai.holidays and date(year + 1, 10, 1) in shanghai.holidays  # National Day
    assert list(SlaPolicy.objects.get(name=URGENT_POLICY).escalate_notify.values_list("username", flat=True)) == [
        "manager"
    ]


@pytest.mark.django_db
def test_a_demo_sla_ticket_is_due_one_minute_after_it_opens():
    ensure_base_data(tickets=0)
    ticket = make_ticket(tags=[DEMO_TAG])

    assert policy_for(ticket=ticket).name == DEMO_POLICY
    sla_timers_sync(ticket=ticket, now=ticket.created_at, reason="created")
    timer = SlaTimer.objects.get(ticket=ticket, metric="first_response")
    assert timer.due_at == ticket.created_at + timedelta(minutes=1)
    assert timer.warning_at == ticket.created_at + timedelta(seconds=30)
