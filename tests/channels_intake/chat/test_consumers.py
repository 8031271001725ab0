"""The visitor chat socket against the real Redis channel layer: acknowledgements after commit, resend,
resume, what the visitor may see, and every refusal with its close code.

Each scenario runs in an event loop (async_to_sync); chats change through the real services, whose
realtime events are sent when their transaction commits.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.db import connection

from channels_intake.chat import services
from channels_intake.chat.consumers import (
    CLOSE_FORBIDDEN,
    CLOSE_MALFORMED,
    CLOSE_NOT_FOUND,
    CLOSE_RATE_LIMITED,
    CLOSE_TOO_LARGE,
    CLOSE_UNAUTHENTICATED,
)
from channels_intake.chat.models import Chat
from tests.channels_intake.chat.socket_helpers import (
    PATIENT,
    QUIET,
    SHOP,
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


@pytest.fixture
def chat(widget):
    return start_chat(widget)


@pytest.fixture
def agent(support):
    return make_agent(support, display_name="Bo Agent")


def stored_elsewhere(message_id: int) -> bool:
    """Whether another connection (another process would) sees the message: it is committed."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        return other.execute("SELECT 1 FROM tickets_message WHERE id = %s", [message_id]).fetchone() is not None


def visitor_messages(chat: Chat) -> list[tuple[str, str]]:
    return list(Message.objects.filter(ticket_id=chat.ticket_id, external_id__startswith=f"chat:{chat.pk}:")
                .order_by("pk").values_list("external_id", "body_text"))


# ------------------------------------------------------------------------------- messages


def test_visitor_message_is_acknowledged_with_its_stored_id_once_committed_and_reaches_the_agent(chat, agent):
    token = visitor_token(chat)

    async def scenario():
        agent_socket = await open_agent(agent)
        await join(agent_socket, chat.pk)
        visitor = await open_visitor(token)
        client_id = str(uuid.uuid4())
        await visitor.send_json_to({"type": "message", "client_id": client_id, "body": "My parcel is late"})

        ack = await next_of_type(visitor, "ack", skip=("state", "message"))
        assert ack["client_id"] == client_id
        # When the ack arrives, another connection already reads the row: it was committed first.
        assert await db(stored_elsewhere, ack["id"])

        delivered = await next_of_type(agent_socket, "message")
        assert (delivered["id"], delivered["body"], delivered["author"], delivered["is_internal"]) == (
            ack["id"], "My parcel is late", "visitor", False)
        assert delivered["author_name"] == "Ann Visitor"
        await visitor.disconnect()
        await agent_socket.disconnect()

    run(scenario)
    assert visitor_messages(chat)[-1][1] == "My parcel is late"


def test_a_message_resent_with_the_same_client_id_is_stored_and_delivered_once(chat, agent):
    token = visitor_token(chat)
    before = len(visitor_messages(chat))

    async def scenario():
        agent_socket = await open_agent(agent)
        await join(agent_socket, chat.pk)
        frame = {"type": "message", "client_id": str(uuid.uuid4()), "body": "Order 1234"}

        first = await open_visitor(token)
        await first.send_json_to(frame)
        first_ack = await next_of_type(first, "ack", skip=("state", "message"))
        await first.disconnect()
        # The widget did not see the ack (say the network dropped): it resends on the new socket.
        second = await open_visitor(token)
        await second.send_json_to(frame)
        second_ack = await next_of_type(second, "ack", skip=("state", "message"))
        assert second_ack == first_ack

        received = [f for f in await frames_until_quiet(agent_socket) if f["type"] == "message"]
        assert [f["id"] for f in received] == [first_ack["id"]]
        await second.disconnect()
        await agent_socket.disconnect()

    run(scenario)
    assert len(visitor_messages(chat)) == before + 1


