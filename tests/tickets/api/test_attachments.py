"""GET /api/v1/attachments/{id}/: token clients download what they may see, nothing else."""

import pytest
from rest_framework.test import APIClient

from tests.factories import make_ticket
from tests.tickets.api.conftest import token_client
from tickets.services import ticket_add_note, ticket_reply
from tickets.services.attachments import IncomingFile

pytestmark = pytest.mark.django_db


def url(attachment):
    return f"/api/v1/attachments/{attachment.pk}/"


def content(response):
    return b"".join(response.streaming_content)


def test_requester_downloads_an_agents_file_with_a_token(alice, agent, support):
    ticket = make_ticket(requester=alice, team=support)
    message = ticket_reply(ticket=ticket, actor=agent, body_text="The log you asked for",
                           files=[IncomingFile(name="报告.txt", content_type="text/plain", content=b"all good\n")])
    attachment = message.attachments.get()

    response = token_client(alice.user).get(url(attachment))

    assert response.status_code == 200
    assert content(response) == b"all good\n"
    # Not a safe image: a download, never rendered in our origin, the Chinese name kept (RFC 6266).
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.txt"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_another_customer_gets_404(alice, bob, agent, support):
    ticket = make_ticket(requester=alice, team=support)
    message = ticket_reply(ticket=ticket, actor=agent, body_text="here",
                           files=[IncomingFile(name="invoice.pdf", content_type="application/pdf", content=b"%PDF-1")])

    response = token_client(bob.user).get(url(message.attachments.get()))

    assert response.status_code == 404
    assert b"%PDF" not in response.content


def test_internal_note_files_are_for_staff_only(alice, agent, support, as_agent):
    ticket = make_ticket(requester=alice, team=support)
    note = ticket_add_note(ticket=ticket, actor=agent, body_text="their contract",
                           files=[IncomingFile(name="contract.txt", content_type="text/plain", content=b"secret")])
    attachment = note.attachments.get()

    assert token_client(alice.user).get(url(attachment)).status_code == 404
    staff_response = as_agent.get(url(attachment))
    assert staff_response.status_code == 200
    assert content(staff_response) == b"secret"


def test_anonymous_is_refused(alice, agent, support):
    ticket = make_ticket(requester=alice, team=support)
    message = ticket_reply(ticket=ticket, actor=agent, body_text="here",
                           files=[IncomingFile(name="a.txt", content_type="text/plain", content=b"x")])

    response = APIClient().get(url(message.attachments.get()))

    assert response.status_code == 401
