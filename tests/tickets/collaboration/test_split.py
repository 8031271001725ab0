"""Splitting public messages of a ticket into a new ticket of the same requester and team."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from helpdesk import realtime
from tests.realtime_helpers import events_during
from tests.tickets.collaboration.conftest import logged_in
from tickets.models import Attachment, Event, Message, Status, Ticket
from tickets.services import IncomingFile, ticket_add_note, ticket_reply, ticket_update
from tickets.services.ticket_split import ticket_split

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(ticket, alice, ada):
    """The description, Ada's answer, Alice's second question (with a file), and a note."""
    first = ticket.messages.get()
    answer = ticket_reply(ticket=ticket, actor=ada, body_text="Unplug it.")
    question = ticket_reply(ticket=ticket, actor=alice.user, body_text="Also: my invoice is wrong.",
                            files=[IncomingFile(name="invoice.pdf", content=b"%PDF-1.4", content_type="application/pdf")])
    note = ticket_add_note(ticket=ticket, actor=ada, body_text="Billing question, split it.")
    return first, answer, question, note


def test_split_moves_the_messages_to_a_new_ticket_of_the_same_requester_and_team(ticket, thread, ada, support):
    first, answer, question, note = thread

    new = ticket_split(ticket=ticket, message_ids=[question.pk], subject="Invoice is wrong", actor=ada)

    assert (new.subject, new.requester_id, new.team_id, new.status) == ("Invoice is wrong", ticket.requester_id,
                                                                        support.pk, Status.NEW)
    assert list(new.messages.values_list("pk", flat=True)) == [question.pk]
    assert Attachment.objects.get().ticket_id == new.pk
    ticket.refresh_from_db()
    assert list(ticket.messages.order_by("pk").values_list("pk", flat=True)) == [first.pk, answer.pk, note.pk]
    assert (ticket.message_count, new.message_count) == (3, 1)
    assert new.last_customer_message_at == question.created_at
    assert Event.objects.get(ticket=ticket, kind="split_into").to_value == {"ticket": new.number, "messages": 1}
    assert Event.objects.get(ticket=new, kind="split_from").to_value == {"ticket": ticket.number, "messages": 1}
    assert Event.objects.filter(ticket=new, kind="created", actor_user=ada).exists()


def test_the_first_message_cannot_leave_the_ticket(ticket, thread, ada):
    first, answer, _question, _note = thread

    with pytest.raises(ValidationError, match="first message"):
        ticket_split(ticket=ticket, message_ids=[first.pk, answer.pk], subject="All of it", actor=ada)

    assert Ticket.objects.count() == 1
    assert ticket.messages.count() == 4


def test_only_public_messages_of_this_ticket_move(support, ticket, thread, ada):
    from tests.factories import make_ticket

    _first, _answer, _question, note = thread
    elsewhere = make_ticket(team=support).messages.get()

    with pytest.raises(ValidationError):
        ticket_split(ticket=ticket, message_ids=[note.pk], subject="Note", actor=ada)
    with pytest.raises(ValidationError):
        ticket_split(ticket=ticket, message_ids=[elsewhere.pk], subject="Not mine", actor=ada)
    with pytest.raises(ValidationError):
        ticket_split(ticket=ticket, message_ids=[], subject="Nothing", actor=ada)

    assert Ticket.objects.count() == 2
    assert Message.objects.get(pk=elsewhere.pk).ticket_id != ticket.pk


def test_an_agent_of_another_team_or_a_customer_cannot_split(ticket, thread, bill, alice):
    _first, answer, _question, _note = thread

    for actor in (bill, alice.user):
        with pytest.raises(PermissionDenied):
            ticket_split(ticket=ticket, message_ids=[answer.pk], subject="Mine now", actor=actor)

    assert Ticket.objects.count() == 1


def test_a_closed_ticket_cannot_be_split(ticket, thread, ada):
    ticket_update(ticket=ticket, actor=ada, status=Status.SOLVED)
    ticket_update(ticket=ticket, actor=ada, status=Status.CLOSED)

    with pytest.raises(ValidationError):
        ticket_split(ticket=ticket, message_ids=[thread[2].pk], subject="Late", actor=ada)


@pytest.mark.django_db(transaction=True)
def test_split_tells_both_tickets_viewers(support, ticket, thread, ada):
    sent = events_during([realtime.team_group(support.pk)],
                         lambda: ticket_split(ticket=ticket, message_ids=[thread[2].pk], subject="Invoice", actor=ada))

    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert {(event["type"], event["ticket"]["number"]) for event in sent} >= {
        ("ticket.updated", ticket.number), ("ticket.created", new.number)}
    updated = next(event for event in sent if event["type"] == "ticket.updated")
    assert updated["changes"] == {"split_into": new.number}


# --- page, timeline and API -------------------------------------------------------------------------


def test_the_timeline_offers_split_and_the_page_splits(ticket, thread, ada):
    _first, _answer, question, _note = thread
    client = logged_in(ada)
    timeline = client.get(f"/agent/tickets/{ticket.number}/").content.decode()
    assert f'href="/agent/tickets/{ticket.number}/split/?message={question.pk}"' in timeline

    form = client.get(f"/agent/tickets/{ticket.number}/split/?message={question.pk}").content.decode()
    assert f'value="{question.pk}" id="id_messages_' in form and "checked" in form

    response = client.post(f"/agent/tickets/{ticket.number}/split/",
                           {"subject": "Invoice is wrong", "messages": [question.pk]})

    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/agent/tickets/{new.number}/"
    page = client.get(response["Location"]).content.decode()
    assert "Also: my invoice is wrong." in page
    assert f"<strong>Ada Agent</strong> split this ticket off #{ticket.number} (1 message(s))" in page


def test_the_split_page_is_not_found_for_another_team(ticket, thread, bill):
    client = logged_in(bill)

    assert client.get(f"/agent/tickets/{ticket.number}/split/").status_code == 404
    assert client.post(f"/agent/tickets/{ticket.number}/split/",
                       {"subject": "x", "messages": [thread[1].pk]}).status_code == 404
    assert Ticket.objects.count() == 1


def test_the_split_api(ticket, thread, ada, alice, bill):
    from tests.tickets.api.conftest import token_client

    _first, answer, question, _note = thread
    payload = {"messages": [answer.pk, question.pk], "subject": "Invoice"}

    assert token_client(alice.user).post(f"/api/v1/tickets/{ticket.number}/split/", payload,
                                         format="json").status_code == 403
    assert token_client(bill).post(f"/api/v1/tickets/{ticket.number}/split/", payload,
                                   format="json").status_code == 404
    assert Ticket.objects.count() == 1

    response = token_client(ada).post(f"/api/v1/tickets/{ticket.number}/split/", payload, format="json")

    assert response.status_code == 201
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert response.json()["number"] == new.number
    assert new.message_count == 2
    refused = token_client(ada).post(f"/api/v1/tickets/{ticket.number}/split/",
                                     {"messages": [thread[0].pk], "subject": "x"}, format="json")
    assert refused.status_code == 400


def test_anonymous_callers_are_refused_everywhere(ticket, thread):
    from django.test import Client
    from rest_framework.test import APIClient

    for path in (f"/agent/tickets/{ticket.number}/split/", f"/agent/tickets/{ticket.number}/collaboration/",
                 "/agent/following/"):
        response = Client().get(path)
        assert response.status_code == 302 and "login" in response["Location"]
    for path in ("split/", "links/", "followers/", "solve-incidents/"):
        assert APIClient().post(f"/api/v1/tickets/{ticket.number}/{path}", {}, format="json").status_code in (401, 403)
    assert Ticket.objects.count() == 1
