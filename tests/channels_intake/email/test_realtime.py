"""Realtime events of the intake: a bounce tells the agents (not the customer) after commit."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from channels_intake.models import Door
from channels_intake.services import raw_inbound_store
from helpdesk import realtime
from tests.channels_intake.email.test_processing import dsn_for
from tests.factories import make_agent, make_ticket
from tickets.models import Channel
from tickets.services import ticket_reply

pytestmark = pytest.mark.django_db(transaction=True)


def _events_during(groups, action):
    """Run `action` while listening on each group with its own channel; events received per group."""

    async def run():
        layer = get_channel_layer()
        channels = {group: await layer.new_channel() for group in groups}
        for group, channel in channels.items():
            await layer.group_add(group, channel)
        await sync_to_async(action)()
        received = {group: [] for group in groups}
        for group, channel in channels.items():
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
                except TimeoutError:
                    break
                received[group].append(message["event"])
            await layer.group_discard(group, channel)
        return received

    return async_to_sync(run)()


def test_bounce_reaches_the_agents_with_the_message_and_its_new_state(celery_eager, support_team):
    agent = make_agent(support_team)
    ticket = make_ticket(team=support_team)
    outbound = ticket_reply(ticket=ticket, actor=agent, body_text="Answer", channel=Channel.EMAIL,
                            external_id="rt-out@helpdesk.example")
    team, customer = realtime.team_group(support_team.pk), realtime.customer_group(ticket.requester_id)

    events = _events_during(
        [team, customer],
        lambda: raw_inbound_store(raw=dsn_for("rt-out@helpdesk.example", ticket.requester.email), door=Door.SMTP),
    )

    assert [event["type"] for event in events[team]] == ["ticket.updated"]
    assert events[team][0]["ticket"]["number"] == ticket.number
    assert events[team][0]["changes"] == {"delivery_state": {"message": outbound.pk, "state": "bounced"}}
    assert events[customer] == []
