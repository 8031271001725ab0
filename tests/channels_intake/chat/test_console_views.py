"""The agent's live-chat console (/agent/chat/): who may see and act on which chat, and what each action does."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from channels_intake.chat import services
from channels_intake.chat.models import Chat, ChatOffer, ChatWidget
from tests.factories import PASSWORD, make_agent, make_customer, make_team
from tickets.models import Message, Status, Visibility

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"


def make_widget(team) -> ChatWidget:
    return ChatWidget.objects.create(name="Shop", team=team, allowed_origins=[SHOP], deflection_enabled=False)


def start_chat(widget: ChatWidget, *, name: str = "Ann Visitor", question: str = "Where is my parcel?") -> Chat:
    return services.chat_start(
        widget=widget, visitor_id=uuid.uuid4(), name=name, email=f"{uuid.uuid4().hex[:8]}@visitor.example",
        question=question, language="en", origin=SHOP,
    )


def signed_in(client, user):
    client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def desk(db):
    team = make_team("Support", slug="support")
    other_team = make_team("Sales", slug="sales")
    alice = make_agent(team, username="alice", first_name="Alice", last_name="Wong")
    bob = make_agent(team, username="bob", first_name="Bob", last_name="Meyer")
    outsider = make_agent(other_team, username="olga", first_name="Olga", last_name="Outside")
    widget = make_widget(team)
    return type("Desk", (), {"team": team, "other_team": other_team, "alice": alice, "bob": bob,
                             "outsider": outsider, "widget": widget})


def offered_to_alice(desk) -> Chat:
    """A chat that routing offered to Alice (the only agent online)."""
    services.agent_chat_presence_set(user=desk.alice, status="online")
    chat = start_chat(desk.widget)
    assert ChatOffer.objects.filter(chat=chat, agent=desk.alice, state="pending").exists()
    return chat


def active_with_alice(desk, **kwargs) -> Chat:
    services.agent_chat_presence_set(user=desk.alice, status="online")
    chat = start_chat(desk.widget, **kwargs)
    services.chat_accept(chat=chat, agent=desk.alice)
    chat.refresh_from_db()
    return chat


def chat_urls(chat_id: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("chat_console:chat", args=[chat_id])),
        ("get", reverse("chat_console:transcript", args=[chat_id])),
        ("post", reverse("chat_console:accept", args=[chat_id])),
        ("post", reverse("chat_console:decline", args=[chat_id])),
        ("post", reverse("chat_console:message", args=[chat_id])),
        ("post", reverse("chat_console:transfer", args=[chat_id])),
        ("post", reverse("chat_console:end", args=[chat_id])),
        ("get", reverse("chat_console:console") + f"?chat={chat_id}"),
    ]


# ---------------------------------------------------------------------- access


def test_customer_gets_404_on_every_console_url(client, desk):
    chat = offered_to_alice(desk)
    customer = make_customer(email="maria@example.com")
    signed_in(client, customer.user)
    urls = [("get", reverse("chat_console:console")), ("get", reverse("chat_console:offers")),
            ("get", reverse("chat_console:queue")), ("get", reverse("chat_console:tabs")),
            ("post", reverse("chat_console:presence")), *chat_urls(chat.pk)]
    for method, url in urls:
        data = {"status": "online", "body": "hi", "outcome": "solve"} if method == "post" else None
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, (method, url, response.status_code)
    chat.refresh_from_db()
    assert chat.state == "offered"
    assert services.agent_chat_presence(user=customer.user) == "offline"


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("chat_console:console"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login")) or "/login" in response["Location"]


def test_agent_outside_the_chats_team_gets_404_and_changes_nothing(client, desk):
    chat = active_with_alice(desk)
    messages_before = Message.objects.filter(ticket=chat.ticket).count()
    signed_in(client, desk.outsider)
    for method, url in chat_urls(chat.pk):
        data = {"body": "I should not be here", "outcome": "solve", "to": f"agent:{desk.outsider.pk}"}
        response = getattr(client, method)(url, data if method == "post" else None)
        assert response.status_code == 404, (method, url, response.status_code)
    chat.refresh_from_db()
    assert (chat.state, chat.agent_id) == ("active", desk.alice.pk)
    assert Message.objects.filter(ticket=chat.ticket).count() == messages_before
    # Nor does the chat show in the outsider's queue or console.
    assert b"Ann Visitor" not in client.get(reverse("chat_console:console")).content


def test_unknown_chat_is_404(client, desk):
    signed_in(client, desk.alice)
    assert client.get(reverse("chat_console:chat", args=[999999])).status_code == 404


# ---------------------------------------------------------------------- presence


def test_agent_sets_chat_status_with_the_toggle_and_every_agent_page_shows_it(client, desk):
    signed_in(client, desk.alice)
    response = client.post(reverse("chat_console:presence"), {"status": "online", "next": "/agent/tickets/"})
    assert response.status_code == 302
    assert response["Location"] == "/agent/tickets/"
    assert services.agent_chat_presence(user=desk.alice) == "online"
    page = client.get(reverse("agent:queue")).content.decode()
    assert 'data-chat-presence data-status="online"' in page
    assert '<option value="online" selected>' in page

    response = client.post(reverse("chat_console:presence"), {"status": "away"}, HTTP_X_REQUESTED_WITH="fetch")
    assert response.json() == {"status": "away"}
    assert services.agent_chat_presence(user=desk.alice) == "away"


def test_presence_heartbeat_keeps_the_status_but_never_revives_an_expired_one(client, desk):
    signed_in(client, desk.alice)
    services.agent_chat_presence_set(user=desk.alice, status="away")
    response = client.post(reverse("chat_console:presence"), {"heartbeat": "1"}, HTTP_X_REQUESTED_WITH="fetch")
    assert response.json() == {"status": "away"}
    services.agent_chat_presence_set(user=desk.alice, status="offline")
    response = client.post(reverse("chat_console:presence"), {"heartbeat": "1"}, HTTP_X_REQUESTED_WITH="fetch")
    assert response.json() == {"status": "offline"}
    assert services.agent_chat_presence(user=desk.alice) == "offline"


def test_unknown_status_is_refused(client, desk):
    signed_in(client, desk.alice)
    assert client.post(reverse("chat_console:presence"), {"status": "busy"}).status_code == 400
    assert services.agent_chat_presence(user=desk.alice) == "offline"


# ---------------------------------------------------------------------- offers, accept, decline


def test_offer_shows_with_accept_and_decline_and_accepting_opens_the_chat_assigned_to_the_agent(client, desk):
    chat = offered_to_alice(desk)
    signed_in(client, desk.alice)
    offers = client.get(reverse("chat_console:offers")).content.decode()
    assert "Chat request from Ann Visitor" in offers
    assert "Where is my parcel?" in offers
    assert reverse("chat_console:accept", args=[chat.pk]) in offers
    assert reverse("chat_console:decline", args=[chat.pk]) in offers
    assert 'data-count="1"' in offers

    response = client.post(reverse("chat_console:accept", args=[chat.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("chat_console:console") + f"?chat={chat.pk}"
    chat.refresh_from_db()
    chat.ticket.refresh_from_db()
    assert (chat.state, chat.agent_id, chat.ticket.assignee_id) == ("active", desk.alice.pk, desk.alice.pk)

    page = client.get(response["Location"]).content.decode()
    assert f'data-chat-pane="{chat.pk}"' in page
    assert "Where is my parcel?" in page
    assert 'data-chat-composer' in page
    assert 'data-count="0"' in client.get(reverse("chat_console:offers")).content.decode()


def test_declining_offers_the_chat_to_the_next_agent(client, desk):
    chat = offered_to_alice(desk)
    services.agent_chat_presence_set(user=desk.bob, status="online")
    signed_in(client, desk.alice)
    response = client.post(reverse("chat_console:decline", args=[chat.pk]), HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 204
    assert ChatOffer.objects.get(chat=chat, agent=desk.alice).state == "declined"
    assert ChatOffer.objects.filter(chat=chat, agent=desk.bob, state="pending").exists()


def test_decline_without_an_offer_is_404(client, desk):
    chat = offered_to_alice(desk)
    signed_in(client, desk.bob)
    assert client.post(reverse("chat_console:decline", args=[chat.pk])).status_code == 404
    assert ChatOffer.objects.get(chat=chat, agent=desk.alice).state == "pending"


def test_waiting_queue_lists_the_teams_waiting_chats_only(client, desk):
    start_chat(desk.widget, name="Queued Quentin")
    start_chat(make_widget(desk.other_team), name="Sales Sam")
    signed_in(client, desk.bob)
    queue = client.get(reverse("chat_console:queue")).content.decode()
    assert "Queued Quentin" in queue
    assert "Sales Sam" not in queue


def test_agent_takes_a_waiting_chat_from_the_queue(client, desk):
    chat = start_chat(desk.widget, name="Queued Quentin")
    signed_in(client, desk.bob)
    queue = client.get(reverse("chat_console:queue")).content.decode()
    assert reverse("chat_console:accept", args=[chat.pk]) in queue
    response = client.post(reverse("chat_console:accept", args=[chat.pk]))
    assert response["Location"] == reverse("chat_console:console") + f"?chat={chat.pk}"
    chat.refresh_from_db()
    assert (chat.state, chat.agent_id) == ("active", desk.bob.pk)


# ---------------------------------------------------------------------- messages, transfer, end


def test_agent_answers_and_adds_an_internal_note_through_the_composer(client, desk):
    chat = active_with_alice(desk)
    signed_in(client, desk.alice)
    url = reverse("chat_console:message", args=[chat.pk])
    response = client.post(url, {"body": "It ships today.", "client_id": "c1"}, HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 200
    assert "It ships today." in response.content.decode()
    response = client.post(url, {"body": "Check the warehouse.", "is_internal": "1"}, HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 200
    reply, note = Message.objects.filter(ticket=chat.ticket, author_user=desk.alice).order_by("pk")
    assert (reply.body_text.strip(), reply.visibility) == ("It ships today.", Visibility.PUBLIC)
    assert (note.body_text.strip(), note.visibility) == ("Check the warehouse.", Visibility.INTERNAL)
    transcript = client.get(reverse("chat_console:transcript", args=[chat.pk])).content.decode()
    assert f'id="chat-message-{note.pk}"' in transcript
    assert "chat-msg--internal" in transcript


def test_empty_message_is_refused(client, desk):
    chat = active_with_alice(desk)
    signed_in(client, desk.alice)
    before = Message.objects.filter(ticket=chat.ticket).count()
    response = client.post(reverse("chat_console:message", args=[chat.pk]), {"body": "  "},
                           HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 400
    assert Message.objects.filter(ticket=chat.ticket).count() == before


def test_agent_transfers_the_chat_to_a_colleague_with_a_note(client, desk):
    chat = active_with_alice(desk)
    services.agent_chat_presence_set(user=desk.bob, status="online")
    signed_in(client, desk.alice)
    response = client.post(reverse("chat_console:transfer", args=[chat.pk]),
                           {"to": f"agent:{desk.bob.pk}", "note": "Wants a refund"})
    assert response.status_code == 302
    chat.refresh_from_db()
    assert (chat.state, chat.agent_id) == ("offered", None)
    assert ChatOffer.objects.filter(chat=chat, agent=desk.bob, state="pending").exists()
    assert Message.objects.filter(ticket=chat.ticket, visibility=Visibility.INTERNAL,
                                  body_text__contains="Wants a refund").exists()


def test_agent_transfers_the_chat_to_another_team(client, desk):
    chat = active_with_alice(desk)
    signed_in(client, desk.alice)
    response = client.post(reverse("chat_console:transfer", args=[chat.pk]),
                           {"to": f"team:{desk.other_team.pk}", "note": "A sales question"})
    assert response.status_code == 302
    chat.ticket.refresh_from_db()
    assert chat.ticket.team_id == desk.other_team.pk


def test_transfer_without_a_target_is_refused(client, desk):
    chat = active_with_alice(desk)
    signed_in(client, desk.alice)
    response = client.post(reverse("chat_console:transfer", args=[chat.pk]), {"to": ""}, HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 400
    chat.refresh_from_db()
    assert (chat.state, chat.agent_id) == ("active", desk.alice.pk)


def test_ending_the_chat_solves_the_ticket(client, desk):
    chat = active_with_alice(desk)
    signed_in(client, desk.alice)
    response = client.post(reverse("chat_console:end", args=[chat.pk]), {"outcome": "solve"})
    assert response.status_code == 302
    chat.refresh_from_db()
    chat.ticket.refresh_from_db()
    assert (chat.state, chat.end_reason, chat.ticket.status) == ("ended", "agent_ended", Status.SOLVED)
    page = client.get(response["Location"]).content.decode()
    assert "This chat has ended." in page


def test_ending_the_chat_for_a_follow_up_leaves_the_ticket_open(client, desk):
    chat = active_with_alice(desk)
    signed_in(client, desk.alice)
    client.post(reverse("chat_console:end", args=[chat.pk]), {"outcome": "follow_up"})
    chat.refresh_from_db()
    chat.ticket.refresh_from_db()
    assert chat.state == "ended"
    assert chat.ticket.status not in (Status.SOLVED, Status.CLOSED)


def test_end_without_an_outcome_is_refused(client, desk):
    chat = active_with_alice(desk)
    signed_in(client, desk.alice)
    response = client.post(reverse("chat_console:end", args=[chat.pk]), {}, HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 400
    chat.refresh_from_db()
    assert chat.state == "active"


# ---------------------------------------------------------------------- the page


def test_console_shows_each_active_chat_as_a_tab_and_the_visitor_panel(client, desk):
    first = active_with_alice(desk, name="Ann Visitor")
    second = active_with_alice(desk, name="Ben Visitor", question="Can I change my address?")
    signed_in(client, desk.alice)
    page = client.get(reverse("chat_console:console")).content.decode()
    assert f'data-chat-tab="{first.pk}"' in page
    assert f'data-chat-tab="{second.pk}"' in page
    # The first chat is open, with the visitor's details and a link to its ticket.
    assert f'data-chat-pane="{first.pk}"' in page
    assert first.visitor_email in page
    assert SHOP in page
    assert reverse("agent:ticket", args=[first.ticket.number]) in page


def test_console_page_query_count_does_not_grow_with_chats(client, desk, django_assert_max_num_queries):
    for index in range(3):
        chat = active_with_alice(desk, name=f"Visitor {index}")
        services.chat_agent_message(chat=chat, agent=desk.alice, body="Hello!")
    for index in range(3):
        start_chat(desk.widget, name=f"Waiting {index}")
    signed_in(client, desk.alice)
    client.get(reverse("chat_console:console"))  # warm the directory caches
    # user, my chats, the open chat, teams, offers, queue, transcript, other tickets, agents, teams to transfer to
    with django_assert_max_num_queries(11):
        response = client.get(reverse("chat_console:console"))
    assert response.status_code == 200
    with django_assert_max_num_queries(8):
        client.get(reverse("chat_console:chat", args=[chat.pk]))


def test_the_visitor_panel_shows_their_custom_pre_chat_answers(client, desk):
    desk.widget.prechat_fields = {"custom": [{"key": "plan", "label": {"en": "Your plan", "zh-hans": "套餐"}}]}
    desk.widget.save()
    services.agent_chat_presence_set(user=desk.alice, status="online")
    chat = services.chat_start(widget=desk.widget, visitor_id=uuid.uuid4(), name="Ann", email="", question="Hi",
                               language="en", origin=SHOP, fields={"plan": "Pro <b>yearly</b>"})
    services.chat_accept(chat=chat, agent=desk.alice)
    signed_in(client, desk.alice)

    page = client.get(reverse("chat_console:chat", args=[chat.pk])).content.decode()

    assert "<dt>Your plan</dt><dd data-prechat-answer>Pro &lt;b&gt;yearly&lt;/b&gt;</dd>" in page
