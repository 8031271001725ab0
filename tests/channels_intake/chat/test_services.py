"""Chat core services: starting a chat, visitor and agent messages, tokens, end, rating, offline messages."""

from __future__ import annotations

import uuid

import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError

from channels_intake.chat import services, tokens
from channels_intake.chat.models import Chat, ChatState
from helpdesk import realtime
from tests.channels_intake.chat.chat_factories import go_online, make_widget, start_chat
from tests.factories import make_agent, make_customer, make_team
from tickets.models import Customer, Event, Message, Status, Ticket, Visibility

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return make_team(name="Support", slug="support")


@pytest.fixture
def widget(team):
    return make_widget(team)


def captured_events(monkeypatch) -> list[tuple[list[str], dict]]:
    sent: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(realtime, "send_many", lambda deliveries: sent.extend(deliveries))
    return sent


def test_start_opens_a_chat_ticket_in_the_widgets_team_with_the_question(widget, team):
    chat = start_chat(widget, name="Ann Visitor", question="Where is my parcel?")

    ticket = chat.ticket
    assert (ticket.channel, ticket.team, ticket.status, ticket.subject) == ("chat", team, Status.NEW, "Where is my parcel?")
    assert list(ticket.messages.values_list("body_text", "author_kind")) == [("Where is my parcel?", "customer")]
    assert chat.state == ChatState.QUEUED and chat.queued_at is not None
    assert ticket.events.filter(kind="created", via="chat").exists()


def test_visitor_without_an_address_gets_an_addressless_customer_reused_by_their_next_chat(widget):
    visitor = uuid.uuid4()

    first = start_chat(widget, name="Ann", visitor_id=visitor)
    second = start_chat(widget, name="Ann", visitor_id=visitor)
    other = start_chat(widget, name="Ann")

    assert first.ticket.requester.email == ""
    assert second.ticket.requester_id == first.ticket.requester_id
    assert other.ticket.requester_id != first.ticket.requester_id


def test_visitor_with_an_address_is_matched_to_the_existing_customer(widget):
    customer = make_customer(email="ann@example.org")

    chat = start_chat(widget, email="Ann@Example.org")

    assert chat.ticket.requester == customer
    assert Customer.objects.filter(email="ann@example.org").count() == 1


def test_start_refuses_an_inactive_widget_and_required_fields(widget):
    widget.is_active = False
    with pytest.raises(ValidationError):
        start_chat(widget)
    widget.is_active = True
    with pytest.raises(ValidationError) as refused:
        start_chat(widget, name="", question="")
    assert set(refused.value.message_dict) == {"name", "question"}
    with pytest.raises(ValidationError):
        start_chat(widget, email="not-an-address")
    assert not Chat.objects.exists() and not Ticket.objects.exists()


def test_widget_with_suggestions_starts_deflecting_and_records_a_deflection_visit(team):
    from knowledgebase.models import Deflection

    widget = make_widget(team, deflection_enabled=True)

    chat = start_chat(widget, question="How do I reset my password?")

    assert chat.state == ChatState.DEFLECTING and chat.queued_at is None
    assert Deflection.objects.get().source == "chat_widget"


def test_deflected_chat_ends_solved_and_counts_as_deflected(team):
    from knowledgebase.models import Deflection

    widget = make_widget(team, deflection_enabled=True)
    chat = start_chat(widget, question="How do I reset my password?")

    services.chat_mark_deflected(chat=chat)

    chat.refresh_from_db()
    assert (chat.state, chat.end_reason) == (ChatState.ENDED, "deflected")
    assert Ticket.objects.get().status == Status.SOLVED
    assert Deflection.objects.get().outcome == "deflected"


def test_asking_for_a_person_queues_the_chat_and_marks_the_visit_submitted(team):
    from knowledgebase.models import Deflection

    widget = make_widget(team, deflection_enabled=True)
    chat = start_chat(widget, question="How do I reset my password?")

    chat = services.chat_request_human(chat=chat)

    assert chat.state == ChatState.QUEUED and chat.queued_at is not None
    visit = Deflection.objects.get()
    assert (visit.outcome, visit.ticket_id) == ("submitted", chat.ticket_id)


