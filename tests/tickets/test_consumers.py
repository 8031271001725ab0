"""The agent websocket against the real Redis channel layer: who may connect, what reaches whom, presence.

Each scenario runs in an event loop (async_to_sync) while ticket changes go through the real
services, whose realtime events are sent when their transaction commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from tests.factories import make_agent, make_customer, make_team, make_ticket, make_user
from tickets import presence
from tickets.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from tickets.models import Role, TeamMembership
from tickets.routing import websocket_urlpatterns
from tickets.services import ticket_add_note, ticket_update

pytestmark = pytest.mark.django_db(transaction=True)

QUIET = 1.0  # seconds to wait for a message that must not come
PATIENT = 10  # seconds to wait for a message that must come (the machine may be busy)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def db(function: Callable, *args, **kwargs):
    return database_sync_to_async(function)(*args, **kwargs)


async def open_socket(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def receive_exactly(communicator: WebsocketCommunicator, count: int) -> list[dict]:
    """`count` messages, then a quiet socket (nothing more within QUIET seconds)."""
    received = [await communicator.receive_json_from(timeout=PATIENT) for _ in range(count)]
    assert await communicator.receive_nothing(timeout=QUIET), "more messages than expected"
    return received


@pytest.fixture
def support():
    return make_team("Support", slug="support")


@pytest.fixture
def billing():
    return make_team("Billing", slug="billing")


# ------------------------------------------------------------------------------------- connecting


def test_anonymous_socket_is_closed_with_4401():
    async def scenario():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
        communicator.scope["user"] = AnonymousUser()
        connected, code = await communicator.connect()
        assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)

    run(scenario)


def test_customer_socket_is_closed_with_4403():
    customer = make_customer()

    async def scenario():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
        communicator.scope["user"] = customer.user
        connected, code = await communicator.connect()
        assert (connected, code) == (False, CLOSE_FORBIDDEN)

    run(scenario)


def test_inactive_agent_is_refused(support):
    agent = make_agent(support, is_active=False)

    async def scenario():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
        communicator.scope["user"] = agent
        connected, code = await communicator.connect()
        assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)

    run(scenario)


def test_agent_connects_through_the_asgi_application_with_a_session_cookie(support):
    from helpdesk.asgi import application

    agent = make_agent(support)
    client = Client()
    client.force_login(agent)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    ticket = make_ticket(team=support)

    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/agent/", headers=[(b"cookie", cookie), (b"origin", b"http://testserver")]
        )
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"type": "subscribe_ticket", "number": ticket.number})
        assert await communicator.receive_json_from(timeout=PATIENT) == {"type": "subscribed", "number": ticket.number}
        await communicator.disconnect()

        anonymous = WebsocketCommunicator(application, "/ws/agent/", headers=[(b"origin", b"http://testserver")])
        connected, code = await anonymous.connect()
        assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)

    run(scenario)


# ------------------------------------------------------------------------------------- events


def test_agent_receives_changes_of_their_team_tickets_only(support, billing):
    agent = make_agent(support)
    mine = make_ticket(team=support)
    theirs = make_ticket(team=billing)

    async def scenario():
        socket = await open_socket(agent)
        # The forbidden change first: events reach a socket in order, so a leak would arrive first.
        await db(ticket_update, ticket=theirs, actor=None, priority="urgent")
        await db(ticket_update, ticket=mine, actor=None, priority="high")
        received = await receive_exactly(socket, 1)
        assert [(m["type"], m["ticket"]["number"]) for m in received] == [("ticket.updated", mine.number)]
        assert received[0]["changes"] == {"priority": "high"}
        await socket.disconnect()

    run(scenario)


def test_manager_receives_changes_of_every_team(support, billing):
    manager = make_user(role=Role.MANAGER)
    first, second = make_ticket(team=support), make_ticket(team=billing)

    async def scenario():
        socket = await open_socket(manager)
        await db(ticket_update, ticket=first, actor=None, priority="high")
        await db(ticket_update, ticket=second, actor=None, priority="high")
        received = await receive_exactly(socket, 2)
        assert sorted(m["ticket"]["number"] for m in received) == sorted([first.number, second.number])
        await socket.disconnect()

    run(scenario)


def test_subscribing_to_another_teams_ticket_is_refused_and_leaks_nothing(support, billing):
    """CVE-2022-40816 style: a socket that hands out other users' data to whoever subscribes."""
    outsider = make_agent(billing)
    insider = make_agent(support)
    ticket = make_ticket(team=support, subject="Salary data")
    control = make_ticket(team=billing)

    async def scenario():
        socket = await open_socket(outsider)
        await socket.send_json_to({"type": "subscribe_ticket", "number": ticket.number})
        assert await socket.receive_json_from(timeout=PATIENT) == {
            "type": "error", "code": "not_found", "number": ticket.number,
        }
        # The same answer for a number that does not exist: nothing to probe.
        await socket.send_json_to({"type": "subscribe_ticket", "number": 987654321})
        assert await socket.receive_json_from(timeout=PATIENT) == {"type": "error", "code": "not_found", "number": 987654321}
        await socket.send_json_to({"type": "presence", "number": ticket.number, "state": "typing"})
        assert (await socket.receive_json_from(timeout=PATIENT))["code"] == "not_subscribed"

        await db(ticket_update, ticket=ticket, actor=None, priority="urgent")
        await db(ticket_add_note, ticket=ticket, actor=insider, body_text="internal")
        # A change the outsider may see, sent last: it must be the only thing that arrives.
        await db(ticket_update, ticket=control, actor=None, priority="high")
        received = await receive_exactly(socket, 1)
        assert received[0]["ticket"]["number"] == control.number
        await socket.disconnect()

    run(scenario)
    assert presence.presence_list(ticket_id=ticket.pk) == []


