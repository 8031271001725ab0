"""GET/POST /api/v1/tickets/{number}/messages/: internal notes never reach customers."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import make_customer, make_organization, make_ticket
from tests.tickets.api.conftest import token_client
from tickets.models import Event, Message, Ticket
from tickets.services import ticket_add_note, ticket_reply, ticket_update

pytestmark = pytest.mark.django_db


def url(ticket):
    return f"/api/v1/tickets/{ticket.number}/messages/"


def bodies(response):
    return [m["body_text"] for m in response.json()["results"]]


def test_customer_never_sees_internal_notes(as_alice, alice, agent, support):
    ticket = make_ticket(requester=alice, team=support, body="Help")
    ticket_add_note(ticket=ticket, actor=agent, body_text="Customer is on the naughty list")
    ticket_reply(ticket=ticket, actor=agent, body_text="Looking into it")

    response = as_alice.get(url(ticket))

    assert response.status_code == 200
    assert bodies(response) == ["Help", "Looking into it"]
    assert b"naughty" not in response.content
    assert {m["visibility"] for m in response.json()["results"]} == {"public"}


def test_organization_contact_never_sees_internal_notes(agent, support):
    acme = make_organization()
    lead = make_customer(organization=acme, sees_organization_tickets=True)
    ticket = make_ticket(requester=make_customer(organization=acme), team=support)
    ticket_add_note(ticket=ticket, actor=agent, body_text="secret")

    response = token_client(lead.user).get(url(ticket))

    assert bodies(response) == ["It started this morning."]


def test_agent_sees_notes_and_replies_in_order(as_agent, agent, alice, support):
    ticket = make_ticket(requester=alice, team=support, body="Help")
    ticket_add_note(ticket=ticket, actor=agent, body_text="note")
    ticket_reply(ticket=ticket, actor=agent, body_text="reply")

    response = as_agent.get(url(ticket))

    results = response.json()["results"]
    assert [(m["visibility"], m["body_text"]) for m in results] == [
        ("public", "Help"), ("internal", "note"), ("public", "reply")]
    assert results[0]["author"] == {"kind": "customer", "id": alice.pk, "name": "Alice"}
    assert results[1]["author"] == {"kind": "agent", "id": agent.pk, "name": agent.name}
    assert results[0]["ticket"] == ticket.number
    assert set(results[0]) == {"id", "ticket", "visibility", "author", "body_html", "body_text", "channel",
                               "created_at", "attachments"}


def test_messages_are_cursor_paginated(as_agent, agent, support):
    ticket = make_ticket(team=support)
    for index in range(4):
        ticket_reply(ticket=ticket, actor=agent, body_text=f"reply {index}")

    first = as_agent.get(url(ticket), {"page_size": 3}).json()
    second = as_agent.get(first["next"]).json()

    assert [m["body_text"] for m in first["results"] + second["results"]] == [
        "It started this morning.", "reply 0", "reply 1", "reply 2", "reply 3"]
    assert second["next"] is None


def test_agent_replies_and_sets_status(as_agent, agent, alice, support, django_capture_on_commit_callbacks):
    ticket = make_ticket(requester=alice, team=support)

    with django_capture_on_commit_callbacks(execute=True):
        response = as_agent.post(url(ticket), {"body": "Fixed, please confirm.", "status": "pending"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["visibility"], body["body_text"], body["channel"]) == ("public", "Fixed, please confirm.", "api")
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    assert ticket.first_responded_at is not None
    assert Event.objects.filter(ticket=ticket, kind="reply_added", via="api").exists()


def test_agent_adds_internal_note(as_agent, alice, support, as_alice):
    ticket = make_ticket(requester=alice, team=support)

    response = as_agent.post(url(ticket), {"body": "VIP, be nice", "visibility": "internal"}, format="json")

    assert response.status_code == 201
    assert response.json()["visibility"] == "internal"
    assert Message.objects.filter(ticket=ticket, visibility="internal").count() == 1
    assert "VIP, be nice" not in bodies(as_alice.get(url(ticket)))


def test_note_cannot_carry_a_status(as_agent, support):
    ticket = make_ticket(team=support)

    response = as_agent.post(url(ticket), {"body": "x", "visibility": "internal", "status": "solved"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["status"]
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_customer_cannot_post_an_internal_note_and_nothing_is_written(as_alice, alice):
    ticket = make_ticket(requester=alice)
    events_before = Event.objects.count()

    response = as_alice.post(url(ticket), {"body": "sneaky", "visibility": "internal"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert Event.objects.count() == events_before
    assert Ticket.objects.get(pk=ticket.pk).message_count == 1


def test_customer_cannot_set_status_with_a_reply(as_alice, alice):
    ticket = make_ticket(requester=alice)

    response = as_alice.post(url(ticket), {"body": "done", "status": "closed"}, format="json")

    assert response.status_code == 403
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_customer_reply_reopens_a_pending_ticket(as_alice, alice, agent, support):
    ticket = make_ticket(requester=alice, team=support)
    ticket_update(ticket=ticket, actor=agent, status="pending")

    response = as_alice.post(url(ticket), {"body": "Still broken"}, format="json")

    assert response.status_code == 201
    assert response.json()["author"]["kind"] == "customer"
    assert Ticket.objects.get(pk=ticket.pk).status == "open"


def test_customer_reply_on_a_closed_ticket_opens_a_follow_up(as_alice, alice, agent, support):
    ticket = make_ticket(requester=alice, team=support)
    ticket_update(ticket=ticket, actor=agent, status="solved")
    ticket_update(ticket=ticket, actor=agent, status="closed")

    response = as_alice.post(url(ticket), {"body": "It is back"}, format="json")

    assert response.status_code == 201
    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response.json()["ticket"] == follow_up.number


def test_empty_message_is_400(as_agent, support):
    ticket = make_ticket(team=support)

    response = as_agent.post(url(ticket), {"body": "   "}, format="json")

    assert response.status_code == 400
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_html_reply_is_sanitised(as_agent, support):
    ticket = make_ticket(team=support)

    response = as_agent.post(url(ticket), {
        "body_html": '<p onclick="x()">Hi</p><script>alert(document.cookie)</script><img src=x onerror=alert(1)>',
    }, format="json")

    assert response.status_code == 201
    html = response.json()["body_html"]
    assert "<script" not in html and "onerror" not in html and "onclick" not in html
    assert "Hi" in html


def test_reply_with_attachments(as_alice, alice):
    ticket = make_ticket(requester=alice)
    files = [SimpleUploadedFile("log.txt", b"line 1\n", content_type="text/plain"),
             SimpleUploadedFile("shot\u202egnp.exe", b"MZ", content_type="application/octet-stream")]

    response = as_alice.post(url(ticket), {"body": "see attached", "files": files}, format="multipart")

    assert response.status_code == 201, response.content
    attachments = response.json()["attachments"]
    assert [a["filename"] for a in attachments] == ["log.txt", "shotgnp.exe"]
    assert attachments[0]["size"] == 7
    assert attachments[0]["url"] == f"http://testserver/api/v1/attachments/{attachments[0]['id']}/"
    download = as_alice.get(attachments[0]["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"line 1\n"


def test_oversized_attachment_is_400_and_nothing_is_written(as_alice, alice, settings):
    settings.HELPDESK_MAX_UPLOAD_BYTES = 10
    ticket = make_ticket(requester=alice)

    response = as_alice.post(url(ticket), {"body": "big", "files": [SimpleUploadedFile("big.bin", b"x" * 11)]},
                             format="multipart")

    assert response.status_code == 400
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_message_list_query_count_is_constant(as_agent, agent, support, django_assert_max_num_queries):
    ticket = make_ticket(team=support)
    for index in range(20):
        message = ticket_reply(ticket=ticket, actor=agent, body_text=f"reply {index}")
        message.attachments.create(ticket=ticket, filename="a.txt", content_type="text/plain", size=1,
                                   file="attachments/a")

    with django_assert_max_num_queries(7):
        response = as_agent.get(url(ticket))
    assert len(response.json()["results"]) == 21
