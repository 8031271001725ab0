"""The side-conversations panel of the ticket page, and who may see side conversations at all:
only staff who may work the ticket; never another team's agent, the requester (portal or API), or
anyone signed out."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.channels_intake.outbound.conftest import celery_eager_retrying, smtp_sink  # noqa: F401 - fixtures
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.collaboration.side_conversations import (
    side_conversation_message_receive,
    side_conversation_start,
)
from tickets.models import Event, SideConversation, SideConversationState

pytestmark = pytest.mark.django_db
MAILBOX = "desk@example.com"
SUPPLIER = "parts@supplier.example"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def desk():
    return make_team("Desk", slug="desk", email_addresses=[MAILBOX])


@pytest.fixture
def agent(desk):
    return make_agent(desk, username="sam", display_name="Sam Agent")


@pytest.fixture
def requester():
    return make_customer(email="ann@customer.example", name="Ann")


@pytest.fixture
def ticket(desk, requester):
    return make_ticket(team=desk, requester=requester, subject="Printer on fire")


@pytest.fixture
def sink(smtp_sink, celery_eager_retrying):  # noqa: F811 - the imported fixtures
    return smtp_sink


@pytest.fixture
def conversation(sink, ticket, agent, django_capture_on_commit_callbacks):
    """A conversation with the supplier, who has answered."""
    with django_capture_on_commit_callbacks(execute=True):
        conversation = side_conversation_start(ticket=ticket, actor=agent, participants=SUPPLIER,
                                               subject="Secret supplier pricing", body_text="What is our discount?")
        side_conversation_message_receive(conversation=conversation, from_email=SUPPLIER,
                                          message_id="answer@supplier.example", body_text="Forty percent, hush.",
                                          body_html=None)
    return conversation


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def to_supplier(sink) -> list:
    """The mails that went to the supplier (the agents' notices of answers aside)."""
    return [delivery for delivery in sink.deliveries if SUPPLIER in delivery.recipients]


def url(name: str, ticket, *args) -> str:
    return reverse(f"side_conversations:{name}", args=[ticket.number, *args])


# --- the panel ----------------------------------------------------------------------------------------


def test_the_ticket_page_loads_the_panel_and_the_panel_lists_the_conversations(
    conversation, ticket, agent, django_assert_max_num_queries
):
    client = client_of(agent)
    page = client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()
    assert f'hx-get="{url("list", ticket)}"' in page
    assert "js/agent/side-conversations.js" in page

    with django_assert_max_num_queries(12):
        panel = client.get(url("list", ticket), **HTMX)

    assert panel.status_code == 200
    text = panel.content.decode()
    assert "Secret supplier pricing" in text
    assert SUPPLIER in text
    assert "Forty percent, hush." in text  # the last message, shortened
    assert url("detail", ticket, conversation.pk) in text


def test_opening_a_conversation_shows_its_thread_and_reply_box(conversation, ticket, agent):
    response = client_of(agent).get(url("detail", ticket, conversation.pk), **HTMX)

    text = response.content.decode()
    assert response.status_code == 200
    assert "What is our discount?" in text and "Forty percent, hush." in text
    assert url("reply", ticket, conversation.pk) in text
    assert url("close", ticket, conversation.pk) in text


def test_starting_from_the_panel_sends_the_mail_and_opens_the_conversation(
    sink, ticket, agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(agent).post(url("start", ticket), {
            "participants": SUPPLIER, "subject": "Fuser?", "body": "Do you have one?",
        }, **HTMX)

    assert response.status_code == 200
    conversation = SideConversation.objects.get()
    assert (conversation.ticket, conversation.subject, conversation.participants) == (ticket, "Fuser?", [SUPPLIER])
    assert "Do you have one?" in response.content.decode()
    assert [delivery.recipients for delivery in sink.deliveries] == [[SUPPLIER]]


def test_a_bad_address_comes_back_as_an_error_in_the_form_and_nothing_is_sent(sink, ticket, agent):
    response = client_of(agent).post(url("start", ticket), {
        "participants": "parts at supplier", "subject": "Fuser?", "body": "Do you have one?",
    }, **HTMX)

    assert response.status_code == 400
    assert "Not a valid email address: parts at supplier" in response.content.decode()
    assert 'value="parts at supplier"' in response.content.decode()  # what they typed is kept
    assert not SideConversation.objects.exists()
    assert sink.deliveries == []


def test_without_javascript_a_refused_start_goes_back_to_the_ticket_with_the_reason(sink, ticket, agent):
    client = client_of(agent)

    response = client.post(url("start", ticket), {"participants": "ann@customer.example", "subject": "x",
                                                  "body": "y"}, follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("agent:ticket", args=[ticket.number]))
    assert "The requester (ann@customer.example) cannot take part" in response.content.decode()
    assert not SideConversation.objects.exists()


def test_replying_closing_and_reopening_from_the_panel(
    conversation, ticket, agent, sink, django_capture_on_commit_callbacks
):
    client = client_of(agent)

    with django_capture_on_commit_callbacks(execute=True):
        replied = client.post(url("reply", ticket, conversation.pk), {"body": "Thanks!"}, **HTMX)
    closed = client.post(url("close", ticket, conversation.pk), **HTMX)
    conversation.refresh_from_db()
    state_after_close = conversation.state
    reopened = client.post(url("reopen", ticket, conversation.pk), **HTMX)
    conversation.refresh_from_db()

    assert (replied.status_code, closed.status_code, reopened.status_code) == (200, 200, 200)
    assert "Thanks!" in replied.content.decode()
    assert url("reopen", ticket, conversation.pk) in closed.content.decode()
    assert state_after_close == SideConversationState.CLOSED
    assert conversation.state == SideConversationState.OPEN
    assert [delivery.recipients for delivery in to_supplier(sink)] == [[SUPPLIER], [SUPPLIER]]
    assert Event.objects.filter(kind="side_conversation_sent", actor_user=agent).count() == 1


def test_an_empty_reply_is_refused(conversation, ticket, agent, sink):
    response = client_of(agent).post(url("reply", ticket, conversation.pk), {"body": "  "}, **HTMX)

    assert response.status_code == 400
    assert conversation.messages.count() == 2
    assert len(to_supplier(sink)) == 1


# --- who may see them -----------------------------------------------------------------------------------


def test_an_agent_of_another_team_sees_nothing_and_changes_nothing(conversation, ticket, sink):
    outsider = client_of(make_agent(make_team("Billing", slug="billing")))

    responses = [
        outsider.get(url("list", ticket), **HTMX),
        outsider.get(url("detail", ticket, conversation.pk), **HTMX),
        outsider.post(url("start", ticket), {"participants": SUPPLIER, "subject": "x", "body": "y"}, **HTMX),
        outsider.post(url("reply", ticket, conversation.pk), {"body": "leak?"}, **HTMX),
        outsider.post(url("close", ticket, conversation.pk), **HTMX),
    ]

    assert [response.status_code for response in responses] == [404] * 5
    assert all(b"Secret supplier pricing" not in response.content for response in responses)
    assert SideConversation.objects.count() == 1
    assert conversation.messages.count() == 2
    conversation.refresh_from_db()
    assert conversation.state == SideConversationState.OPEN
    assert len(to_supplier(sink)) == 1


def test_a_conversation_cannot_be_reached_through_another_tickets_url(conversation, desk, agent):
    other = make_ticket(team=desk, subject="Another ticket")
    client = client_of(agent)

    assert client.get(url("detail", other, conversation.pk), **HTMX).status_code == 404
    assert client.post(url("close", other, conversation.pk), **HTMX).status_code == 404
    conversation.refresh_from_db()
    assert conversation.state == SideConversationState.OPEN


def test_the_requester_cannot_reach_side_conversations_through_the_workspace_portal_or_api(
    conversation, ticket, requester, sink
):
    client = client_of(requester.user)

    workspace = [
        client.get(url("list", ticket), **HTMX),
        client.get(url("detail", ticket, conversation.pk), **HTMX),
        client.post(url("reply", ticket, conversation.pk), {"body": "let me in"}, **HTMX),
    ]
    portal = client.get(reverse("portal:ticket", args=[ticket.number]))
    api_ticket = client.get(reverse("api:ticket", args=[ticket.number]))
    api_messages = client.get(reverse("api:ticket-messages", args=[ticket.number]))

    assert [response.status_code for response in workspace] == [403, 403, 403]
    assert (portal.status_code, api_ticket.status_code, api_messages.status_code) == (200, 200, 200)
    for response in [*workspace, portal, api_ticket, api_messages]:
        body = response.content.decode()
        assert "Secret supplier pricing" not in body
        assert "Forty percent" not in body
        assert "What is our discount" not in body
        assert SUPPLIER not in body
    assert conversation.messages.count() == 2
    assert len(to_supplier(sink)) == 1


def test_signed_out_visitors_are_sent_to_sign_in_and_nothing_changes(conversation, ticket, sink):
    client = Client()

    listing = client.get(url("list", ticket))
    started = client.post(url("start", ticket), {"participants": SUPPLIER, "subject": "x", "body": "y"})
    closed = client.post(url("close", ticket, conversation.pk))

    assert all(response.status_code == 302 and "login" in response["Location"]
               for response in (listing, started, closed))
    assert SideConversation.objects.count() == 1
    conversation.refresh_from_db()
    assert conversation.state == SideConversationState.OPEN
    assert len(to_supplier(sink)) == 1


def test_the_agents_timeline_tells_of_side_conversations_in_sentences(conversation, ticket, agent):
    page = client_of(agent).get(reverse("agent:ticket_timeline", args=[ticket.number])).content.decode()

    assert "started the side conversation “Secret supplier pricing” with parts@supplier.example" in page
    assert "parts@supplier.example replied in the side conversation “Secret supplier pricing”" in page
