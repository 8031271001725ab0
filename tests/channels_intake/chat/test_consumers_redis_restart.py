"""Redis restarts mid-chat (killed, everything in it lost): the sockets drop, the clients reconnect and
resume, and every message is in the transcript once and reaches the other side once.

PostgreSQL is the record; Redis only carries the live copies. A real uvicorn process and a private
redis-server of the test's own are used, so the server's channel layer loses its connections the
way it would in production.
"""

from __future__ import annotations

import asyncio

import pytest
from django.conf import settings
from django.test import Client

from channels_intake.chat.models import Chat
from tests.channels_intake.chat.live_servers import AsgiServer, ChatClient, PrivateRedis, database_url
from tests.channels_intake.chat.socket_helpers import SHOP, make_widget, start_chat, visitor_token
from tests.factories import make_agent, make_team
from tickets.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_and_server(tmp_path):
    redis = PrivateRedis(tmp_path)
    redis.start()
    server = AsgiServer(database=database_url(settings.DATABASES["default"]), redis_url=redis.url,
                        log_path=tmp_path / "asgi.log")
    server.start()
    try:
        server.wait_until_ready()
        yield redis, server
    finally:
        server.stop()
        redis.stop()


def test_after_a_redis_restart_the_clients_reconnect_and_nothing_is_lost_or_doubled(redis_and_server):
    redis, server = redis_and_server
    support = make_team("Support", slug="support")
    chat = start_chat(make_widget(support))
    agent = make_agent(support)
    browser = Client()
    browser.force_login(agent)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    token = visitor_token(chat)

    async def scenario():
        visitor = ChatClient(f"{server.ws_base}/ws/chat/visitor/?token={token}", origin=SHOP)
        console = ChatClient(f"{server.ws_base}/ws/chat/agent/", chat_id=chat.pk,
                             origin=f"http://127.0.0.1:{server.port}", headers=[("Cookie", cookie)])
        await console.connect()
        await visitor.connect()
        await asyncio.sleep(0.3)
        await visitor.send_message("before", "Before the restart")
        await console.wait_for(lambda: "Before the restart" in [m["body"] for m in console.messages.values()])

        await asyncio.to_thread(redis.stop)
        # While Redis is away: the visitor writes (stored, maybe acknowledged, not relayed) and the
        # agent answers; neither hears the other.
        await visitor.send_message("during-1", "While Redis is down")
        await console.send_message("answer-1", "Agent during the outage")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis.start)

        # The clients notice the dead sockets (or just reconnect, as the widget does on an error),
        # resume from the last id seen and resend what was not acknowledged.
        await visitor.reconnect()
        await console.reconnect()
        await visitor.send_message("after", "After the restart")
        await visitor.wait_for(lambda: not visitor.pending)
        await console.wait_for(lambda: not console.pending)
        visitor_ids = {visitor.acks[c] for c in ("before", "during-1", "after")}
        await console.wait_for(lambda: visitor_ids <= set(console.messages))
        await visitor.wait_for(lambda: console.acks["answer-1"] in visitor.messages)

        # Live again, both ways.
        await console.send_message("answer-2", "Live after the restart")
        await visitor.wait_for(lambda: console.acks.get("answer-2") in visitor.messages)
        await visitor.close()
        await console.close()
        return visitor, console

    visitor, console = asyncio.run(scenario())

    chat = Chat.objects.get(pk=chat.pk)
    bodies = list(Message.objects.filter(ticket_id=chat.ticket_id).order_by("pk").values_list("body_text", flat=True))
    for body in ("Before the restart", "While Redis is down", "After the restart", "Agent during the outage",
                 "Live after the restart"):
        assert bodies.count(body) == 1, (body, bodies)
    # What the client shows (kept by id) holds every message once; the visitor never saw the note-free
    # thread differ from the transcript.
    shown = [m["body"] for _, m in sorted(visitor.messages.items())]
    assert [b for b in bodies if b in shown] == shown
