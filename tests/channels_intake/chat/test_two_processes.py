"""Two real ASGI processes behind two ports: a visitor on one and an agent on the other chat through
Redis, as they do when `make run` (or production) runs more than one websocket worker."""

from __future__ import annotations

import asyncio

import pytest
from django.conf import settings
from django.test import Client

from tests.channels_intake.chat.live_servers import AsgiServer, ChatClient, database_url
from tests.channels_intake.chat.socket_helpers import SHOP, make_widget, start_chat, visitor_token
from tests.factories import make_agent, make_team

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_servers(tmp_path):
    database = database_url(settings.DATABASES["default"])
    servers = [AsgiServer(database=database, redis_url=settings.REDIS_URL, log_path=tmp_path / f"asgi-{n}.log")
               for n in range(2)]
    for server in servers:
        server.start()
    try:
        for server in servers:
            server.wait_until_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_a_visitor_on_one_process_and_an_agent_on_another_exchange_messages(two_servers):
    first, second = two_servers
    support = make_team("Support", slug="support")
    chat = start_chat(make_widget(support))
    agent = make_agent(support)
    browser = Client()
    browser.force_login(agent)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    token = visitor_token(chat)

    async def scenario():
        visitor = ChatClient(f"{first.ws_base}/ws/chat/visitor/?token={token}", origin=SHOP)
        console = ChatClient(f"{second.ws_base}/ws/chat/agent/", chat_id=chat.pk,
                             origin=f"http://127.0.0.1:{second.port}", headers=[("Cookie", cookie)])
        await console.connect()
        await visitor.connect()
        await asyncio.sleep(0.3)  # both have joined the chat's group

        for n in range(5):
            await visitor.send_message(f"v{n}", f"Visitor says {n}")
            await console.send_message(f"a{n}", f"Agent says {n}")
        await visitor.wait_for(lambda: not visitor.pending and len(visitor.acks) == 5)
        await console.wait_for(lambda: not console.pending and len(console.acks) == 5)
        visitor_ids, agent_ids = set(visitor.acks.values()), set(console.acks.values())
        # Each side got the other's messages across processes, each once.
        await console.wait_for(lambda: visitor_ids <= set(console.messages))
        await visitor.wait_for(lambda: agent_ids <= set(visitor.messages))
        assert sorted(console.deliveries) == sorted(set(console.deliveries))
        assert sorted(visitor.deliveries) == sorted(set(visitor.deliveries))
        assert [console.messages[i]["body"] for i in sorted(visitor_ids)] == [f"Visitor says {n}" for n in range(5)]
        await visitor.close()
        await console.close()

    asyncio.run(scenario())
