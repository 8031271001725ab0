"""Routing waiting chats: who gets the offer, timeouts, declines, accept, capacity, transfer."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from channels_intake.chat import presence, routing, services
from channels_intake.chat.models import Chat, ChatOffer, ChatState
from helpdesk import realtime
from tests.channels_intake.chat.chat_factories import go_online, make_widget, start_chat
from tests.factories import make_agent, make_team
from tickets.models import Event, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return make_team(name="Support", slug="support")


@pytest.fixture
def widget(team):
    return make_widget(team)


def pending_offer(chat: Chat) -> ChatOffer | None:
    return ChatOffer.objects.filter(chat=chat, state="pending").first()


def test_offer_goes_to_the_online_agent_with_the_fewest_active_chats(widget, team):
    busy = go_online(make_agent(team))
    free = go_online(make_agent(team))
    make_agent(team)  # offline: never offered
    services.chat_accept(chat=start_chat(widget), agent=busy)

    chat = start_chat(widget)

    chat.refresh_from_db()
    assert chat.state == ChatState.OFFERED
    offer = pending_offer(chat)
    assert offer.agent == free
    assert offer.expires_at - offer.offered_at == timedelta(seconds=30)


def test_agents_at_capacity_or_away_get_no_offer_and_the_chat_waits(widget, team):
    full = go_online(make_agent(team), capacity=1)
    away = make_agent(team)
    presence.presence_write(user_id=away.pk, status=presence.AWAY)
    services.chat_accept(chat=start_chat(widget), agent=full)

    chat = start_chat(widget)

    chat.refresh_from_db()
    assert chat.state == ChatState.QUEUED
    assert pending_offer(chat) is None
    assert services.chat_queue_position(chat=chat)[0] == 1


def test_queued_chat_is_offered_when_an_agent_comes_online(widget, team):
    agent = make_agent(team)
    chat = start_chat(widget)
    assert Chat.objects.get(pk=chat.pk).state == ChatState.QUEUED

    services.agent_chat_presence_set(user=agent, status="online")

    assert pending_offer(chat).agent == agent
    assert services.agent_chat_presence(user=agent) == "online"


def test_ending_a_chat_frees_the_seat_for_the_next_queued_chat(widget, team, django_capture_on_commit_callbacks):
    agent = go_online(make_agent(team), capacity=1)
    first = start_chat(widget)
    services.chat_accept(chat=first, agent=agent)
    second = start_chat(widget)
    assert pending_offer(second) is None

    with django_capture_on_commit_callbacks(execute=True):
        services.chat_end(chat=first, actor=agent, reason="agent_ended", solve=True)

    assert pending_offer(second).agent == agent


def test_expired_offer_goes_to_the_next_agent_and_round_again(widget, team):
    first = go_online(make_agent(team))
    second = go_online(make_agent(team))
    chat = start_chat(widget)
    offer = pending_offer(chat)
    assert offer.agent == first

    expired = routing.chat_offers_expire(now=offer.expires_at + timedelta(seconds=1))

    assert expired == 1
    offer.refresh_from_db()
    assert offer.state == "expired"
    nxt = pending_offer(chat)
    assert nxt.agent == second
    # Both had it: the one offered longest ago gets it again.
    routing.chat_offers_expire(now=nxt.expires_at + timedelta(seconds=1))
    assert pending_offer(chat).agent == first


def test_offers_not_yet_due_stay(widget, team):
    go_online(make_agent(team))
    chat = start_chat(widget)

    assert routing.chat_offers_expire(now=timezone.now()) == 0
    assert pending_offer(chat).state == "pending"


def test_declined_chat_goes_to_the_next_agent_and_never_back(widget, team):
    first = go_online(make_agent(team))
    second = go_online(make_agent(team))
    chat = start_chat(widget)
    offer = pending_offer(chat)
    with pytest.raises(PermissionDenied):
        services.chat_decline(offer=offer, agent=second)

    services.chat_decline(offer=offer, agent=first)

    assert pending_offer(chat).agent == second
    services.chat_decline(offer=pending_offer(chat), agent=second)
    chat.refresh_from_db()
    assert chat.state == ChatState.QUEUED and pending_offer(chat) is None


def test_accept_activates_the_chat_assigns_the_ticket_and_withdraws_the_offer(widget, team, monkeypatch,
                                                                              django_capture_on_commit_callbacks):
    offered = go_online(make_agent(team))
    picker = make_agent(team)
    chat = start_chat(widget)
    offer = pending_offer(chat)
    sent = []
    monkeypatch.setattr(realtime, "send_many", lambda deliveries: sent.extend(deliveries))

    with django_capture_on_commit_callbacks(execute=True):
        accepted = services.chat_accept(chat=chat, agent=picker)

    assert (accepted.state, accepted.agent) == (ChatState.ACTIVE, picker)
    ticket = Ticket.objects.get(pk=chat.ticket_id)
    assert (ticket.assignee, ticket.status) == (picker, "open")
    assert Event.objects.filter(ticket=ticket, kind="assignee_changed", actor_user=picker).exists()
    offer.refresh_from_db()
    assert offer.state == "expired"
    withdrawn = [event for groups, event in sent if event["type"] == "chat.offer_withdrawn"]
    assert withdrawn == [{"type": "chat.offer_withdrawn", "chat": chat.pk, "offer": offer.pk,
                          "ticket": withdrawn[0]["ticket"]}]
    assert [groups for groups, event in sent if event["type"] == "chat.offer_withdrawn"] == [
        [realtime.user_group(offered.pk)]]
    state = [event for groups, event in sent if event["type"] == "chat.state"]
    assert state[-1]["state"] == "active" and state[-1]["agent_name"] == picker.name
    # A second agent is too late.
    with pytest.raises(services.ChatUnavailable):
        services.chat_accept(chat=chat, agent=offered)


def test_agent_of_another_team_cannot_accept_a_chat(widget):
    outsider = go_online(make_agent(make_team()))
    chat = start_chat(widget)

    with pytest.raises(PermissionDenied):
        services.chat_accept(chat=chat, agent=outsider)

    chat.refresh_from_db()
    assert (chat.state, chat.agent, Ticket.objects.get().assignee) == (ChatState.QUEUED, None, None)


def test_offer_event_reaches_the_agent_with_a_ticket_summary(widget, team, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    agent = go_online(make_agent(team))
    sent = []
    monkeypatch.setattr(realtime, "send_many", lambda deliveries: sent.extend(deliveries))

    with django_capture_on_commit_callbacks(execute=True):
        chat = start_chat(widget, name="Ann", question="Where is my parcel?")

    offer = pending_offer(chat)
    offered = [(groups, event) for groups, event in sent if event["type"] == "chat.offered"]
    assert offered == [([realtime.user_group(agent.pk)], {
        "type": "chat.offered", "chat": chat.pk, "offer": offer.pk, "expires_at": offer.expires_at.isoformat(),
        "visitor_name": "Ann", "question": "Where is my parcel?", "ticket": offered[0][1]["ticket"],
    })]
    assert offered[0][1]["ticket"]["team"] == team.pk
    queue = [(groups, event) for groups, event in sent if event["type"] == "chat.queue"]
    assert queue[0][0] == [realtime.team_group(team.pk)] and queue[0][1]["waiting"] == 1


def test_one_chat_has_at_most_one_pending_offer(widget, team):
    first = go_online(make_agent(team))
    second = make_agent(team)
    chat = start_chat(widget)
    assert pending_offer(chat).agent == first

    with pytest.raises(IntegrityError), transaction.atomic():
        ChatOffer.objects.create(chat=chat, agent=second, offered_at=timezone.now(), expires_at=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_a_chat_being_routed_by_another_process_is_skipped_not_offered_twice():
    team = make_team(name="Support", slug="support")
    widget = make_widget(team)
    chat = start_chat(widget)  # nobody online: queued
    go_online(make_agent(team))
    locked, release = threading.Event(), threading.Event()

    def other_process():
        with transaction.atomic():
            Chat.objects.select_for_update().get(pk=chat.pk)
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_process)
    thread.start()
    locked.wait(10)
    try:
        assert routing.chat_offer_next(chat=chat) is None
    finally:
        release.set()
        thread.join()
    assert ChatOffer.objects.count() == 0
    assert routing.chat_offer_next(chat=chat) is not None


def test_transfer_to_a_colleague_offers_them_the_chat_with_a_note(widget, team):
    first = go_online(make_agent(team))
    colleague = go_online(make_agent(team))
    chat = start_chat(widget)
    services.chat_accept(chat=chat, agent=first)

    services.chat_transfer(chat=chat, actor=first, to_agent=colleague, note="Wants a refund")

    chat.refresh_from_db()
    assert (chat.state, chat.agent) == (ChatState.OFFERED, None)
    assert pending_offer(chat).agent == colleague
    ticket = Ticket.objects.get(pk=chat.ticket_id)
    assert ticket.assignee is None
    assert ticket.messages.filter(visibility="internal", body_text="Wants a refund").exists()
    services.chat_accept(chat=chat, agent=colleague)
    assert Ticket.objects.get(pk=chat.ticket_id).assignee == colleague


def test_transfer_to_another_team_moves_the_ticket_into_that_teams_queue(widget, team):
    agent = go_online(make_agent(team))
    billing = make_team(name="Billing", slug="billing")
    biller = go_online(make_agent(billing))
    chat = start_chat(widget)
    services.chat_accept(chat=chat, agent=agent)

    services.chat_transfer(chat=chat, actor=agent, to_team=billing)

    ticket = Ticket.objects.get(pk=chat.ticket_id)
    assert (ticket.team, ticket.assignee) == (billing, None)
    assert pending_offer(chat).agent == biller
    assert Event.objects.filter(ticket=ticket, kind="chat_transferred").exists()


def test_going_offline_passes_pending_offers_on(widget, team):
    first = go_online(make_agent(team))
    second = go_online(make_agent(team))
    chat = start_chat(widget)
    assert pending_offer(chat).agent == first

    services.agent_chat_presence_set(user=first, status="offline")

    assert pending_offer(chat).agent == second


def test_widget_is_online_only_with_an_online_agent_and_within_business_hours(widget, team):
    from tickets.models import BusinessHours

    agent = make_agent(team)
    assert not services.widget_is_online(widget=widget)
    go_online(agent)
    assert services.widget_is_online(widget=widget)
    widget.business_hours = BusinessHours.objects.create(name="Never", weekly={})
    widget.save()
    assert not services.widget_is_online(widget=widget)


def test_waiting_visitors_learn_their_new_place_when_the_queue_moves(widget, team, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    agent = make_agent(team)
    first, second, third = start_chat(widget), start_chat(widget), start_chat(widget)
    assert services.chat_queue_position(chat=Chat.objects.get(pk=third.pk)) == (3, 180)
    sent = []
    monkeypatch.setattr(realtime, "send_many", lambda deliveries: sent.extend(deliveries))

    with django_capture_on_commit_callbacks(execute=True):
        services.chat_accept(chat=first, agent=agent)

    places = {groups[0]: (event["position"], event["estimated_wait"]) for groups, event in sent
              if event["type"] == "chat.state" and groups[0] != realtime.chat_group(first.pk)}
    assert places[realtime.chat_group(second.pk)][0] == 1
    assert places[realtime.chat_group(third.pk)][0] == 2


def test_beat_runs_the_offer_expiry_every_five_seconds(widget, team, celery_eager):
    from channels_intake.chat import tasks
    from helpdesk.celery import app

    schedule = app.conf.beat_schedule["chat-offers-expire"]
    assert (schedule["task"], schedule["schedule"]) == ("channels_intake.chat.tasks.chat_offers_expire", 5.0)
    go_online(make_agent(team))
    chat = start_chat(widget)
    ChatOffer.objects.filter(chat=chat).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert tasks.chat_offers_expire.delay().get() == 1


def _route_in_thread(chat: Chat, results: dict, *, hold: threading.Event | None = None,
                     routed: threading.Event | None = None) -> threading.Thread:
    """Route `chat` on a connection of its own (another process would); with `hold`, keep the
    transaction open after routing until it is set."""

    def work():
        try:
            with transaction.atomic():
                results[chat.pk] = routing.chat_offer_next(chat=chat)
                if routed is not None:
                    routed.set()
                if hold is not None:
                    hold.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_chats_routed_at_once_never_exceed_an_agents_capacity():
    team = make_team(name="Support", slug="support")
    widget = make_widget(team)
    first_chat, second_chat = start_chat(widget), start_chat(widget)  # nobody online: both queued
    agent = go_online(make_agent(team), capacity=1)
    results: dict = {}
    routed, release = threading.Event(), threading.Event()

    # One process has offered the first chat to the agent and not committed yet...
    first = _route_in_thread(first_chat, results, hold=release, routed=routed)
    assert routed.wait(10)
    # ...when another routes the second chat: it must wait for the first and then see the agent full.
    second = _route_in_thread(second_chat, results)
    second.join(1.0)
    still_waiting = second.is_alive()
    release.set()
    first.join(10)
    second.join(10)

    assert still_waiting
    assert results[first_chat.pk].agent_id == agent.pk
    assert results[second_chat.pk] is None
    assert ChatOffer.objects.filter(agent=agent, state="pending").count() == 1
    assert Chat.objects.get(pk=second_chat.pk).state == ChatState.QUEUED


@pytest.mark.django_db(transaction=True)
def test_chats_routed_at_the_same_instant_go_to_different_agents_with_room():
    team = make_team(name="Support", slug="support")
    widget = make_widget(team)
    chats = [start_chat(widget) for _ in range(2)]
    agents = [go_online(make_agent(team), capacity=1) for _ in range(2)]
    results: dict = {}
    start = threading.Barrier(2)

    def work(chat):
        try:
            start.wait(10)
            results[chat.pk] = routing.chat_offer_next(chat=chat)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(chat,)) for chat in chats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    offered_to = sorted(offer.agent_id for offer in ChatOffer.objects.filter(state="pending"))
    assert offered_to == sorted(agent.pk for agent in agents)
    assert all(results[chat.pk] is not None for chat in chats)
