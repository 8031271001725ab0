"""Custom fields that apply to customers (shown on the customer page) never appear on ticket forms,
and saving a ticket's fields is not refused because of them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_customer, make_ticket
from tickets.models import CustomFieldDefinition

pytestmark = pytest.mark.django_db

CUSTOMER_ONLY_LABEL = "Contract renewal month"


@pytest.fixture
def fields():
    CustomFieldDefinition.objects.create(key="order_ref", label="Order reference", field_type="text",
                                         is_customer_visible=True)
    CustomFieldDefinition.objects.create(key="renewal_month", label=CUSTOMER_ONLY_LABEL, field_type="text",
                                         is_customer_visible=True, is_required=True,
                                         applies_to=CustomFieldDefinition.AppliesTo.CUSTOMER)


def test_agent_ticket_page_offers_ticket_fields_only_and_saves_them(agent_client, support, fields):
    ticket = make_ticket(team=support, requester=make_customer(with_login=False))

    html = agent_client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()

    assert "Order reference" in html
    assert CUSTOMER_ONLY_LABEL not in html
    response = agent_client.post(reverse("agent:ticket_fields", args=[ticket.number]), {
        "status": ticket.status, "priority": "high", "type": ticket.type, "team": support.pk, "assignee": "",
        "tags": "", "cf_order_ref": "A-17",
    })
    assert response.status_code in (200, 302)
    ticket.refresh_from_db()
    assert ticket.priority == "high"
    assert ticket.custom_fields == {"order_ref": "A-17"}


def test_portal_form_and_fields_api_leave_customer_fields_out(client, agent_client, fields):
    customer = make_customer()
    client.force_login(customer.user)

    portal_form = client.get(reverse("portal:new")).content.decode()
    api_fields = agent_client.get("/api/v1/custom-fields/").json()["results"]

    assert "Order reference" in portal_form and CUSTOMER_ONLY_LABEL not in portal_form
    assert [field["key"] for field in api_fields] == ["order_ref"]
