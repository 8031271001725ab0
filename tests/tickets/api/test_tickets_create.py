"""POST /api/v1/tickets/: staff open tickets for anyone, customers their own; few queries per create."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import make_agent, make_customer, make_team
from tickets.models import Customer, CustomFieldDefinition, Event, Message, Ticket

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets/"


def test_agent_creates_ticket_for_a_new_requester(as_agent, agent, support, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_agent.post(URL, {
            "subject": "Cannot log in", "description": "Since the update.", "requester_email": "Zoe@Example.com",
            "requester_name": "Zoe", "priority": "high", "type": "incident", "team": "support",
            "assignee": "me", "tags": ["Login", "vip"],
        }, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    ticket = Ticket.objects.get(number=body["number"])
    zoe = Customer.objects.get(email="zoe@example.com")
    assert ticket.requester == zoe and zoe.name == "Zoe"
    assert (ticket.subject, ticket.priority, ticket.type, ticket.channel) == ("Cannot log in", "high", "incident", "api")
    assert (ticket.team, ticket.assignee, ticket.status) == (support, agent, "open")
    assert ticket.tags == ["login", "vip"]
    assert body["requester"] == {"id": zoe.pk, "name": "Zoe", "email": "zoe@example.com"}
    assert body["team"]["slug"] == "support"
    assert body["channel"] == "api"
    assert body["sla"] == []
    message = Message.objects.get(ticket=ticket)
    assert (message.body_text, message.author_customer, message.visibility) == ("Since the update.", zoe, "public")
    event = Event.objects.get(ticket=ticket, kind="created")
    assert (event.actor_user, event.via) == (agent, "api")


def test_agent_create_finds_an_existing_requester_by_email(as_agent, alice, support):
    response = as_agent.post(URL, {"subject": "Hi", "description": "x", "requester_email": "ALICE@example.com",
                                   "team": support.pk}, format="json")

    assert response.status_code == 201
    assert response.json()["requester"]["id"] == alice.pk
    assert Customer.objects.filter(email__iexact="alice@example.com").count() == 1


def test_agent_must_name_a_requester(as_agent):
    response = as_agent.post(URL, {"subject": "Hi", "description": "x"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["requester_email"]
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"team": "no-such-team"}, "team"),
        ({"team": 999999}, "team"),
        ({"priority": "whenever"}, "priority"),
        ({"assignee": 999999}, "assignee"),
        ({"requester_email": "not an email"}, "requester_email"),
        ({"custom_fields": {"nope": "1"}}, "nope"),
        ({"subject": ""}, "subject"),
    ],
)
def test_invalid_create_is_400_and_writes_nothing(as_agent, payload, field):
    data = {"subject": "Hi", "description": "x", "requester_email": "new@example.com", **payload}

    response = as_agent.post(URL, data, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert Ticket.objects.count() == 0
    assert Event.objects.count() == 0
    assert not Customer.objects.filter(email="new@example.com").exists()


def test_assignee_must_belong_to_the_team(as_agent, billing):
    stranger = make_agent(make_team())

    response = as_agent.post(URL, {"subject": "Hi", "description": "x", "requester_email": "n@example.com",
                                   "team": billing.pk, "assignee": stranger.pk}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["assignee"]


def test_customer_creates_own_ticket(as_alice, alice, support):
    CustomFieldDefinition.objects.create(key="order", label="Order", field_type="text", is_customer_visible=True)

    response = as_alice.post(URL, {"subject": "Refund", "description": "Please.", "team": "support",
                                   "type": "problem", "custom_fields": {"order": "A-17"}}, format="json")

    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(number=response.json()["number"])
    assert (ticket.requester, ticket.team, ticket.type, ticket.channel) == (alice, support, "problem", "api")
    assert ticket.custom_fields == {"order": "A-17"}
    assert response.json()["custom_fields"] == {"order": "A-17"}
    assert response.json()["url"] == f"http://testserver/portal/requests/{ticket.number}/"


@pytest.mark.parametrize(
    "payload",
    [
        {"requester_email": "bob@example.com"},
        {"priority": "urgent"},
        {"tags": ["vip"]},
        {"assignee": 1},
    ],
)
def test_customer_cannot_set_staff_fields(as_alice, payload):
    response = as_alice.post(URL, {"subject": "Hi", "description": "x", **payload}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == list(payload)
    assert Ticket.objects.count() == 0


def test_customer_cannot_set_internal_custom_fields(as_alice):
    CustomFieldDefinition.objects.create(key="churn_risk", label="Churn risk", field_type="text")

    response = as_alice.post(URL, {"subject": "Hi", "description": "x", "custom_fields": {"churn_risk": "low"}},
                             format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["churn_risk"]
    assert Ticket.objects.count() == 0


def test_customer_cannot_pick_a_team_not_offered_to_customers(as_alice):
    internal = make_team("Escalations", is_customer_selectable=False)

    response = as_alice.post(URL, {"subject": "Hi", "description": "x", "team": internal.pk}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["team"]


def test_multipart_create_with_attachment(as_alice, alice):
    upload = SimpleUploadedFile("../../etc/evil.html", b"<script>alert(1)</script>", content_type="text/html")

    response = as_alice.post(URL, {"subject": "Screenshot", "description": "see file", "files": [upload]},
                             format="multipart")

    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get(number=response.json()["number"])
    attachment = ticket.attachments.get()
    assert attachment.filename == "evil.html"


def test_html_description_is_sanitised(as_agent):
    response = as_agent.post(URL, {
        "subject": "<img src=x onerror=alert(1)>", "requester_email": "x@example.com",
        "description_html": "<p>Hello</p><script>alert(1)</script><a href=\"javascript:alert(1)\">x</a>",
    }, format="json")

    assert response.status_code == 201
    # The subject is data: returned as it was written, JSON-escaped by the renderer, never interpreted.
    assert response.json()["subject"] == "<img src=x onerror=alert(1)>"
    assert response["Content-Type"] == "application/json"
    message = Message.objects.get(ticket__number=response.json()["number"])
    assert "<script" not in message.body_html
    assert "javascript:" not in message.body_html
    assert "<p>Hello</p>" in message.body_html


def test_create_uses_a_small_fixed_number_of_queries(as_agent, support, django_assert_max_num_queries):
    make_customer(email="known@example.com")
    payload = {"subject": "Hi", "description": "x", "requester_email": "known@example.com", "team": support.pk,
               "priority": "high", "tags": ["a"]}
    as_agent.post(URL, payload, format="json")  # warm the token and membership caches like a steady client

    # Token, team, requester, custom field definitions, three inserts (ticket, message, audit event)
    # and the transaction: no re-reads of what the INSERTs returned, no nested savepoints; plus the
    # SLA policy match and the (locked) look-up of the ticket's timers, with no policy configured;
    # and the ticket's SLA targets read back for the response's `sla`.
    with django_assert_max_num_queries(12):
        response = as_agent.post(URL, payload, format="json")

    assert response.status_code == 201
    ticket = Ticket.objects.get(number=response.json()["number"])
    assert response.json()["created_at"] == ticket.created_at.isoformat().replace("+00:00", "Z")
    assert Event.objects.filter(ticket=ticket, kind="created").count() == 1


def test_customer_cannot_probe_which_staff_ids_exist(as_alice, agent):
    real = as_alice.post(URL, {"subject": "Hi", "description": "x", "assignee": agent.pk}, format="json")
    made_up = as_alice.post(URL, {"subject": "Hi", "description": "x", "assignee": 987654}, format="json")

    assert real.status_code == made_up.status_code == 400
    assert real.json() == made_up.json()
