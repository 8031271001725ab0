"""The agent chat socket: who may connect, which chats an agent may join, messages, presence heartbeats."""

from __future__ import annotations

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from channels_intake.chat import services
from channels_intake.chat.consumers import CLOSE_FORBIDDEN, CLOSE_MALFORMED, CLOSE_UNAUTHENTICATED
from channels_intake.chat.ws_urls import agent_websocket_urlpatterns
from tests.channels_intake.chat.socket_helpers import (
    PATIENT,
    QUIET,
    close_code,
    db,
    frames_until_quiet,
    join,
    make_widget,
    next_of_type,
    open_agent,
    open_visitor,
    refusal_code,
    run,
    start_chat,
    visitor_token,
)
from tests.factories import make_agent, make_customer, make_team
from tickets.models import Message, TeamMembership, Visibility

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def support():
    return make_team("Support", slug="support")


@pytest.fixture
def billing():
    return make_team("Billing", slug="billing")


@pytest.fixture
def chat(support):
    return start_chat(make_widget(support))


def test_anonymous_and_customers_are_refused(support):
    customer = make_customer()

    async def scenario():
        for user, expected in ((AnonymousUser(), CLOSE_UNAUTHENTICATED), (customer.user, CLOSE_FORBIDDEN)):
            communicator = WebsocketCommunicator(URLRouter(agent_websocket_urlpatterns), "/ws/chat/agent/")
            communicator.scope["user"] = user
            assert await refusal_code(communicator) == expected

    run(scenario)


def test_agent_connects_through_the_asgi_application_with_a_session_from_our_own_origin_only(support, chat):
    from helpdesk.asgi import application

    agent = make_agent(support)
    client = Client()
    client.force_login(agent)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        ours = WebsocketCommunicator(application, "/ws/chat/agent/",
                                     headers=[(b"cookie", cookie), (b"origin", b"http://testserver")])
        connected, _ = await ours.connect(timeout=PATIENT)
        assert connected
        await join(ours, chat.pk)
        await ours.disconnect()
        # A page of another site cannot open an agent's chat socket with the agent's cookie.
        theirs = WebsocketCommunicator(application, "/ws/chat/agent/",
                                       headers=[(b"cookie", cookie), (b"origin", b"https://evil.example")])
        connected, _ = await theirs.connect(timeout=PATIENT)
        assert not connected

    run(scenario)


def test_an_agent_of_another_team_cannot_join_the_chat_nor_hear_it(support, billing, chat):
    outsider = make_agent(billing)
    token = visitor_token(chat)

    async def scenario():
        socket = await open_agent(outsider)
        await socket.send_json_to({"type": "join", "chat": chat.pk})
        assert await socket.receive_json_from(timeout=PATIENT) == {"type": "error", "code": "not_found",
                                                                   "chat": chat.pk}
        # Nor can they post into it or type in it.
        await socket.send_json_to({"type": "message", "chat": chat.pk, "client_id": "x", "body": "Hi"})
        assert await socket.receive_json_from(timeout=PATIENT) == {"type": "error", "code": "not_joined",
                                                                   "chat": chat.pk}
        visitor = await open_visitor(token)
        await visitor.send_json_to({"type": "message", "client_id": "v1", "body": "Secret order number"})
        await next_of_type(visitor, "ack", skip=("state", "message"))
        assert await socket.receive_nothing(timeout=QUIET)
        await visitor.disconnect()
        await socket.disconnect()

    run(scenario)
    assert not Message.objects.filter(ticket_id=chat.ticket_id, body_text="Hi").exists()


def test_an_agent_moved_off_the_team_stops_receiving_the_chat(support, billing, chat):
    agent = make_agent(support)
    token = visitor_token(chat)

    async def scenario():
        socket = await open_agent(agent)
        await join(socket, chat.pk)
        await db(TeamMembership.objects.filter(user=agent, team=support).delete)
        await db(TeamMembership.objects.create, user=agent, team=billing)
        # Access read afresh at most ACCESS_FRESH_SECONDS later.
        import asyncio

        from channels_intake.chat.consumers import ACCESS_FRESH_SECONDS

        await asyncio.sleep(ACCESS_FRESH_SECONDS + 0.2)
        visitor = await open_visitor(token)
        await visitor.send_json_to({"type": "message", "client_id": "v1", "body": "After the move"})
        await next_of_type(visitor, "ack", skip=("state", "message"))
        assert all(f.get("body") != "After the move" for f in await frames_until_quiet(socket))
        await visitor.disconnect()
        await socket.disconnect()

    run(scenario)


def test_agent_messages_and_internal_notes_are_stored_and_acknowledged(support, chat):
    agent = make_agent(support)

    async def scenario():
        socket = await open_agent(agent)
        await join(socket, chat.pk)
        await socket.send_json_to({"type": "message", "chat": chat.pk, "client_id": "r", "body": "On it"})
        reply = await next_of_type(socket, "ack", skip=("state", "message"))
        await socket.send_json_to({"type": "message", "chat": chat.pk, "client_id": "n", "body": "VIP",
                                   "is_internal": True})
        note = await next_of_type(socket, "ack", skip=("state", "message"))
        assert (reply["chat"], reply["client_id"], note["client_id"]) == (chat.pk, "r", "n")
        await socket.disconnect()
        return reply["id"], note["id"]

    from asgiref.sync import async_to_sync

    reply_id, note_id = async_to_sync(scenario)()
    assert Message.objects.get(pk=reply_id).visibility == Visibility.PUBLIC
    assert Message.objects.get(pk=note_id).visibility == Visibility.INTERNAL


def test_join_with_after_replays_the_transcript_with_internal_notes(support, chat):
    agent = make_agent(support)
    note = services.chat_agent_message(chat=chat, agent=agent, body="Check the refund", is_internal=True)

    async def scenario():
        socket = await open_agent(agent)
        await join(socket, chat.pk, after=0)
        frames = await frames_until_quiet(socket)
        assert note.pk in [f["id"] for f in frames if f["type"] == "message"]
        assert frames[-1] == {"type": "resumed", "chat": chat.pk, "after": 0}
        await socket.disconnect()

    run(scenario)


def test_heartbeat_sets_and_refreshes_chat_presence(support):
    agent = make_agent(support)

    async def scenario():
        socket = await open_agent(agent)
        await socket.send_json_to({"type": "heartbeat", "status": "online"})
        assert await socket.receive_json_from(timeout=PATIENT) == {"type": "heartbeat", "status": "online"}
        assert await db(services.agent_chat_presence, user=agent) == "online"
        await socket.send_json_to({"type": "heartbeat"})
        assert await socket.receive_json_from(timeout=PATIENT) == {"type": "heartbeat", "status": "online"}
        await socket.send_json_to({"type": "heartbeat", "status": "asleep"})
        assert await close_code(socket) == CLOSE_MALFORMED

    run(scenario)
