"""The portal's request list and the web form for a new request."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.factories import make_agent, make_customer, make_organization, make_team, make_ticket
from tickets.models import Attachment, Channel, CustomFieldDefinition, Event, Status, Ticket
from tickets.services import ticket_update

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def alice():
    return make_customer(email="alice@example.com", name="Alice")


@pytest.fixture
def bob():
    return make_customer(email="bob@example.com", name="Bob")


def signed_in(customer) -> Client:
    client = Client()
    client.force_login(customer.user)
    return client


def numbers_on(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/portal/requests/(\d+)/"', html)]


# --- my requests ------------------------------------------------------------------------------------


def test_list_shows_own_requests_only(alice, bob):
    mine = make_ticket(requester=alice, subject="My printer")
    theirs = make_ticket(requester=bob, subject="Bob's secret")

    response = signed_in(alice).get("/portal/")

    body = response.content.decode()
    assert response.status_code == 200
    assert numbers_on(body) == [mine.number]
    assert "My printer" in body
    assert "Bob&#x27;s secret" not in body and "Bob's secret" not in body
    assert theirs.number not in numbers_on(body)


def test_list_filters_by_state(alice):
    open_ticket = make_ticket(requester=alice, subject="Still broken")
    solved = make_ticket(requester=alice, subject="Fixed now")
    ticket_update(ticket=solved, actor=None, status=Status.SOLVED)
    client = signed_in(alice)

    assert numbers_on(client.get("/portal/?state=open").content.decode()) == [open_ticket.number]
    assert numbers_on(client.get("/portal/?state=solved").content.decode()) == [solved.number]
    assert sorted(numbers_on(client.get("/portal/?state=all").content.decode())) == sorted(
        [open_ticket.number, solved.number])
    assert sorted(numbers_on(client.get("/portal/?state=bogus").content.decode())) == sorted(
        [open_ticket.number, solved.number])


def test_statuses_read_the_customers_way(alice):
    ticket = make_ticket(requester=alice)
    ticket_update(ticket=ticket, actor=None, status=Status.PENDING)

    body = signed_in(alice).get("/portal/").content.decode()

    assert "Awaiting your reply" in body


def test_list_is_paginated_with_cursors(alice, django_assert_max_num_queries):
    tickets = [make_ticket(requester=alice, subject=f"Question {n}") for n in range(23)]
    client = signed_in(alice)

    with django_assert_max_num_queries(6):
        first = client.get("/portal/").content.decode()
    next_link = re.search(r'href="\?state=all&amp;scope=mine&amp;cursor=([^"]+)" rel="next"', first).group(1)
    second = client.get(f"/portal/?state=all&scope=mine&cursor={next_link}").content.decode()

    newest_first = [t.number for t in reversed(tickets)]
    assert numbers_on(first) == newest_first[:20]
    assert numbers_on(second) == newest_first[20:]
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_broken_cursor_shows_the_first_page(alice):
    ticket = make_ticket(requester=alice)

    response = signed_in(alice).get("/portal/?cursor=%%%not-base64")

    assert response.status_code == 200
    assert numbers_on(response.content.decode()) == [ticket.number]


def test_organization_contact_sees_organization_requests_with_a_filter():
    acme = make_organization("Acme")
    contact = make_customer(email="boss@acme.example", organization=acme, sees_organization_tickets=True)
    colleague = make_customer(email="worker@acme.example", organization=acme)
    outsider = make_customer(email="someone@other.example")
    own = make_ticket(requester=contact, subject="Contact's own")
    colleagues = make_ticket(requester=colleague, subject="Colleague's")
    make_ticket(requester=outsider, subject="Outsider's")
    client = signed_in(contact)

    mine = client.get("/portal/").content.decode()
    organization = client.get("/portal/?scope=organization").content.decode()

    assert numbers_on(mine) == [own.number]
    assert 'name="scope"' in mine
    assert sorted(numbers_on(organization)) == sorted([own.number, colleagues.number])
    assert "Requests of Acme" in organization
    assert client.get(f"/portal/requests/{colleagues.number}/").status_code == 200


def test_normal_organization_member_does_not_see_colleagues_requests():
    acme = make_organization("Acme")
    member = make_customer(email="worker@acme.example", organization=acme)
    colleague = make_customer(email="other@acme.example", organization=acme)
    own = make_ticket(requester=member)
    colleagues = make_ticket(requester=colleague, subject="Colleague's")
    client = signed_in(member)

    forced = client.get("/portal/?scope=organization").content.decode()

    assert numbers_on(forced) == [own.number]
    assert 'name="scope"' not in forced
    assert client.get(f"/portal/requests/{colleagues.number}/").status_code == 404


def test_portal_needs_sign_in(client):
    response = client.get("/portal/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/portal/"


def test_staff_are_sent_to_their_workspace(client):
    client.force_login(make_agent(make_team()))

    assert client.get("/portal/")["Location"] == "/"
    assert client.get("/portal/new/")["Location"] == "/"


# --- new request ------------------------------------------------------------------------------------


def test_new_request_form_shows_selectable_teams_and_customer_fields(alice):
    make_team("Billing", slug="billing")
    make_team("Internal escalations", slug="internal", is_customer_selectable=False)
    CustomFieldDefinition.objects.create(key="order", label="Order number", field_type="text",
                                         is_customer_visible=True)
    CustomFieldDefinition.objects.create(key="risk", label="Risk score", field_type="number")

    body = signed_in(alice).get("/portal/new/").content.decode()

    assert ">Billing</option>" in body
    assert "Internal escalations" not in body
    assert "Order number" in body
    assert "Risk score" not in body
    assert 'enctype="multipart/form-data"' in body


def test_new_request_creates_a_web_ticket_with_attachments(alice, django_capture_on_commit_callbacks):
    billing = make_team("Billing", slug="billing")
    CustomFieldDefinition.objects.create(key="order", label="Order number", field_type="text",
                                         is_customer_visible=True)
    files = [SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 ...", content_type="application/pdf"),
             SimpleUploadedFile("screen.png", b"\x89PNG\r\n\x1a\n....", content_type="image/png")]

    client = signed_in(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/portal/new/", {
            "subject": "Charged twice", "description": "Line one\n\nLine <b>two</b>",
            "team": billing.pk, "cf_order": "A-1001", "attachments": files,
        })

    ticket = Ticket.objects.get(requester=alice)
    assert response.status_code == 302
    assert response["Location"] == f"/portal/requests/{ticket.number}/"
    assert (ticket.subject, ticket.channel, ticket.team, ticket.status) == ("Charged twice", Channel.WEB, billing,
                                                                            Status.NEW)
    assert ticket.custom_fields == {"order": "A-1001"}
    message = ticket.messages.get()
    assert message.body_html == "<p>Line one</p><p>Line &lt;b&gt;two&lt;/b&gt;</p>"
    assert sorted(message.attachments.values_list("filename", "content_type")) == [
        ("invoice.pdf", "application/pdf"), ("screen.png", "image/png")]
    assert Event.objects.get(ticket=ticket, kind="created").via == "web"
    assert f"Thank you. We received your request #{ticket.number}." in client.get(response["Location"]).content.decode()


def test_new_request_refuses_a_team_customers_may_not_choose(alice):
    make_team("Billing", slug="billing")
    internal = make_team("Internal", slug="internal", is_customer_selectable=False)

    response = signed_in(alice).post("/portal/new/", {"subject": "Hi", "description": "Hello", "team": internal.pk})

    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert not Ticket.objects.exists()


def test_new_request_ignores_fields_customers_may_not_set(alice):
    CustomFieldDefinition.objects.create(key="risk", label="Risk score", field_type="number")
    internal = make_team("Internal", slug="internal", is_customer_selectable=False)

    signed_in(alice).post("/portal/new/", {"subject": "Hi", "description": "Hello", "cf_risk": "99",
                                           "team": internal.pk})

    ticket = Ticket.objects.get()
    assert ticket.custom_fields == {}
    assert ticket.team is None


def test_new_request_shows_service_errors_on_custom_fields(alice):
    CustomFieldDefinition.objects.create(key="plan", label="Plan", field_type="select", choices=["basic", "pro"],
                                         is_customer_visible=True, is_required=True)

    response = signed_in(alice).post("/portal/new/", {"subject": "Hi", "description": "Hello"})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Ticket.objects.exists()


def test_oversize_upload_is_refused_with_a_clear_message_and_no_ticket(alice, settings):
    settings.HELPDESK_MAX_UPLOAD_BYTES = 1024
    big = SimpleUploadedFile("dump.log", b"x" * 2048, content_type="text/plain")

    response = signed_in(alice).post("/portal/new/", {"subject": "Logs", "description": "See attached",
                                                      "attachments": [big]})

    assert response.status_code == 200
    assert "dump.log is too large (2.0\xa0KB); each file may be at most 1.0\xa0KB." in response.content.decode()
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()


def test_too_many_files_are_refused(alice):
    files = [SimpleUploadedFile(f"f{n}.txt", b"x", content_type="text/plain") for n in range(11)]

    response = signed_in(alice).post("/portal/new/", {"subject": "Many", "description": "x", "attachments": files})

    assert "Attach at most 10 files." in response.content.decode()
    assert not Ticket.objects.exists()


def test_subject_and_description_are_required(alice):
    response = signed_in(alice).post("/portal/new/", {"subject": "", "description": ""})

    assert response.content.decode().count("This field is required.") == 2
    assert not Ticket.objects.exists()


def test_new_request_needs_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice.user)

    response = client.post("/portal/new/", {"subject": "Hi", "description": "Hello"})

    assert response.status_code == 403
    assert not Ticket.objects.exists()
