"""What a reconnecting widget gets from the visitor socket: the chat's state at once, and a
connection count per address that heals when a socket vanished without disconnecting."""

from __future__ import annotations

import asyncio

import pytest

from channels_intake.chat import limits, services
from channels_intake.chat.consumers import CLOSE_RATE_LIMITED
from tests.channels_intake.chat.chat_factories import go_online
from tests.channels_intake.chat.socket_helpers import (
    PATIENT,
    db,
    make_widget,
    open_visitor,
    refusal_code,
    run,
    start_chat,
    visitor_socket,
    visitor_token,
)
from tests.factories import make_agent, make_team
from tickets.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def support():
    return make_team("Support", slug="support")


@pytest.fixture
def widget(support):
    return make_widget(support)


def test_a_waiting_chat_opens_with_its_place_in_the_queue_and_estimated_wait(widget):
    first = start_chat(widget)
    second = start_chat(widget, name="Cy Visitor")
    last_id = Message.objects.filter(ticket_id=second.ticket_id).order_by("-pk").values_list("pk", flat=True).first()

    async def scenario():
        socket = await open_visitor(visitor_token(second))
        assert socket.opening_state == {
            "type": "state", "chat": second.pk, "state": "queued", "agent_name": "", "position": 2,
            "estimated_wait": 120, "last_message_id": last_id,
        }
        await socket.disconnect()

    run(scenario)
    assert first.state == "queued"


def test_an_active_chat_opens_with_the_agents_name_and_its_last_message(widget, support):
    agent = go_online(make_agent(support, display_name="Bo Agent"))
    chat = start_chat(widget)
    services.chat_accept(chat=chat, agent=agent)
    reply = services.chat_agent_message(chat=chat, agent=agent, body="Hello, Ann")
    services.chat_agent_message(chat=chat, agent=agent, body="(refund approved)", is_internal=True)

    async def scenario():
        socket = await open_visitor(visitor_token(chat), after=reply.pk)
        # The internal note is newer, but the visitor never learns of it, not even by its id.
        assert socket.opening_state == {
            "type": "state", "chat": chat.pk, "state": "active", "agent_name": "Bo Agent", "position": None,
            "estimated_wait": None, "last_message_id": reply.pk,
        }
        await socket.disconnect()

    run(scenario)


def test_a_socket_that_vanished_without_disconnecting_stops_counting_after_the_ttl(widget, settings):
    """A killed server process never runs its sockets' disconnect: the address is free again once
    their entries expire, while a socket that keeps pinging keeps counting."""
    settings.HELPDESK_CHAT_MAX_CONNECTIONS_PER_IP = 2
    settings.HELPDESK_CHAT_CONNECTION_TTL_SECONDS = 3
    chats = [start_chat(widget) for _ in range(4)]

    async def scenario():
        vanished = await open_visitor(visitor_token(chats[0]))
        alive = await open_visitor(visitor_token(chats[1]))
        assert await refusal_code(visitor_socket(visitor_token(chats[2]))) == CLOSE_RATE_LIMITED
        # The process of `vanished` dies: its consumer is gone, its disconnect never runs.
        vanished.future.cancel()
        for _ in range(4):
            await asyncio.sleep(1)
            await alive.send_json_to({"type": "ping"})
            assert await alive.receive_json_from(timeout=PATIENT) == {"type": "pong"}
        assert await db(limits.connection_count, ip="203.0.113.7") == 1
        third = await open_visitor(visitor_token(chats[2]))
        # `alive` still counts: the address is full again.
        assert await refusal_code(visitor_socket(visitor_token(chats[3]))) == CLOSE_RATE_LIMITED
        for socket in (alive, third):
            await socket.disconnect()

    run(scenario)
