"""The overview API: contents, visibility per caller, OpenAPI."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import make_customer, make_organization, make_ticket
from tests.tickets.customers.conftest import breach, rate
from tickets.models import Channel

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def acme():
    return make_organization("Acme")


@pytest.fixture
def wang(acme, support, billing):
    customer = make_customer(email="wang@acme.example", name="Wang Fang", organization=acme)
    email = make_ticket(requester=customer, team=support, subject="Mail", channel=Channel.EMAIL)
    make_ticket(requester=customer, team=support, subject="Chat", channel=Channel.CHAT)
    phone = make_ticket(requester=customer, team=billing, subject="Billing call", channel=Channel.PHONE)
    breach(phone)
    rate(email, 4)
    rate(phone, 1, comment="billing secret")
    return customer


def test_manager_gets_the_whole_overview(wang, manager, django_assert_max_num_queries):
    client = token_client(manager)
    url = reverse("api:customer-overview", args=[wang.pk])

    with django_assert_max_num_queries(14):
        response = client.get(url)

    assert response.status_code == 200
    data = response.json()
    assert data["customer"]["name"] == "Wang Fang" and data["customer"]["organization"]["name"] == "Acme"
    assert {t["channel"] for t in data["summary"]["tickets"]} == {"email", "chat", "phone"}
    assert data["summary"]["ticket_count"] == 3
    assert [b["metric"] for b in data["summary"]["sla_breaches"]] == ["first_response"]
    assert [c["key"] for c in data["health"]["components"]] == ["satisfaction", "open_tickets", "reopens", "contacts"]
    assert 0 <= data["health"]["score"] <= 100
    assert data["trend"][-1]["score"] == data["health"]["score"]
    assert data["summary"]["tickets"][0]["url"].startswith("http://testserver/agent/tickets/")


def test_agent_of_another_team_does_not_get_its_tickets_over_the_api(wang, agent):
    data = token_client(agent).get(reverse("api:customer-overview", args=[wang.pk])).json()

    assert {t["subject"] for t in data["summary"]["tickets"]} == {"Mail", "Chat"}
    assert data["summary"]["sla_breaches"] == []
    assert "billing secret" not in str(data)


def test_organization_overview_rolls_up(wang, acme, manager):
    data = token_client(manager).get(reverse("api:organization-overview", args=[acme.pk])).json()

    assert data["customer_count"] == 1 and data["customers"][0]["name"] == "Wang Fang"
    assert data["customers"][0]["health_score"] is not None
    assert data["summary"]["ticket_count"] == 3


def test_customers_and_anonymous_callers_are_refused(wang, acme):
    customer_client = token_client(wang.user)
    for url in (reverse("api:customer-overview", args=[wang.pk]), reverse("api:organization-overview", args=[acme.pk])):
        assert customer_client.get(url).status_code == 403
        assert APIClient().get(url).status_code in (401, 403)


def test_unknown_ids_are_404(manager):
    client = token_client(manager)
    assert client.get(reverse("api:customer-overview", args=[987654])).status_code == 404
    assert client.get(reverse("api:organization-overview", args=[987654])).status_code == 404


def test_the_overviews_are_in_the_openapi_schema_without_warnings(client):
    import yaml
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = yaml.safe_load(client.get("/api/schema/").content)
    assert schema["paths"]["/api/v1/customers/{id}/overview/"]["get"]["operationId"] == "customers_overview"
    assert schema["paths"]["/api/v1/organizations/{id}/overview/"]["get"]["operationId"] == "organizations_overview"
    GENERATOR_STATS.reset()
    validate_schema(SchemaGenerator().get_schema(request=None, public=True))
    ours = [message for message in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
            if "customers" in message]
    assert ours == []