def test_the_visitor_sees_agent_replies_but_never_internal_notes(chat, agent):
    token = visitor_token(chat)

    async def scenario():
        visitor = await open_visitor(token)
        agent_socket = await open_agent(agent)
        await join(agent_socket, chat.pk)
        # The note first: frames reach a socket in order, so a leak would arrive before the reply.
        await agent_socket.send_json_to({"type": "message", "chat": chat.pk, "client_id": "n1",
                                         "body": "Customer sounds angry", "is_internal": True})
        note_ack = await next_of_type(agent_socket, "ack", skip=("state", "message"))
        await agent_socket.send_json_to({"type": "message", "chat": chat.pk, "client_id": "r1",
                                         "body": "Hello, let me check.", "is_internal": False})
        reply_ack = await next_of_type(agent_socket, "ack", skip=("state", "message"))

        frames = await frames_until_quiet(visitor)
        messages = [f for f in frames if f["type"] == "message"]
        assert [(m["id"], m["body"], m["author"]) for m in messages] == [
            (reply_ack["id"], "Hello, let me check.", "agent")]
        assert "is_internal" not in messages[0]
        assert all("angry" not in str(f) for f in frames)

        # Nor on a resume from PostgreSQL.
        await visitor.send_json_to({"type": "resume", "after": 0})
        replayed = [f for f in await frames_until_quiet(visitor) if f["type"] == "message"]
        assert note_ack["id"] not in [m["id"] for m in replayed]
        assert all(m["body"] != "Customer sounds angry" for m in replayed)
        await visitor.disconnect()
        await agent_socket.disconnect()

    run(scenario)


# ------------------------------------------------------------------------------- resume


def test_resume_replays_the_messages_missed_while_away_in_order_then_live_ones(chat, agent):
    token = visitor_token(chat)

    async def scenario():
        visitor = await open_visitor(token)
        await visitor.send_json_to({"type": "message", "client_id": "c1", "body": "Hello?"})
        seen = (await next_of_type(visitor, "ack", skip=("state", "message")))["id"]
        await visitor.disconnect()

        agent_socket = await open_agent(agent)
        await join(agent_socket, chat.pk)
        missed = []
        for n in range(3):
            await agent_socket.send_json_to({"type": "message", "chat": chat.pk, "client_id": f"a{n}",
                                             "body": f"Answer {n}"})
            missed.append((await next_of_type(agent_socket, "ack", skip=("state", "message")))["id"])

        back = await open_visitor(token)
        await back.send_json_to({"type": "resume", "after": seen})
        replay = await frames_until_quiet(back)
        assert [f["id"] for f in replay if f["type"] == "message" and f["id"] > seen] == missed
        assert [f["body"] for f in replay if f["type"] == "message" and f["id"] > seen] == [
            "Answer 0", "Answer 1", "Answer 2"]
        assert replay[-1] == {"type": "resumed", "after": seen}

        await agent_socket.send_json_to({"type": "message", "chat": chat.pk, "client_id": "a9", "body": "Live"})
        live = await next_of_type(back, "message")
        assert live["body"] == "Live"
        await back.disconnect()
        await agent_socket.disconnect()

    run(scenario)


def test_resume_in_the_address_replays_before_any_live_message(chat, agent):
    token = visitor_token(chat)

    async def scenario():
        agent_socket = await open_agent(agent)
        await join(agent_socket, chat.pk)
        await agent_socket.send_json_to({"type": "message", "chat": chat.pk, "client_id": "a1", "body": "First"})
        first = (await next_of_type(agent_socket, "ack", skip=("state", "message")))["id"]

        back = await open_visitor(token, after=0)
        await agent_socket.send_json_to({"type": "message", "chat": chat.pk, "client_id": "a2", "body": "Second"})
        frames = await frames_until_quiet(back)
        ids = [f["id"] for f in frames if f["type"] == "message"]
        assert first in ids
        assert ids == sorted(ids), "replayed messages come before live ones"
        assert len(ids) == len(set(ids))
        assert frames[-1]["body"] == "Second"
        await back.disconnect()
        await agent_socket.disconnect()

    run(scenario)


def test_a_message_committed_while_the_replay_runs_is_sent_exactly_once(chat, agent):
    """The live copy waits in the socket's channel while PostgreSQL is read; whichever comes first,
    the other is dropped by id, and nothing is skipped."""
    token = visitor_token(chat)

    async def scenario():
        back = await open_visitor(token)  # in the chat's group from here on
        agent_socket = await open_agent(agent)
        await join(agent_socket, chat.pk)
        sent = []
        for n in range(5):
            # Each reply is committed (and its live event queued for the visitor) before the resume
            # below is read, so every one is both replayed and delivered live.
            await agent_socket.send_json_to({"type": "message", "chat": chat.pk, "client_id": f"a{n}",
                                             "body": f"Reply {n}"})
            sent.append((await next_of_type(agent_socket, "ack", skip=("state", "message")))["id"])
        await back.send_json_to({"type": "resume", "after": 0})
        frames = await frames_until_quiet(back)
        ids = [f["id"] for f in frames if f["type"] == "message"]
        assert sorted(set(ids)) == sorted(ids), f"a message was sent twice: {ids}"
        assert set(sent) <= set(ids)
        await back.disconnect()
        await agent_socket.disconnect()

    run(scenario)


