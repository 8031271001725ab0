"""Chats end on their own: a visitor gone quiet (timeout) and a chat nobody accepted in time (offline).
The ticket stays open for a follow-up by email, and both the agent's console and the visitor see it end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from channels_intake.chat import presence, services
from channels_intake.chat.models import Chat, ChatState
from tests.channels_intake.chat.chat_factories import go_online, make_widget, start_chat
from tests.channels_intake.chat.socket_helpers import (
    db,
    join,
    next_of_type,
    open_agent,
    open_visitor,
    run,
    visitor_token,
)
from tests.factories import make_agent, make_team
from tickets.models import ActorKind, Event, Message, Status


@pytest.fixture
def team():
    return make_team(name="Support", slug="support")


@pytest.fixture
def widget(team):
    return make_widget(team)


def backdate(chat: Chat, *, minutes: float) -> None:
    """As if the chat and everything in it happened `minutes` ago."""
    then = timezone.now() - timedelta(minutes=minutes)
    Chat.objects.filter(pk=chat.pk).update(created_at=then, queued_at=then)
    Message.objects.filter(ticket_id=chat.ticket_id).update(created_at=then)


def active_chat(widget, team) -> Chat:
    agent = go_online(make_agent(team))
    chat = start_chat(widget, email="ann@visitor.example")
    services.chat_accept(chat=chat, agent=agent)
    return chat


@pytest.mark.django_db
def test_a_chat_whose_visitor_has_gone_ends_as_timeout_with_its_ticket_left_open(widget, team, settings):
    settings.HELPDESK_CHAT_IDLE_END_MINUTES = 30
    chat = active_chat(widget, team)
    backdate(chat, minutes=31)

    assert services.chats_end_idle() == 1

    chat.refresh_from_db()
    assert (chat.state, chat.end_reason) == (ChatState.ENDED, "timeout")
    assert chat.ticket.status not in (Status.SOLVED, Status.CLOSED)
    ended = Event.objects.get(ticket_id=chat.ticket_id, kind="chat_ended")
    assert (ended.actor_kind, ended.to_value) == (ActorKind.SYSTEM, {"reason": "timeout", "solved": False})
    assert services.chats_end_idle() == 0  # ending is done once


@pytest.mark.django_db
def test_a_visitor_who_wrote_lately_or_whose_widget_is_connected_keeps_the_chat(widget, team, settings):
    settings.HELPDESK_CHAT_IDLE_END_MINUTES = 30
    wrote = active_chat(widget, team)
    backdate(wrote, minutes=45)
    services.chat_visitor_message(chat=Chat.objects.get(pk=wrote.pk), client_id="late-1", body="Still there?")
    connected = active_chat(widget, team)
    backdate(connected, minutes=45)
    presence.visitor_seen(chat_id=connected.pk)  # their widget pinged just now
    young = active_chat(widget, team)
    backdate(young, minutes=10)

    assert services.chats_end_idle() == 0
    assert set(Chat.objects.values_list("state", flat=True)) == {ChatState.ACTIVE}


@pytest.mark.django_db
def test_idle_end_is_off_at_zero_minutes(widget, team, settings):
    settings.HELPDESK_CHAT_IDLE_END_MINUTES = 0
    chat = active_chat(widget, team)
    backdate(chat, minutes=600)

    assert services.chats_end_idle() == 0
    assert Chat.objects.get(pk=chat.pk).state == ChatState.ACTIVE


@pytest.mark.django_db
def test_a_chat_nobody_accepted_in_time_ends_as_offline_and_its_ticket_waits_for_an_email_answer(
    widget, team, settings
):
    settings.HELPDESK_CHAT_QUEUE_MAX_WAIT_MINUTES = 20
    settings.HELPDESK_CHAT_IDLE_END_MINUTES = 0
    waited = start_chat(widget, email="ann@visitor.example")  # nobody online: queued
    backdate(waited, minutes=21)
    presence.visitor_seen(chat_id=waited.pk)  # still looking at the widget: waiting longer will not help
    fresh = start_chat(widget)
    backdate(fresh, minutes=5)

    assert services.chats_end_unanswered() == 1

    waited.refresh_from_db()
    assert (waited.state, waited.end_reason) == (ChatState.ENDED, "offline")
    assert waited.ticket.status not in (Status.SOLVED, Status.CLOSED)
    assert Chat.objects.get(pk=fresh.pk).state == ChatState.QUEUED


@pytest.mark.django_db
def test_beat_runs_the_idle_sweep_every_minute(widget, team, settings, celery_eager):
    from channels_intake.chat import tasks
    from helpdesk.celery import app

    settings.HELPDESK_CHAT_IDLE_END_MINUTES = 30
    schedule = app.conf.beat_schedule["chats-end-idle"]
    assert (schedule["task"], schedule["schedule"]) == ("channels_intake.chat.tasks.chats_end_idle", 60.0)
    backdate(active_chat(widget, team), minutes=31)

    assert tasks.chats_end_idle.delay().get() == 1


@pytest.mark.django_db(transaction=True)
def test_the_visitor_and_the_agent_see_a_timed_out_chat_end(widget, team, settings):
    settings.HELPDESK_CHAT_IDLE_END_MINUTES = 30
    agent = go_online(make_agent(team))
    chat = start_chat(widget)
    services.chat_accept(chat=chat, agent=agent)

    async def scenario():
        visitor = await open_visitor(visitor_token(chat))
        console = await open_agent(agent)
        await join(console, chat.pk)
        # The tab stayed open but went to sleep; its presence has lapsed.
        await db(backdate, chat, minutes=31)
        from helpdesk.heartbeat import redis_client

        await db(redis_client().delete, f"{presence.VISITOR_KEY_PREFIX}:{chat.pk}")
        assert await db(services.chats_end_idle) == 1
        assert await next_of_type(visitor, "ended") == {"type": "ended", "chat": chat.pk, "reason": "timeout"}
        assert (await next_of_type(console, "ended"))["reason"] == "timeout"
        await visitor.disconnect()
        await console.disconnect()

    run(scenario)
