"""A request's page in the portal: public thread only, reply, mark as solved, reopen, live updates.

Every attempt on another customer's request is a 404 and changes nothing.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import Event, Message, Status, Ticket
from tickets.services import IncomingFile, ticket_add_note, ticket_reply, ticket_update

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def support():
    return make_team("Support", slug="support")


@pytest.fixture
def agent(support):
    return make_agent(support, username="ada", display_name="Ada Agent")


@pytest.fixture
def alice():
    return make_customer(email="alice@example.com", name="Alice")


@pytest.fixture
def bob():
    return make_customer(email="bob@example.com", name="Bob")


@pytest.fixture
def ticket(alice, support):
    return make_ticket(requester=alice, team=support, subject="Printer on fire", body="Smoke everywhere")


def signed_in(customer) -> Client:
    client = Client()
    client.force_login(customer.user)
    return client


def page(number: int, suffix: str = "") -> str:
    return f"/portal/requests/{number}/{suffix}"


def snapshot(ticket: Ticket) -> tuple:
    ticket.refresh_from_db()
    return (ticket.status, ticket.message_count, ticket.updated_at, Message.objects.filter(ticket=ticket).count(),
            Event.objects.filter(ticket=ticket).count())


def test_request_page_shows_the_public_thread(alice, agent, ticket, django_assert_max_num_queries):
    ticket_reply(ticket=ticket, actor=agent, body_text="We are sending the fire brigade.")
    client = signed_in(alice)

    with django_assert_max_num_queries(8):
        response = client.get(page(ticket.number))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Printer on fire" in body
    assert "Smoke everywhere" in body
    assert "We are sending the fire brigade." in body
    assert "Ada Agent" in body
    assert ">You</span>" in body


def test_internal_notes_never_reach_the_portal(alice, agent, ticket):
    ticket_add_note(ticket=ticket, actor=agent, body_text="INTERNAL: customer is on the watch list",
                    files=[IncomingFile(name="internal-memo.txt", content_type="text/plain", content=b"secret")])
    client = signed_in(alice)

    for url in (page(ticket.number), page(ticket.number, "live/")):
        body = client.get(url).content.decode()
        assert "watch list" not in body, url
        assert "internal-memo.txt" not in body, url
        assert "Smoke everywhere" in body, url


def test_message_bodies_and_subjects_are_escaped(alice):
    ticket = make_ticket(requester=alice, subject='<script>alert("subject")</script>',
                         body='<img src=x onerror=alert(1)> and <script>alert("body")</script>')

    body = signed_in(alice).get(page(ticket.number)).content.decode()

    assert "<script>alert(" not in body
    assert "<img src=x" not in body
    assert "&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_upload_filename_is_escaped_in_the_page(alice):
    """osTicket CVE-2020-24917: XSS through an attachment's file name."""
    ticket = make_ticket(requester=alice, files=[
        IncomingFile(name='"><img src=x onerror=alert(1)>.png', content_type="image/png", content=b"\x89PNG\r\n\x1a\n")
    ])

    body = signed_in(alice).get(page(ticket.number)).content.decode()

    assert "<img src=x onerror=alert(1)>" not in body
    assert "onerror=alert(1)&gt;.png" in body


