"""Payloads of realtime events sent by services, and who receives them."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from helpdesk import realtime
from tests.factories import make_agent, make_team, make_ticket
from tickets.services import ticket_add_note, ticket_reply, ticket_update

pytestmark = pytest.mark.django_db(transaction=True)


def _listen(*groups):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    for group in groups:
        async_to_sync(layer.group_add)(group, channel)
    return layer, channel


def _drain(layer, channel):
    import asyncio

    async def read_all():
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), timeout=0.3))
            except TimeoutError:
                return received

    return [m["event"] for m in async_to_sync(read_all)()]


def test_status_change_reaches_team_and_ticket_groups_with_minimal_payload():
    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)
    layer, channel = _listen(realtime.team_group(team.pk))

    ticket_update(ticket=ticket, actor=agent, status="pending")

    events = _drain(layer, channel)
    assert [e["type"] for e in events] == ["ticket.updated"]
    assert events[0]["ticket"]["number"] == ticket.number
    assert events[0]["ticket"]["status"] == "pending"
    assert events[0]["changes"] == {"status": "pending"}
    # Only ids and changed values travel over the socket, never message bodies or customer data.
    assert "subject" not in events[0]["ticket"]


def test_internal_note_never_reaches_the_customer_group():
    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)
    layer, channel = _listen(realtime.customer_group(ticket.requester_id))

    ticket_add_note(ticket=ticket, actor=agent, body_text="secret")
    assert _drain(layer, channel) == []

    ticket_reply(ticket=ticket, actor=agent, body_text="public")
    events = _drain(layer, channel)
    assert [e["type"] for e in events] == ["ticket.message_added"]
    assert events[0]["ticket"] == {"number": ticket.number, "status": "open"}


def test_nothing_is_sent_when_the_transaction_rolls_back():
    from django.db import transaction

    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)
    layer, channel = _listen(realtime.team_group(team.pk))

    with pytest.raises(RuntimeError), transaction.atomic():
        ticket_update(ticket=ticket, actor=agent, priority="urgent")
        raise RuntimeError("abort")

    assert _drain(layer, channel) == []
    ticket.refresh_from_db()
    assert ticket.priority == "normal"