def test_visitor_message_is_added_to_the_ticket_and_sent_to_the_chat_group(widget, monkeypatch,
                                                                             django_capture_on_commit_callbacks):
    chat = start_chat(widget)
    sent = captured_events(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        message, created = services.chat_visitor_message(chat=chat, client_id="c-1", body="Order 42")

    assert created
    assert (message.ticket_id, message.channel, message.external_id) == (chat.ticket_id, "chat", f"chat:{chat.pk}:c-1")
    chat_events = [event for groups, event in sent if groups == [realtime.chat_group(chat.pk)]]
    assert chat_events == [{
        "type": "chat.message", "chat": chat.pk, "id": message.pk, "author": "visitor", "author_name": "Ann Visitor",
        "body": "Order 42", "is_internal": False, "created_at": message.created_at.isoformat(), "client_id": "c-1",
        "attachments": [],
    }]


def test_resending_a_visitor_message_after_a_reconnect_stores_it_once(widget):
    chat = start_chat(widget)

    first, created_first = services.chat_visitor_message(chat=chat, client_id="c-1", body="Order 42")
    again, created_again = services.chat_visitor_message(chat=chat, client_id="c-1", body="Order 42")

    assert (created_first, created_again) == (True, False)
    assert first.pk == again.pk
    assert Message.objects.filter(ticket=chat.ticket).count() == 2


def test_visitor_message_costs_a_bounded_number_of_queries(widget, django_assert_max_num_queries):
    chat = start_chat(widget)
    chat = Chat.objects.select_related("ticket__requester").get(pk=chat.pk)
    services.chat_visitor_message(chat=chat, client_id="warm", body="first")

    with django_assert_max_num_queries(11):
        services.chat_visitor_message(chat=chat, client_id="c-2", body="second")


def test_visitor_messages_are_refused_on_an_ended_chat_past_the_size_and_rate_limits(widget, settings):
    chat = start_chat(widget)
    settings.HELPDESK_CHAT_MAX_MESSAGE_CHARS = 10
    settings.HELPDESK_CHAT_MESSAGES_PER_MINUTE = 2

    with pytest.raises(services.ChatMessageTooLong):
        services.chat_visitor_message(chat=chat, client_id="long", body="x" * 11)
    services.chat_visitor_message(chat=chat, client_id="a", body="one")
    services.chat_visitor_message(chat=chat, client_id="b", body="two")
    with pytest.raises(services.ChatRateLimited):
        services.chat_visitor_message(chat=chat, client_id="c", body="three")
    # A resend of a stored message is still answered (it is no new message).
    assert services.chat_visitor_message(chat=chat, client_id="a", body="one")[1] is False

    services.chat_end(chat=chat, reason="visitor_left", solve=False)
    chat.refresh_from_db()
    with pytest.raises(services.ChatEnded):
        services.chat_visitor_message(chat=chat, client_id="d", body="four")
    assert services.chat_visitor_message(chat=chat, client_id="b", body="two")[1] is False
    assert list(Message.objects.filter(ticket=chat.ticket).values_list("body_text", flat=True)) == [
        "Where is my parcel?", "one", "two"]


def test_agent_reply_meets_first_response_and_note_stays_internal(widget, team, monkeypatch,
                                                                  django_capture_on_commit_callbacks):
    agent = make_agent(team, display_name="Bob Agent")
    chat = start_chat(widget)
    sent = captured_events(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        reply = services.chat_agent_message(chat=chat, agent=agent, body="Let me check", client_id="a-1")
        note = services.chat_agent_message(chat=chat, agent=agent, body="VIP customer", is_internal=True)

    ticket = Ticket.objects.get(pk=chat.ticket_id)
    assert ticket.first_responded_at is not None and ticket.status == Status.OPEN
    assert (reply.visibility, reply.channel, reply.delivery_state) == (Visibility.PUBLIC, "chat", "")
    assert note.visibility == Visibility.INTERNAL
    chat_events = [event for groups, event in sent if groups == [realtime.chat_group(chat.pk)]]
    assert [(e["id"], e["author"], e["author_name"], e["is_internal"]) for e in chat_events] == [
        (reply.pk, "agent", "Bob Agent", False), (note.pk, "agent", "Bob Agent", True)]


def test_agent_of_another_team_cannot_write_in_the_chat(widget):
    outsider = make_agent(make_team())
    chat = start_chat(widget)

    with pytest.raises(PermissionDenied):
        services.chat_agent_message(chat=chat, agent=outsider, body="Hi")
    assert Message.objects.filter(ticket=chat.ticket).count() == 1


def test_visitor_token_opens_its_own_chat_only():
    class Stub:
        pk = 7
        visitor_id = uuid.uuid4()

    token = tokens.visitor_token_issue(chat=Stub())

    assert tokens.visitor_token_read(token) == 7
    assert tokens.visitor_token_claims(token) == (7, Stub.visitor_id)
    forged = signing.dumps({"c": 8, "v": str(Stub.visitor_id)}, salt="another-salt")
    assert tokens.visitor_token_read(forged) is None
    assert tokens.visitor_token_read(token[:-2] + "xx") is None
    assert tokens.visitor_token_read("") is None
    assert tokens.visitor_token_read(None) is None


def test_expired_visitor_token_is_refused(settings):
    class Stub:
        pk = 7
        visitor_id = uuid.uuid4()

    token = tokens.visitor_token_issue(chat=Stub())
    settings.HELPDESK_CHAT_TOKEN_MAX_AGE_SECONDS = -1

    assert tokens.visitor_token_read(token) is None


def test_ending_a_chat_solves_or_leaves_the_ticket_open_and_is_audited(widget, team):
    agent = go_online(make_agent(team))
    solved_chat = start_chat(widget)
    services.chat_accept(chat=solved_chat, agent=agent)
    open_chat = start_chat(widget)

    services.chat_end(chat=solved_chat, actor=agent, reason="agent_ended", solve=True)
    services.chat_end(chat=open_chat, reason="visitor_left", solve=False)

    solved_chat.refresh_from_db()
    open_chat.refresh_from_db()
    assert (solved_chat.state, solved_chat.end_reason, solved_chat.ticket.status) == ("ended", "agent_ended", "solved")
    assert (open_chat.state, open_chat.end_reason, open_chat.ticket.status) == ("ended", "visitor_left", "new")
    assert Event.objects.filter(ticket=solved_chat.ticket, kind="chat_ended", actor_user=agent).exists()
    # Ending again changes nothing.
    services.chat_end(chat=open_chat, reason="timeout", solve=True)
    open_chat.refresh_from_db()
    assert (open_chat.end_reason, open_chat.ticket.status) == ("visitor_left", "new")


def test_rating_is_stored_once_the_visitor_talked_to_someone(widget, team):
    agent = go_online(make_agent(team))
    chat = start_chat(widget)
    with pytest.raises(ValidationError):
        services.chat_rate(chat=chat, rating=5)
    services.chat_accept(chat=chat, agent=agent)
    services.chat_end(chat=chat, actor=agent, reason="agent_ended", solve=True)

    for bad in (0, 6, True, "5"):
        with pytest.raises(ValidationError):
            services.chat_rate(chat=chat, rating=bad)
    services.chat_rate(chat=chat, rating=4, comment="Quick, thanks")

    chat.refresh_from_db()
    assert (chat.rating, chat.rating_comment) == (4, "Quick, thanks")


def test_offline_message_creates_an_email_reachable_ticket_tagged_chat_offline(widget, team):
    message = services.chat_offline_message(widget=widget, name="Ann", email="ann@example.org",
                                            message="Call me back please", language="zh-TW")

    ticket = message.ticket
    assert (ticket.channel, ticket.team, ticket.tags, ticket.requester.email) == (
        "chat", team, ["chat-offline"], "ann@example.org")
    assert not Chat.objects.exists()
    with pytest.raises(ValidationError) as refused:
        services.chat_offline_message(widget=widget, name="", email="nope", message="", language="en")
    assert set(refused.value.message_dict) == {"email", "message"}


def test_transcript_is_mailed_with_public_messages_only(widget, team, celery_eager, mailoutbox,
                                                       django_capture_on_commit_callbacks):
    agent = go_online(make_agent(team, display_name="Bob Agent"))
    chat = start_chat(widget)
    services.chat_accept(chat=chat, agent=agent)
    services.chat_agent_message(chat=chat, agent=agent, body="It ships tomorrow")
    services.chat_agent_message(chat=chat, agent=agent, body="secret note", is_internal=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.chat_transcript_send(chat=chat, email="ann@example.org")

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["ann@example.org"]
    assert "It ships tomorrow" in mail.body and "Where is my parcel?" in mail.body and "Bob Agent" in mail.body
    assert "secret note" not in mail.body


def test_replies_go_by_mail_only_once_the_chat_is_over(widget, team, settings):
    agent = go_online(make_agent(team))
    chat = start_chat(widget, email="ann@example.org")
    services.chat_accept(chat=chat, agent=agent)

    live = services.chat_agent_message(chat=chat, agent=agent, body="Looking into it")
    services.chat_end(chat=chat, actor=agent, reason="agent_ended", solve=False)
    from tickets.services import ticket_reply

    follow_up = ticket_reply(ticket=Ticket.objects.get(pk=chat.ticket_id), actor=agent, body_text="Found it")
    offline = services.chat_offline_message(widget=widget, name="Ann", email="ann@example.org", message="Hello",
                                            language="en")
    offline_reply = ticket_reply(ticket=offline.ticket, actor=agent, body_text="Hi Ann")

    assert (live.delivery_state, follow_up.delivery_state, offline_reply.delivery_state) == ("", "queued", "queued")
