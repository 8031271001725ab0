"""Realtime fan-out: every group gets the event, in one trip, and a failing group never fails a request."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, ClassVar

import pytest
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from rest_framework.test import APIClient

from helpdesk import realtime
from tests.factories import make_agent, make_customer, make_team
from tickets.models import Event, Ticket
from tickets.services import ticket_create


class RecordingLayer(BaseChannelLayer):
    """A channel layer that records group sends and refuses one group, standing in for a broken Redis shard."""

    sent: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    broken_groups: ClassVar[set[str]] = set()
    delay_seconds: ClassVar[float] = 0.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if group in self.broken_groups:
            raise ConnectionError("shard down")
        self.sent.append((group, message))


@pytest.fixture
def recording_layer(settings):
    RecordingLayer.sent, RecordingLayer.broken_groups, RecordingLayer.delay_seconds = [], set(), 0.0
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.RecordingLayer"}}
    yield RecordingLayer
    RecordingLayer.sent, RecordingLayer.broken_groups, RecordingLayer.delay_seconds = [], set(), 0.0


def test_send_now_reaches_every_group_once(recording_layer):
    realtime.send_now(["ticket-1", "team-2", "ticket-1", realtime.ALL_TICKETS_GROUP], {"type": "ticket.updated"})

    assert sorted(group for group, _ in recording_layer.sent) == ["team-2", "ticket-1", "tickets-all"]
    assert all(message == {"type": "realtime.event", "event": {"type": "ticket.updated"}}
               for _, message in recording_layer.sent)


def test_one_failing_group_does_not_stop_the_others(recording_layer, caplog):
    recording_layer.broken_groups = {"team-3"}

    with caplog.at_level(logging.ERROR, logger="helpdesk.realtime"):
        realtime.send_now(["ticket-1", "team-3", "team-2"], {"type": "ticket.updated"})

    assert sorted(group for group, _ in recording_layer.sent) == ["team-2", "ticket-1"]
    failures = [record for record in caplog.records if record.getMessage() == "realtime send failed"]
    assert [record.group for record in failures] == ["team-3"]


def test_a_slow_channel_layer_costs_the_request_at_most_the_timeout(recording_layer, monkeypatch, caplog):
    monkeypatch.setattr(realtime, "SEND_TIMEOUT_SECONDS", 0.05)
    recording_layer.delay_seconds = 1.0

    with caplog.at_level(logging.ERROR, logger="helpdesk.realtime"):
        realtime.send_now(["ticket-1"], {"type": "ticket.updated"})  # returns, does not raise

    assert any(record.getMessage() == "realtime send failed" for record in caplog.records)


@pytest.mark.django_db
def test_ticket_create_reaches_ticket_team_all_assignee_and_customer_groups(
    recording_layer, django_capture_on_commit_callbacks
):
    team = make_team()
    agent = make_agent(team)
    customer = make_customer()

    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_create(requester=customer, subject="Printer", body_text="Offline", team=team,
                               assignee=agent, actor=agent)

    events = {group: message["event"] for group, message in recording_layer.sent}
    assert set(events) == {f"ticket-{ticket.pk}", f"team-{team.pk}", "tickets-all", f"user-{agent.pk}",
                           f"customer-{customer.pk}"}
    assert events[f"team-{team.pk}"]["type"] == "ticket.created"
    assert events[f"team-{team.pk}"]["ticket"]["number"] == ticket.number
    # The customer's group gets only the number and status.
    assert events[f"customer-{customer.pk}"] == {
        "type": "ticket.created", "ticket": {"number": ticket.number, "status": "open"}
    }


@pytest.mark.django_db
def test_a_broken_group_does_not_fail_the_api_create(recording_layer, django_capture_on_commit_callbacks):
    team = make_team(slug="support")
    agent = make_agent(team)
    recording_layer.broken_groups = {f"team-{team.pk}"}
    client = APIClient()
    client.force_authenticate(agent)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/tickets/", {"subject": "Printer", "description": "Offline",
                                                     "requester_email": "zoe@example.com", "team": team.pk},
                               format="json")

    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(number=response.json()["number"])
    assert Event.objects.filter(ticket=ticket, kind="created").count() == 1
    assert {group for group, _ in recording_layer.sent} == {
        f"ticket-{ticket.pk}", "tickets-all", f"customer-{ticket.requester_id}"
    }


def test_events_reach_a_listener_through_redis_from_many_sends():
    """The real layer: the long-lived sending loop keeps working across calls (and its connections)."""

    async def listen_while_sending() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("ticket-1", channel)
        await layer.group_add("team-1", channel)
        loop = asyncio.get_running_loop()
        for n in range(3):
            await loop.run_in_executor(None, realtime.send_now, ["ticket-1", "team-1"], {"type": "t", "n": n})
        received = []
        while True:
            try:
                received.append((await asyncio.wait_for(layer.receive(channel), timeout=0.5))["event"])
            except TimeoutError:
                break
        await layer.group_discard("ticket-1", channel)
        await layer.group_discard("team-1", channel)
        return received

    received = async_to_sync(listen_while_sending)()

    assert sorted(event["n"] for event in received) == [0, 0, 1, 1, 2, 2]


def test_a_forked_process_sends_on_its_own_loop():
    """gunicorn forks workers: a child must not use the parent's loop (its thread did not survive the fork)."""
    realtime.send_now([], {"type": "warm"})  # nothing to send: does not start the loop
    parent_loop = realtime._sender.get()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        try:
            child_loop = realtime._sender.get()
            ok = child_loop is not parent_loop and asyncio.run_coroutine_threadsafe(
                asyncio.sleep(0, result=True), child_loop).result(timeout=5)
            os.write(write_end, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        assert pipe.read() == b"ok"


def test_sends_continue_after_the_sending_thread_stopped(recording_layer, monkeypatch):
    monkeypatch.setattr(realtime, "SEND_TIMEOUT_SECONDS", 2.0)
    realtime.send_now(["ticket-1"], {"type": "first"})
    stopped = realtime._sender.get()
    thread = realtime._sender._thread
    stopped.call_soon_threadsafe(stopped.stop)
    thread.join(2)

    realtime.send_now(["ticket-1"], {"type": "second"})

    assert [message["event"]["type"] for _, message in recording_layer.sent] == ["first", "second"]
    assert realtime._sender.get() is not stopped

