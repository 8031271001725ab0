"""Screen-pops over the real agent websocket (Redis channel layer): a signed ringing webhook reaches
the agent it rings (or the team), nobody else; the pop's card is fetched over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from channels_intake.phone.models import AgentExtension, Call
from tests.factories import make_agent, make_customer, make_team
from tickets.consumers import CLOSE_FORBIDDEN
from tickets.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/intake/phone/events/"
SECRET = "phone-secret-0123456789"
QUIET = 1.0
PATIENT = 10


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.HELPDESK_PHONE_WEBHOOK_SECRET = SECRET


def post_event(payload: dict) -> int:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    signature = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    response = Client().post(URL, data=body, content_type="application/json", headers={
        "X-Helpdesk-Timestamp": timestamp, "X-Helpdesk-Signature": f"sha256={signature}",
    })
    return response.status_code


async def open_socket(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def messages_until_quiet(communicator: WebsocketCommunicator, *, expect: bool) -> list[dict]:
    received = [await communicator.receive_json_from(timeout=PATIENT)] if expect else []
    while not await communicator.receive_nothing(timeout=QUIET):
        received.append(await communicator.receive_json_from(timeout=PATIENT))
    return received


def test_ringing_call_pops_up_for_the_agent_it_rings_and_nobody_else():
    support = make_team("Support", slug="support")
    agent, teammate = make_agent(support), make_agent(support)
    outsider = make_agent(make_team("Billing", slug="billing"))
    AgentExtension.objects.create(user=agent, extension="101")
    caller = make_customer(email="wang@example.com")
    caller.phone_numbers = ["+8613812345678"]
    caller.save()

    async def scenario():
        sockets = [await open_socket(user) for user in (agent, teammate, outsider)]
        status = await database_sync_to_async(post_event)({
            "call_id": "pbx-7", "event": "ringing", "from": "13812345678", "to": "4008001234",
            "agent_extension": "101",
        })
        received = [await messages_until_quiet(socket, expect=socket is sockets[0]) for socket in sockets]
        for socket in sockets:
            await socket.disconnect()
        return status, received

    status, (to_agent, to_teammate, to_outsider) = async_to_sync(scenario)()

    call = Call.objects.get()
    assert status == 200
    assert to_agent == [{
        "type": "phone.ringing",
        "call": {"id": call.pk, "direction": "inbound", "customer": caller.pk},
        "ticket": {"team": support.pk, "assignee": agent.pk},
    }]
    assert to_teammate == [] and to_outsider == []


def test_call_routed_to_a_team_pops_up_for_its_members_only():
    support, billing = make_team("Support", slug="support"), make_team("Billing", slug="billing")
    member, other_member = make_agent(billing), make_agent(billing)
    outsider = make_agent(support)

    async def scenario():
        sockets = [await open_socket(user) for user in (member, other_member, outsider)]
        await database_sync_to_async(post_event)({"call_id": "pbx-8", "event": "ringing", "from": "13812345678",
                                                  "team": "billing"})
        received = [await messages_until_quiet(socket, expect=socket is not sockets[2]) for socket in sockets]
        for socket in sockets:
            await socket.disconnect()
        return received

    to_member, to_other_member, to_outsider = async_to_sync(scenario)()

    assert [message["type"] for message in to_member] == ["phone.ringing"]
    assert [message["type"] for message in to_other_member] == ["phone.ringing"]
    assert to_outsider == []


def test_a_ringing_event_after_the_call_ended_pops_nothing_up():
    support = make_team("Support", slug="support")
    agent = make_agent(support)
    AgentExtension.objects.create(user=agent, extension="101")
    base = {"call_id": "pbx-9", "from": "13812345678", "agent_extension": "101"}
    assert post_event({**base, "event": "missed"}) == 200

    async def scenario():
        socket = await open_socket(agent)
        await database_sync_to_async(post_event)({**base, "event": "ringing"})
        received = await messages_until_quiet(socket, expect=False)
        await socket.disconnect()
        return received

    assert [message["type"] for message in async_to_sync(scenario)() if message["type"] == "phone.ringing"] == []


def test_customers_cannot_open_the_socket_that_carries_screen_pops():
    customer = make_customer()

    async def scenario():
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
        communicator.scope["user"] = customer.user
        return await communicator.connect()

    assert async_to_sync(scenario)() == (False, CLOSE_FORBIDDEN)


def test_the_agent_and_the_team_hear_when_the_call_is_answered_and_ends():
    support = make_team("Support", slug="support")
    agent, teammate = make_agent(support), make_agent(support)
    outsider = make_agent(make_team("Billing", slug="billing"))
    AgentExtension.objects.create(user=agent, extension="101")
    base = {"call_id": "pbx-10", "from": "13812345678", "agent_extension": "101"}
    assert post_event({**base, "event": "ringing"}) == 200

    async def scenario():
        sockets = [await open_socket(user) for user in (agent, teammate, outsider)]
        await database_sync_to_async(post_event)({**base, "event": "answered"})
        await database_sync_to_async(post_event)({**base, "event": "ended", "duration": 40})
        received = [await messages_until_quiet(socket, expect=socket is not sockets[2]) for socket in sockets]
        for socket in sockets:
            await socket.disconnect()
        return received

    to_agent, to_teammate, to_outsider = async_to_sync(scenario)()

    call = Call.objects.get()
    updates = [
        {"type": "phone.updated", "call": {"id": call.pk, "state": state},
         "ticket": {"team": call.team_id, "assignee": agent.pk}}
        for state in ("answered", "ended")
    ]
    assert [message for message in to_agent if message["type"] == "phone.updated"] == updates
    assert [message for message in to_teammate if message["type"] == "phone.updated"] == updates
    assert [message for message in to_outsider if message["type"].startswith("phone.")] == []


def test_an_open_ticket_page_hears_when_its_call_entry_gets_the_final_duration():
    from channels_intake.phone import services
    from tests.factories import make_ticket

    support = make_team("Support", slug="support")
    agent, teammate = make_agent(support), make_agent(support)
    AgentExtension.objects.create(user=agent, extension="101")
    base = {"call_id": "pbx-11", "from": "13812345678", "agent_extension": "101"}
    assert post_event({**base, "event": "answered"}) == 200
    ticket = make_ticket(team=support)
    services.call_log(actor=agent, ticket=ticket, direction="inbound", number="13812345678", duration_seconds=None,
                      notes="Talking now", disposition="", call=Call.objects.get())

    async def scenario():
        socket = await open_socket(teammate)
        await socket.send_json_to({"type": "subscribe_ticket", "number": ticket.number})
        assert (await socket.receive_json_from(timeout=PATIENT))["type"] == "subscribed"
        await database_sync_to_async(post_event)({**base, "event": "ended", "duration": 75})
        received = await messages_until_quiet(socket, expect=True)
        await socket.disconnect()
        return received

    received = async_to_sync(scenario)()

    assert any(message["type"] == "ticket.updated" and message["ticket"]["number"] == ticket.number
               for message in received)
    assert "1 min 15 s" in ticket.messages.get(call__isnull=False).body_text