def test_resume_sends_a_message_that_committed_after_a_later_one_the_client_saw(chat, agent):
    """Ids are handed out before commit: id 101 can commit after id 102. A client that saw 102
    and resumes "after 102" must still get 101 (it drops ids it already has)."""
    token = visitor_token(chat)
    earlier = services.chat_agent_message(chat=chat, agent=agent, body="Committed late", client_id="x1")
    later = services.chat_agent_message(chat=chat, agent=agent, body="Committed first", client_id="x2")
    assert earlier.pk < later.pk

    async def scenario():
        back = await open_visitor(token)
        await back.send_json_to({"type": "resume", "after": later.pk})
        frames = await frames_until_quiet(back)
        assert earlier.pk in [f["id"] for f in frames if f["type"] == "message"]
        await back.disconnect()

    run(scenario)


# ------------------------------------------------------------------------------- typing, read, ping


def test_typing_and_read_receipts_are_relayed_both_ways_and_not_stored(chat, agent):
    token = visitor_token(chat)
    messages_before = Message.objects.count()

    async def scenario():
        visitor = await open_visitor(token)
        agent_socket = await open_agent(agent)
        await join(agent_socket, chat.pk)

        await visitor.send_json_to({"type": "typing", "is_typing": True})
        typing = await next_of_type(agent_socket, "typing")
        assert (typing["chat"], typing["who"], typing["is_typing"]) == (chat.pk, "visitor", True)
        await agent_socket.send_json_to({"type": "typing", "chat": chat.pk, "is_typing": True})
        typing = await next_of_type(visitor, "typing")
        assert (typing["who"], typing["name"], typing["is_typing"]) == ("agent", "Bo Agent", True)

        await agent_socket.send_json_to({"type": "read", "chat": chat.pk, "up_to": 41})
        assert (await next_of_type(visitor, "read"))["up_to"] == 41
        await visitor.send_json_to({"type": "read", "up_to": 42})
        read = await next_of_type(agent_socket, "read")
        assert (read["up_to"], read["by"]) == (42, "visitor")

        # Nobody hears their own typing back.
        assert await visitor.receive_nothing(timeout=QUIET)
        await visitor.send_json_to({"type": "ping"})
        assert await visitor.receive_json_from(timeout=PATIENT) == {"type": "pong"}
        await visitor.disconnect()
        await agent_socket.disconnect()

    run(scenario)
    assert Message.objects.count() == messages_before


# ------------------------------------------------------------------------------- refusals


def test_a_forged_token_is_closed_with_4401(chat):
    token = visitor_token(chat)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    async def scenario():
        for candidate in (forged, "", "not-a-token"):
            assert await refusal_code(visitor_socket(candidate)) == CLOSE_UNAUTHENTICATED

    run(scenario)


def test_an_expired_token_is_closed_with_4401(chat, settings):
    token = visitor_token(chat)
    settings.HELPDESK_CHAT_TOKEN_MAX_AGE_SECONDS = -1

    async def scenario():
        assert await refusal_code(visitor_socket(token)) == CLOSE_UNAUTHENTICATED

    run(scenario)


def test_a_token_of_an_ended_chat_or_inactive_widget_is_closed_with_4404(widget):
    ended, on_inactive = start_chat(widget), start_chat(widget)
    services.chat_end(chat=ended, reason="visitor_left", solve=False)
    widget.is_active = False
    widget.save(update_fields=["is_active"])

    async def scenario():
        for chat in (ended, on_inactive):
            assert await refusal_code(visitor_socket(visitor_token(chat))) == CLOSE_NOT_FOUND

    run(scenario)


def test_an_origin_the_widget_does_not_allow_is_closed_with_4403(chat):
    token = visitor_token(chat)

    async def scenario():
        for origin in ("https://evil.example", "http://shop.example", "https://shop.example.evil.example", None):
            assert await refusal_code(visitor_socket(token, origin=origin)) == CLOSE_FORBIDDEN, origin
        for origin in (SHOP, "https://SHOP.example:443", "http://testserver"):  # allowed, and our own address
            socket = visitor_socket(token, origin=origin)
            connected, _ = await socket.connect(timeout=PATIENT)
            assert connected, origin
            await socket.disconnect()

    run(scenario)


