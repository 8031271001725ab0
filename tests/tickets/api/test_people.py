"""Customers, organizations, teams and users through the API, scoped by role."""

import pytest

from tests.factories import make_customer, make_organization, make_team, make_user
from tickets.models import Customer, Role

pytestmark = pytest.mark.django_db


def names(response):
    return [row["name"] for row in response.json()["results"]]


def test_staff_list_and_search_customers(as_agent, alice, bob):
    make_customer(email="carol@corp.example", name="Carol")

    everyone = as_agent.get("/api/v1/customers/")
    by_email = as_agent.get("/api/v1/customers/", {"q": "corp.example"})
    by_name = as_agent.get("/api/v1/customers/", {"q": "ali"})

    assert names(everyone) == ["Alice", "Bob", "Carol"]
    assert names(by_email) == ["Carol"]
    assert names(by_name) == ["Alice"]
    assert set(everyone.json()) == {"next", "previous", "results"}


def test_customer_list_is_cursor_paginated(as_agent):
    for index in range(5):
        make_customer(name=f"Person {index}")

    first = as_agent.get("/api/v1/customers/", {"page_size": 2}).json()
    second = as_agent.get(first["next"]).json()
    third = as_agent.get(second["next"]).json()

    assert [r["name"] for r in first["results"] + second["results"] + third["results"]] == [
        f"Person {i}" for i in range(5)]
    assert third["next"] is None


def test_staff_retrieve_a_customer(as_agent, alice):
    acme = make_organization("Acme")
    alice.organization = acme
    alice.save()

    body = as_agent.get(f"/api/v1/customers/{alice.pk}/").json()

    assert body["email"] == "alice@example.com"
    assert body["organization"] == {"id": acme.pk, "name": "Acme"}
    assert body["has_login"] is True


def test_staff_create_a_customer_and_organization_comes_from_the_domain(as_agent):
    acme = make_organization("Acme", domains=["acme.example"])

    response = as_agent.post("/api/v1/customers/", {"name": "Dan", "email": "Dan@Acme.example",
                                                    "phone_numbers": ["+4930123456"]}, format="json")

    assert response.status_code == 201, response.content
    customer = Customer.objects.get(pk=response.json()["id"])
    assert (customer.email, customer.organization, customer.phone_numbers) == ("dan@acme.example", acme,
                                                                                ["+4930123456"])


def test_creating_a_customer_with_a_taken_email_is_400(as_agent, alice):
    response = as_agent.post("/api/v1/customers/", {"name": "Alice 2", "email": "ALICE@example.com"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["email"]
    assert Customer.objects.count() == 1


@pytest.mark.parametrize("path", ["/api/v1/customers/", "/api/v1/organizations/", "/api/v1/users/"])
def test_customers_cannot_read_staff_directories(as_alice, path):
    response = as_alice.get(path)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_customer_cannot_read_another_customer(as_alice, bob):
    assert as_alice.get(f"/api/v1/customers/{bob.pk}/").status_code == 403
    assert as_alice.post("/api/v1/customers/", {"name": "x"}, format="json").status_code == 403


def test_organizations(as_agent):
    make_organization("Zeta")
    acme = make_organization("Acme", domains=["acme.example"])

    assert names(as_agent.get("/api/v1/organizations/")) == ["Acme", "Zeta"]
    assert names(as_agent.get("/api/v1/organizations/", {"q": "ze"})) == ["Zeta"]
    assert as_agent.get(f"/api/v1/organizations/{acme.pk}/").json()["domains"] == ["acme.example"]


def test_staff_see_every_team_customers_only_selectable_ones(as_agent, as_alice, support, billing):
    hidden = make_team("Escalations", slug="escalations", is_customer_selectable=False)

    staff_view = as_agent.get("/api/v1/teams/").json()["results"]
    customer_view = as_alice.get("/api/v1/teams/").json()["results"]

    assert [t["slug"] for t in staff_view] == ["billing", "escalations", "support"]
    assert customer_view == [{"id": billing.pk, "name": "Billing", "slug": "billing"},
                             {"id": support.pk, "name": "Support", "slug": "support"}]
    assert as_alice.get(f"/api/v1/teams/{hidden.pk}/").status_code == 404
    assert as_agent.get(f"/api/v1/teams/{hidden.pk}/").json()["is_customer_selectable"] is False


def test_users_lists_active_staff_with_teams(as_agent, agent, support, billing, alice, django_assert_max_num_queries):
    lead = make_user(role=Role.TEAM_LEAD, username="lee", teams=[support, billing], lead_of=[support])
    make_user(role=Role.AGENT, username="gone", is_active=False)
    for index in range(10):
        make_user(role=Role.AGENT, username=f"extra{index}", teams=[support])

    with django_assert_max_num_queries(5):
        response = as_agent.get("/api/v1/users/", {"page_size": 50})

    rows = {row["username"]: row for row in response.json()["results"]}
    assert "gone" not in rows and alice.user.username not in rows
    assert rows["lee"] == {"id": lead.pk, "username": "lee", "name": "lee", "role": "team_lead",
                           "teams": [{"id": billing.pk, "name": "Billing", "slug": "billing"},
                                     {"id": support.pk, "name": "Support", "slug": "support"}]}
    assert [r["username"] for r in as_agent.get("/api/v1/users/", {"team": billing.pk}).json()["results"]] == ["lee"]
    assert as_agent.get(f"/api/v1/users/{lead.pk}/").json()["role"] == "team_lead"
    assert as_agent.get(f"/api/v1/users/{alice.user.pk}/").status_code == 404


def test_customer_list_query_count(as_agent, django_assert_max_num_queries):
    acme = make_organization()
    for _ in range(30):
        make_customer(organization=acme)

    with django_assert_max_num_queries(4):
        response = as_agent.get("/api/v1/customers/", {"page_size": 30})
    assert len(response.json()["results"]) == 30
