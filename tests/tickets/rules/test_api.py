"""Rules through the API: managers and admins list, create, read, change and delete rules and read
their execution log; the same validation as the form; everyone else is refused."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import make_agent, make_customer, make_team, make_ticket, make_user
from tickets.models import Role, Rule, RuleRun

pytestmark = pytest.mark.django_db

TRIGGER = {
    "kind": "trigger",
    "name": "Tag refunds",
    "events": ["created"],
    "conditions": {"all": [{"field": "ticket.subject", "operator": "contains", "value": "refund"}]},
    "actions": [{"type": "add_tags", "value": ["refund"]}],
}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def token_client(user) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def as_manager():
    return token_client(make_user(role=Role.MANAGER))


def make_rule(name="Existing", **fields) -> Rule:
    data = {"kind": "trigger", "events": ["updated"], "conditions": {"all": [], "any": []},
            "actions": [{"type": "add_tags", "value": ["x"]}], "position": Rule.objects.count(), **fields}
    return Rule.objects.create(name=name, **data)


def test_manager_creates_a_trigger_and_it_goes_last(as_manager):
    make_rule()

    response = as_manager.post("/api/v1/rules/", TRIGGER, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    rule = Rule.objects.get(pk=body["id"])
    assert (rule.name, rule.kind, rule.events, rule.position) == ("Tag refunds", "trigger", ["created"], 1)
    assert rule.conditions == {"all": [{"field": "ticket.subject", "operator": "contains", "value": "refund"}],
                               "any": []}
    assert body["conditions"] == rule.conditions and body["actions"] == [{"type": "add_tags", "value": ["refund"]}]
    assert body["run_count"] == 0 and body["is_active"] is True


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"events": []}, "events", "Choose at least one moment the trigger runs."),
    ({"actions": [{"type": "set_team", "value": "424242"}]}, "actions", "that team does not exist"),
    ({"actions": [{"type": "explode"}]}, "actions", "unknown action"),
    ({"conditions": {"all": [{"field": "ticket.nope", "operator": "is", "value": "x"}]}}, "conditions",
     "unknown field"),
    ({"kind": "automation", "events": []}, "conditions", "needs at least one “Hours since …” condition"),
    ({"name": " "}, "name", "This field may not be blank."),
])
def test_invalid_rules_are_400_naming_the_field(as_manager, change, field, message):
    response = as_manager.post("/api/v1/rules/", {**TRIGGER, **change}, format="json")

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert field in fields and message in " ".join(fields[field])
    assert not Rule.objects.exists()


def test_manager_lists_rules_in_their_order_and_by_kind(as_manager):
    second = make_rule("Second", position=5)
    first = make_rule("First", position=1)
    nightly = make_rule("Nightly", kind="automation", events=[],
                        conditions={"all": [{"field": "hours_since.created", "operator": "gt", "value": 1.0}]})

    everything = as_manager.get("/api/v1/rules/").json()["results"]
    automations = as_manager.get("/api/v1/rules/", {"kind": "automation"}).json()["results"]

    assert [rule["id"] for rule in everything] == [nightly.pk, first.pk, second.pk]
    assert [rule["id"] for rule in automations] == [nightly.pk]


def test_manager_reads_changes_and_deletes_a_rule(as_manager):
    rule = make_rule()

    read = as_manager.get(f"/api/v1/rules/{rule.pk}/")
    changed = as_manager.patch(f"/api/v1/rules/{rule.pk}/", {"name": "Renamed", "is_active": False,
                                                             "kind": "automation"}, format="json")

    assert read.status_code == 200 and read.json()["name"] == "Existing"
    assert changed.status_code == 200, changed.content
    rule.refresh_from_db()
    assert (rule.name, rule.is_active, rule.kind, rule.events) == ("Renamed", False, "trigger", ["updated"])

    refused = as_manager.patch(f"/api/v1/rules/{rule.pk}/", {"events": []}, format="json")
    assert refused.status_code == 400
    rule.refresh_from_db()
    assert rule.events == ["updated"]

    assert as_manager.delete(f"/api/v1/rules/{rule.pk}/").status_code == 204
    assert not Rule.objects.exists()
    assert as_manager.get(f"/api/v1/rules/{rule.pk}/").status_code == 404


def test_rule_runs_are_newest_first_and_cursor_paginated(as_manager, django_assert_max_num_queries):
    ticket = make_ticket()
    rule = make_rule()
    runs = [RuleRun.objects.create(rule=rule, ticket=ticket, event="updated", outcome="applied") for _ in range(5)]
    RuleRun.objects.create(rule=make_rule("Other"), ticket=ticket, event="updated", outcome="failed")

    with django_assert_max_num_queries(6):
        first = as_manager.get(f"/api/v1/rules/{rule.pk}/runs/", {"page_size": 3}).json()
    second = as_manager.get(first["next"]).json()

    ids = [run["id"] for run in first["results"] + second["results"]]
    assert ids == [run.pk for run in reversed(runs)]
    assert first["results"][0]["ticket"] == ticket.number and first["results"][0]["outcome"] == "applied"
    assert second["next"] is None


def test_agents_team_leads_customers_and_anonymous_are_refused_and_change_nothing():
    team = make_team()
    rule = make_rule()
    ticket = make_ticket()
    RuleRun.objects.create(rule=rule, ticket=ticket, event="updated", outcome="applied")
    callers = {
        "agent": token_client(make_agent(team)),
        "team lead": token_client(make_user(role=Role.TEAM_LEAD, teams=[team], lead_of=[team])),
        "customer": token_client(make_customer().user),
        "anonymous": APIClient(),
    }
    for who, client in callers.items():
        expected = 401 if who == "anonymous" else 403
        assert client.get("/api/v1/rules/").status_code == expected, who
        assert client.get(f"/api/v1/rules/{rule.pk}/").status_code == expected, who
        assert client.get(f"/api/v1/rules/{rule.pk}/runs/").status_code == expected, who
        assert client.post("/api/v1/rules/", TRIGGER, format="json").status_code == expected, who
        assert client.patch(f"/api/v1/rules/{rule.pk}/", {"name": "Hijacked"}, format="json").status_code == \
            expected, who
        assert client.delete(f"/api/v1/rules/{rule.pk}/").status_code == expected, who
    rule.refresh_from_db()
    assert Rule.objects.count() == 1 and rule.name == "Existing"


def test_admin_may_use_the_api():
    admin = token_client(make_user(role=Role.ADMIN))

    assert admin.post("/api/v1/rules/", TRIGGER, format="json").status_code == 201


def test_rules_endpoints_are_in_the_schema(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)

    assert set(schema["paths"]["/api/v1/rules/"]) >= {"get", "post"}
    assert set(schema["paths"]["/api/v1/rules/{id}/"]) >= {"get", "patch", "delete"}
    assert "get" in schema["paths"]["/api/v1/rules/{id}/runs/"]
