"""Visitors' chat lines stored in batches (channels_intake.chat.lines): refusals, resends, the writer."""

from __future__ import annotations

import asyncio

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError

from channels_intake.chat import lines, services
from channels_intake.chat.lines import VisitorLine, chat_visitor_lines_store, line_writer
from helpdesk import realtime
from tests.channels_intake.chat.chat_factories import make_widget, start_chat
from tests.channels_intake.chat.socket_helpers import run
from tests.factories import make_team
from tickets.models import Message
from tickets.services.ticket_messages import AppendedLine


@pytest.fixture
def widget(db):
    return make_widget(make_team(name="Support", slug="support"))


def bodies(chat) -> list[str]:
    return list(Message.objects.filter(ticket_id=chat.ticket_id).order_by("id").values_list("body_text", flat=True))


@pytest.mark.django_db
def test_lines_of_two_chats_reach_their_tickets_and_their_chat_groups(widget, monkeypatch,
                                                                      django_capture_on_commit_callbacks):
    ann, bo = start_chat(widget, name="Ann"), start_chat(widget, name="Bo")
    sent: list = []
    monkeypatch.setattr(realtime, "send_many", lambda deliveries: sent.extend(deliveries))

    with django_capture_on_commit_callbacks(execute=True):
        results = chat_visitor_lines_store(lines=[
            VisitorLine(chat_id=ann.pk, client_id="a-1", body="Order 42"),
            VisitorLine(chat_id=bo.pk, client_id="b-1", body="Hello"),
        ])

    assert all(isinstance(result, AppendedLine) and result.is_new for result in results)
    assert bodies(ann)[-1] == "Order 42" and bodies(bo)[-1] == "Hello"
    to_ann = [event for groups, event in sent if groups == [realtime.chat_group(ann.pk)]]
    message = Message.objects.get(pk=results[0].message_id)
    # What the visitor's and the agents' sockets receive, as for a single message.
    assert to_ann == [{
        "type": "chat.message", "chat": ann.pk, "id": message.pk, "author": "visitor", "author_name": "Ann",
        "body": "Order 42", "is_internal": False, "created_at": message.created_at.isoformat(), "client_id": "a-1",
        "attachments": [],
    }]


@pytest.mark.django_db
def test_each_refused_line_gets_its_reason_and_the_others_are_stored(widget, settings):
    settings.HELPDESK_CHAT_MAX_MESSAGE_CHARS = 20
    settings.HELPDESK_CHAT_MESSAGES_PER_MINUTE = 1
    chat, ended = start_chat(widget), start_chat(widget)
    services.chat_end(chat=ended, reason="visitor_left", solve=False)

    results = chat_visitor_lines_store(lines=[
        VisitorLine(chat_id=chat.pk, client_id="ok", body="fine"),
        VisitorLine(chat_id=chat.pk, client_id="bad id!", body="x"),
        VisitorLine(chat_id=chat.pk, client_id="long", body="x" * 21),
        VisitorLine(chat_id=chat.pk, client_id="empty", body="   "),
        VisitorLine(chat_id=ended.pk, client_id="late", body="hello?"),
        VisitorLine(chat_id=999_999, client_id="ghost", body="hello?"),
        VisitorLine(chat_id=chat.pk, client_id="fast", body="second in a minute"),
    ])

    assert isinstance(results[0], AppendedLine)
    assert isinstance(results[1], ValidationError) and results[1].code == "bad_client_id"
    assert isinstance(results[2], services.ChatMessageTooLong)
    assert isinstance(results[3], ValidationError) and results[3].code == "empty"
    assert isinstance(results[4], services.ChatEnded) and isinstance(results[5], services.ChatEnded)
    assert isinstance(results[6], services.ChatRateLimited)
    assert bodies(chat)[1:] == ["fine"]


@pytest.mark.django_db
def test_a_resend_is_acknowledged_with_the_stored_id_even_after_the_chat_ended(widget, settings):
    settings.HELPDESK_CHAT_MESSAGES_PER_MINUTE = 1
    chat = start_chat(widget)
    [first] = chat_visitor_lines_store(lines=[VisitorLine(chat_id=chat.pk, client_id="c-1", body="Order 42")])
    services.chat_end(chat=chat, reason="visitor_left", solve=False)

    [again] = chat_visitor_lines_store(lines=[VisitorLine(chat_id=chat.pk, client_id="c-1", body="Order 42")])

    # Not refused as ended nor as over the rate: it is no new message.
    assert (again.message_id, again.is_new) == (first.message_id, False)
    assert bodies(chat).count("Order 42") == 1


@pytest.mark.django_db(transaction=True)
def test_lines_sent_at_once_by_many_sockets_are_all_acknowledged_and_stored_once(widget):
    chats = [start_chat(widget, name=f"Visitor {number}") for number in range(12)]

    outcomes: list = []

    async def scenario() -> None:
        writer = line_writer()
        sends = [writer.store(VisitorLine(chat_id=chat.pk, client_id=f"c-{turn}", body=f"line {turn}"))
                 for turn in range(3) for chat in chats]
        # Twice the same line (a resend racing its first delivery): stored once.
        sends.append(writer.store(VisitorLine(chat_id=chats[0].pk, client_id="c-0", body="line 0")))
        outcomes.extend(await asyncio.gather(*sends))

    run(scenario)

    assert all(isinstance(outcome, AppendedLine) for outcome in outcomes)
    assert outcomes[-1].message_id == outcomes[0].message_id and not outcomes[-1].is_new
    for chat in chats:
        assert bodies(chat)[1:] == ["line 0", "line 1", "line 2"]


@pytest.mark.django_db(transaction=True)
def test_when_the_database_fails_every_waiting_line_is_told_and_the_next_ones_are_stored(widget, monkeypatch):
    chat = start_chat(widget)
    real_store = lines.chat_visitor_lines_store

    def failing(**kwargs):
        raise OperationalError("the server closed the connection")

    outcomes: list = []

    async def scenario() -> None:
        writer = line_writer()
        monkeypatch.setattr(lines, "chat_visitor_lines_store", failing)
        failed = await asyncio.gather(
            writer.store(VisitorLine(chat_id=chat.pk, client_id="c-1", body="one")),
            writer.store(VisitorLine(chat_id=chat.pk, client_id="c-2", body="two")),
            return_exceptions=True,
        )
        monkeypatch.setattr(lines, "chat_visitor_lines_store", real_store)
        stored = await writer.store(VisitorLine(chat_id=chat.pk, client_id="c-1", body="one"))
        outcomes.extend([*failed, stored])

    run(scenario)

    assert all(isinstance(outcome, OperationalError) for outcome in outcomes[:2])
    assert isinstance(outcomes[2], AppendedLine) and outcomes[2].is_new
    assert bodies(chat)[1:] == ["one"]