def test_subscribed_agent_gets_the_tickets_events_and_notes(support):
    agent = make_agent(support)
    colleague = make_agent(support)
    ticket = make_ticket(team=support)

    async def scenario():
        socket = await open_socket(agent)
        await socket.send_json_to({"type": "subscribe_ticket", "number": ticket.number})
        assert await socket.receive_json_from(timeout=PATIENT) == {"type": "subscribed", "number": ticket.number}
        await db(ticket_add_note, ticket=ticket, actor=colleague, body_text="look at this")
        received = await receive_exactly(socket, 2)
        # Once through the team group and once through the ticket group; both scoped.
        assert {m["type"] for m in received} == {"ticket.message_added"}
        assert {m["ticket"]["number"] for m in received} == {ticket.number}
        assert received[0]["message"]["visibility"] == "internal"
        assert "body_text" not in str(received) and "look at this" not in str(received)
        await socket.disconnect()

    run(scenario)


def test_removal_from_the_team_stops_events_on_an_open_socket(support, billing):
    agent = make_agent(support, billing)
    ticket = make_ticket(team=support)
    control = make_ticket(team=billing)

    async def scenario():
        socket = await open_socket(agent)
        await socket.send_json_to({"type": "subscribe_ticket", "number": ticket.number})
        await socket.receive_json_from(timeout=PATIENT)
        await db(lambda: TeamMembership.objects.filter(user=agent, team=support).delete())
        await db(ticket_update, ticket=ticket, actor=None, priority="urgent")
        await db(ticket_update, ticket=control, actor=None, priority="urgent")
        received = await receive_exactly(socket, 1)
        assert received[0]["ticket"]["number"] == control.number
        await socket.disconnect()

    run(scenario)


def test_ticket_moved_to_another_team_is_no_longer_forwarded(support, billing):
    agent = make_agent(support)
    manager = make_user(role=Role.MANAGER)
    ticket = make_ticket(team=support)
    control = make_ticket(team=support)

    async def scenario():
        socket = await open_socket(agent)
        await db(ticket_update, ticket=ticket, actor=manager, team=billing)
        await db(ticket_update, ticket=control, actor=None, priority="high")
        received = await receive_exactly(socket, 1)
        assert received[0]["ticket"]["number"] == control.number
        await socket.disconnect()

    run(scenario)


def test_malformed_messages_get_errors_not_crashes(support):
    agent = make_agent(support)

    async def scenario():
        socket = await open_socket(agent)
        for message, code in (
            ([1, 2], "bad_message"),
            ({"type": "rm -rf"}, "unknown_type"),
            ({"type": "subscribe_ticket", "number": "10001 OR 1=1"}, "bad_number"),
            ({"type": "subscribe_ticket", "number": True}, "bad_number"),
        ):
            await socket.send_json_to(message)
            assert (await socket.receive_json_from(timeout=PATIENT))["code"] == code
        await socket.disconnect()

    run(scenario)


# ------------------------------------------------------------------------------------- presence


def test_presence_reaches_the_other_agents_on_the_ticket_and_ends_on_disconnect(support):
    ada = make_agent(support, display_name="Ada")
    bo = make_agent(support, display_name="Bo")
    ticket = make_ticket(team=support)

    async def scenario():
        first, second = await open_socket(ada), await open_socket(bo)
        for socket in (first, second):
            await socket.send_json_to({"type": "subscribe_ticket", "number": ticket.number})
            assert (await socket.receive_json_from(timeout=PATIENT))["type"] == "subscribed"

        await first.send_json_to({"type": "presence", "number": ticket.number, "state": "typing"})
        assert await second.receive_json_from(timeout=PATIENT) == {"type": "presence", "number": ticket.number}
        assert await first.receive_nothing(timeout=QUIET)  # no echo to the sender
        people = await db(presence.presence_list, ticket_id=ticket.pk, exclude_user_id=bo.pk)
        assert [(p.name, p.state) for p in people] == [("Ada", "typing")]

        await first.send_json_to({"type": "presence", "number": ticket.number, "state": "viewing"})
        assert await second.receive_json_from(timeout=PATIENT) == {"type": "presence", "number": ticket.number}
        people = await db(presence.presence_list, ticket_id=ticket.pk, exclude_user_id=bo.pk)
        assert [(p.name, p.state) for p in people] == [("Ada", "viewing")]

        await first.send_json_to({"type": "presence", "number": ticket.number, "state": "sleeping"})
        assert (await first.receive_json_from(timeout=PATIENT))["code"] == "bad_state"

        await first.disconnect()
        assert await second.receive_json_from(timeout=PATIENT) == {"type": "presence", "number": ticket.number}
        assert await db(presence.presence_list, ticket_id=ticket.pk, exclude_user_id=bo.pk) == []
        await second.disconnect()

    run(scenario)


def test_an_idle_socket_still_receives_events_later(support):
    """The channel layer blocks on Redis for up to 5 s per read; a client socket timeout at or below
    that (redis-py 8 defaults to 5 s) used to kill every idle consumer."""
    import asyncio

    agent = make_agent(support)
    ticket = make_ticket(team=support)

    async def scenario():
        socket = await open_socket(agent)
        await asyncio.sleep(12)
        await db(ticket_update, ticket=ticket, actor=None, priority="high")
        received = await receive_exactly(socket, 1)
        assert received[0]["ticket"]["number"] == ticket.number
        await socket.disconnect()

    run(scenario)