def test_customer_replies(alice, agent, ticket, django_capture_on_commit_callbacks):
    ticket_update(ticket=ticket, actor=agent, status=Status.PENDING)
    client = signed_in(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(page(ticket.number, "reply/"), {
            "body": "It is out now, thanks.",
            "attachments": [SimpleUploadedFile("photo.jpg", b"\xff\xd8\xff\xe0jpeg", content_type="image/jpeg")],
        })

    assert response.status_code == 302
    assert response["Location"] == page(ticket.number)
    message = ticket.messages.order_by("-id").first()
    assert (message.body_text, message.author_customer, message.visibility) == (
        "It is out now, thanks.", alice, "public")
    assert list(message.attachments.values_list("filename", flat=True)) == ["photo.jpg"]
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert "Your reply was sent." in client.get(response["Location"]).content.decode()


def test_empty_reply_is_refused(alice, ticket):
    before = snapshot(ticket)

    response = signed_in(alice).post(page(ticket.number, "reply/"), {"body": "   "})

    assert response.status_code == 200
    assert "Write a message or attach a file." in response.content.decode()
    assert snapshot(ticket) == before


def test_reply_on_a_closed_request_opens_a_follow_up(alice, agent, ticket):
    ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    ticket_update(ticket=ticket, actor=None, status=Status.CLOSED)
    client = signed_in(alice)

    response = client.post(page(ticket.number, "reply/"), {"body": "It is burning again"})

    follow_up = Ticket.objects.get(follow_up_of=ticket)
    assert response["Location"] == page(follow_up.number)
    assert f"Request #{ticket.number} was already closed, so we opened #{follow_up.number}" in client.get(
        response["Location"]).content.decode()


def test_customer_marks_solved_and_reopens(alice, ticket, django_capture_on_commit_callbacks):
    client = signed_in(alice)
    assert "Mark as solved" in client.get(page(ticket.number)).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        solved = client.post(page(ticket.number, "status/"), {"status": "solved"})
    ticket.refresh_from_db()
    assert solved.status_code == 302
    assert ticket.status == Status.SOLVED
    body = client.get(page(ticket.number)).content.decode()
    assert "Reopen" in body and "Mark as solved" not in body

    client.post(page(ticket.number, "status/"), {"status": "open"})
    ticket.refresh_from_db()
    assert (ticket.status, ticket.reopen_count) == (Status.OPEN, 1)
    assert Event.objects.filter(ticket=ticket, kind="reopened", actor_kind="customer").count() == 1


@pytest.mark.parametrize("status", ["closed", "pending", "on_hold", "new", "bogus"])
def test_customer_cannot_set_other_statuses(alice, ticket, status):
    before = snapshot(ticket)

    response = signed_in(alice).post(page(ticket.number, "status/"), {"status": status})

    assert response.status_code == 302
    assert snapshot(ticket) == before


def test_customer_cannot_reopen_a_closed_request(alice, agent, ticket):
    ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    ticket_update(ticket=ticket, actor=None, status=Status.CLOSED)
    before = snapshot(ticket)
    client = signed_in(alice)

    response = client.post(page(ticket.number, "status/"), {"status": "open"})

    assert snapshot(ticket) == before
    assert "This request cannot be changed that way." in client.get(response["Location"]).content.decode()


def test_other_customer_gets_404_everywhere_and_nothing_changes(bob, ticket):
    before = snapshot(ticket)
    client = signed_in(bob)

    responses = {
        "page": client.get(page(ticket.number)),
        "live": client.get(page(ticket.number, "live/")),
        "reply": client.post(page(ticket.number, "reply/"), {"body": "let me in"}),
        "solve": client.post(page(ticket.number, "status/"), {"status": "solved"}),
    }

    for name, response in responses.items():
        assert response.status_code == 404, name
        assert "Printer on fire" not in response.content.decode(), name
    assert snapshot(ticket) == before


@pytest.mark.parametrize("number", ["0", "99999999", "-1", "abc", "1e3", "%2e%2e"])
def test_guessed_numbers_are_404(alice, ticket, number):
    client = signed_in(alice)

    assert client.get(f"/portal/requests/{number}/").status_code == 404
    assert client.post(f"/portal/requests/{number}/reply/", {"body": "x"}).status_code == 404


def test_neighbouring_numbers_of_other_customers_are_404(alice, bob, ticket):
    neighbours = [make_ticket(requester=bob) for _ in range(3)]
    client = signed_in(alice)

    for other in neighbours:
        assert client.get(page(other.number)).status_code == 404
        assert client.get(page(other.number, "live/")).status_code == 404


def test_reply_and_status_need_the_csrf_token(alice, ticket):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice.user)
    before = snapshot(ticket)

    assert client.post(page(ticket.number, "reply/"), {"body": "hello"}).status_code == 403
    assert client.post(page(ticket.number, "status/"), {"status": "solved"}).status_code == 403
    assert snapshot(ticket) == before


def test_reply_and_status_are_post_only(alice, ticket):
    client = signed_in(alice)

    assert client.get(page(ticket.number, "reply/")).status_code == 405
    assert client.get(page(ticket.number, "status/")).status_code == 405


def test_staff_opening_a_portal_page_are_sent_home(agent, ticket):
    client = Client()
    client.force_login(agent)

    assert client.get(page(ticket.number))["Location"] == "/"


# --- live updates -------------------------------------------------------------------------------------


def live_version(html: str) -> str:
    return re.search(r'hx-get="/portal/requests/\d+/live/\?v=([^"]+)"', html).group(1)


def test_page_polls_the_live_fragment(alice, ticket):
    body = signed_in(alice).get(page(ticket.number)).content.decode()

    assert 'hx-trigger="every 15s"' in body
    assert live_version(body)


def test_live_fragment_is_204_until_something_public_changes(alice, agent, ticket, django_assert_max_num_queries):
    client = signed_in(alice)
    version = live_version(client.get(page(ticket.number)).content.decode())

    with django_assert_max_num_queries(5):
        assert client.get(page(ticket.number, "live/"), {"v": version}).status_code == 204
    ticket_add_note(ticket=ticket, actor=agent, body_text="internal only")
    assert client.get(page(ticket.number, "live/"), {"v": version}).status_code == 204

    ticket_reply(ticket=ticket, actor=agent, body_text="Here is the fix.")
    fragment = client.get(page(ticket.number, "live/"), {"v": version})

    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert "Here is the fix." in html
    assert "internal only" not in html
    assert "<html" not in html
    assert live_version(html) != version


def test_live_fragment_shows_a_status_change(alice, agent, ticket):
    client = signed_in(alice)
    version = live_version(client.get(page(ticket.number)).content.decode())

    ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    html = client.get(page(ticket.number, "live/"), {"v": version}).content.decode()

    assert "We consider this solved." in html
    assert "Reopen" in html