def test_malformed_frames_are_closed_with_4400_and_other_sockets_carry_on(chat, agent):
    token = visitor_token(chat)

    async def scenario():
        bystander = await open_visitor(token)
        for frame in ('{"type": "message", ', "[1, 2]", '"hello"', '{"type": "dance"}',
                      '{"type": "message", "client_id": 7, "body": "x"}', '{"type": "typing", "is_typing": "yes"}',
                      '{"type": "resume", "after": -1}'):
            bad = await open_visitor(token)
            await bad.send_to(text_data=frame)
            assert await close_code(bad) == CLOSE_MALFORMED, frame
        bad = await open_visitor(token)
        await bad.send_to(bytes_data=b"\x00\x01")
        assert await close_code(bad) == CLOSE_MALFORMED

        await bystander.send_json_to({"type": "message", "client_id": "ok", "body": "Still here"})
        assert (await next_of_type(bystander, "ack", skip=("state", "message")))["client_id"] == "ok"
        await bystander.disconnect()

    run(scenario)


def test_an_oversized_frame_is_closed_with_4413_and_a_too_long_message_is_refused_without_closing(
    chat, settings
):
    settings.HELPDESK_CHAT_MAX_MESSAGE_CHARS = 100
    token = visitor_token(chat)
    before = visitor_messages(chat)

    async def scenario():
        visitor = await open_visitor(token)
        await visitor.send_json_to({"type": "message", "client_id": "long", "body": "x" * 101})
        assert await visitor.receive_json_from(timeout=PATIENT) == {
            "type": "error", "code": "too_long", "client_id": "long", "max_chars": 100}
        await visitor.send_json_to({"type": "message", "client_id": "short", "body": "x" * 100})
        assert (await next_of_type(visitor, "ack", skip=("state", "message")))["client_id"] == "short"

        huge = await open_visitor(token)
        await huge.send_json_to({"type": "message", "client_id": "huge", "body": "x" * 10_000})
        assert await close_code(huge) == CLOSE_TOO_LARGE
        await visitor.disconnect()

    run(scenario)
    assert [client for client, _ in visitor_messages(chat)] == [*[c for c, _ in before], f"chat:{chat.pk}:short"]


def test_more_messages_a_minute_than_allowed_are_closed_with_4429(chat, settings):
    settings.HELPDESK_CHAT_MESSAGES_PER_MINUTE = 3
    token = visitor_token(chat)
    before = len(visitor_messages(chat))

    async def scenario():
        visitor = await open_visitor(token)
        for n in range(3):
            await visitor.send_json_to({"type": "message", "client_id": f"m{n}", "body": f"Message {n}"})
            await next_of_type(visitor, "ack", skip=("state", "message"))
        await visitor.send_json_to({"type": "message", "client_id": "m3", "body": "One too many"})
        assert await close_code(visitor) == CLOSE_RATE_LIMITED

    run(scenario)
    assert len(visitor_messages(chat)) == before + 3


def test_connections_from_one_address_past_the_limit_are_closed_with_4429_until_one_leaves(widget, settings):
    settings.HELPDESK_CHAT_MAX_CONNECTIONS_PER_IP = 2
    chats = [start_chat(widget) for _ in range(3)]

    async def scenario():
        first = await open_visitor(visitor_token(chats[0]))
        second = await open_visitor(visitor_token(chats[1]))
        assert await refusal_code(visitor_socket(visitor_token(chats[2]))) == CLOSE_RATE_LIMITED
        # Another address is not affected.
        elsewhere = await open_visitor(visitor_token(chats[2]), address="198.51.100.1")
        await first.disconnect()
        third = await open_visitor(visitor_token(chats[2]))
        for socket in (second, elsewhere, third):
            await socket.disconnect()

    run(scenario)


def test_the_address_behind_the_front_door_is_the_one_counted(widget, settings):
    settings.HELPDESK_CHAT_MAX_CONNECTIONS_PER_IP = 1
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    chats = [start_chat(widget) for _ in range(2)]

    async def scenario():
        sockets = []
        for chat, client in zip(chats, ("203.0.113.1", "203.0.113.2"), strict=True):
            socket = visitor_socket(visitor_token(chat), address="127.0.0.1")
            socket.scope["headers"].append((b"x-forwarded-for", client.encode()))
            connected, code = await socket.connect(timeout=PATIENT)
            assert connected, code
            sockets.append(socket)
        for socket in sockets:
            await socket.disconnect()

    run(scenario)
