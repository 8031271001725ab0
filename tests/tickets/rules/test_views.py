"""The rules pages under /agent/rules/: building rules with the form, the lists, the log, webhooks,
and that only managers and admins get in."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_agent, make_customer, make_team, make_ticket, make_user
from tickets.models import Role, Rule, RuleKind, RuleRun, Webhook, WebhookDelivery
from tickets.rules import engine

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def billing():
    return make_team("Billing", slug="billing")


@pytest.fixture
def manager():
    return make_user(role=Role.MANAGER, username="mona")


@pytest.fixture
def manager_client(manager) -> Client:
    client = Client()
    client.force_login(manager)
    return client


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_rule(name="Tag refunds", kind=RuleKind.TRIGGER, **fields) -> Rule:
    defaults = {
        "events": ["created"] if kind == RuleKind.TRIGGER else [],
        "conditions": {"all": [{"field": "ticket.subject", "operator": "contains", "value": "refund"}], "any": []},
        "actions": [{"type": "add_tags", "value": ["refund"]}],
    }
    if kind == RuleKind.AUTOMATION:
        defaults["conditions"] = {"all": [{"field": "hours_since.created", "operator": "gt", "value": 72.0}],
                                  "any": []}
    defaults.update(fields)
    position = Rule.objects.filter(kind=kind).count()
    return Rule.objects.create(kind=kind, name=name, position=position, **defaults)


def rows_of(response) -> dict:
    """The rows the page's script draws (the saved rule, or exactly what was posted)."""
    match = re.search(r'<script id="rules-rows" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    assert match, "the page embeds its rows"
    return json.loads(match.group(1))


def schema_of(response) -> dict:
    match = re.search(r'<script id="rules-schema" type="application/json">(.*?)</script>', response.content.decode(),
                      re.S)
    assert match, "the page embeds its schema"
    return json.loads(match.group(1))


REFUND_TRIGGER = {
    "name": "Refunds to billing",
    "description": "Anything about refunds",
    "is_active": "on",
    "events": ["created", "customer_replied"],
    "all-0-field": "ticket.subject",
    "all-0-operator": "contains",
    "all-0-value": "refund",
    "any-3-field": "ticket.priority",
    "any-3-operator": "in",
    "any-3-values": ["high", "urgent"],
    "any-7-field": "ticket.tags",
    "any-7-operator": "includes_any",
    "any-7-value": "vip, enterprise",
    "action-0-type": "add_tags",
    "action-0-value": "refund money",
    "action-1-type": "assign",
    "action-1-value": "routing",
    "action-2-type": "add_note",
    "action-2-body": "Refund asked by {{ requester.name }}",
}


# -- Building a rule --------------------------------------------------------------------------------


def test_manager_builds_a_trigger_with_the_form_and_it_is_saved_in_the_rule_shape(manager_client, manager, billing):
    data = {**REFUND_TRIGGER, "action-3-type": "set_team", "action-3-value": str(billing.pk)}

    response = manager_client.post(reverse("rules:trigger_new"), data)

    assert response.status_code == 302
    assert response["Location"] == reverse("rules:triggers")
    rule = Rule.objects.get()
    assert (rule.kind, rule.name, rule.description, rule.is_active, rule.created_by) == (
        "trigger", "Refunds to billing", "Anything about refunds", True, manager)
    assert rule.events == ["created", "customer_replied"]
    assert rule.conditions == {
        "all": [{"field": "ticket.subject", "operator": "contains", "value": "refund"}],
        "any": [{"field": "ticket.priority", "operator": "in", "value": ["high", "urgent"]},
                {"field": "ticket.tags", "operator": "includes_any", "value": ["vip", "enterprise"]}],
    }
    assert rule.actions == [
        {"type": "add_tags", "value": ["refund", "money"]},
        {"type": "assign", "value": "routing"},
        {"type": "add_note", "body": "Refund asked by {{ requester.name }}"},
        {"type": "set_team", "value": str(billing.pk)},
    ]


def test_new_rules_go_last_and_the_engine_hears_of_each_change(manager_client, django_capture_on_commit_callbacks):
    make_rule("First")
    with django_capture_on_commit_callbacks() as callbacks:
        manager_client.post(reverse("rules:trigger_new"), REFUND_TRIGGER)

    assert list(Rule.objects.order_by("position").values_list("name", flat=True)) == ["First", "Refunds to billing"]
    assert engine.rules_changed in callbacks


def test_manager_builds_an_automation_with_a_time_condition(manager_client):
    response = manager_client.post(reverse("rules:automation_new"), {
        "name": "Close solved after 4 days",
        "all-0-field": "ticket.status", "all-0-operator": "is", "all-0-value": "solved",
        "all-1-field": "hours_since.solved", "all-1-operator": "gt", "all-1-value": "96",
        "action-0-type": "set_status", "action-0-value": "closed",
        # A trigger's events posted to an automation are ignored.
        "events": ["created"],
    })

    assert response.status_code == 302
    rule = Rule.objects.get()
    assert (rule.kind, rule.events, rule.is_active) == ("automation", [], False)
    assert rule.conditions["all"][1] == {"field": "hours_since.solved", "operator": "gt", "value": 96.0}
    assert rule.actions == [{"type": "set_status", "value": "closed"}]


def test_form_pages_offer_the_vocabulary_without_json_to_edit(manager_client, billing):
    agent = make_agent(billing, display_name="Ada Agent")

    response = manager_client.get(reverse("rules:trigger_new"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<textarea" in page and 'name="conditions"' not in page and 'name="actions"' not in page
    assert re.search(r'<input type="checkbox" name="events" value="created"[^>]*checked', page)
    assert re.search(r'<script src="/static/js/agent/rules-form\.js" nonce="[^"]+"></script>', page)
    schema = schema_of(response)
    fields = {field["key"]: field for field in schema["fields"]}
    assert fields["ticket.status"]["kind"] == "choice" and fields["hours_since.created"]["kind"] == "hours"
    assert [fields["ticket.team"]["choices"], fields["ticket.assignee"]["choices"]] == ["team", "agent"]
    assert [str(billing.pk), "Billing"] in schema["choices"]["team"]
    assert [str(agent.pk), "Ada Agent"] in schema["choices"]["assignee"]
    assert ["routing", "The team's routing"] in schema["choices"]["assignee"]
    assert "{{ requester.first_name }}" in schema["placeholders"]
    assert {action["key"] for action in schema["actions"]} >= {"add_tags", "webhook", "apply_macro", "escalate"}
    assert rows_of(response) == {"all": [], "any": [], "actions": []}


def test_automation_form_has_no_events_and_starts_with_a_time_condition(manager_client):
    response = manager_client.get(reverse("rules:automation_new"))

    page = response.content.decode()
    assert 'name="events"' not in page
    assert "“Hours since …”" in page
    assert rows_of(response)["all"] == [{"field": "hours_since.status_changed", "operator": "gt", "value": ""}]


def test_editing_a_rule_shows_its_rows_and_saves_changes(manager_client):
    rule = make_rule()

    response = manager_client.get(reverse("rules:rule_edit", args=[rule.pk]))

    assert response.status_code == 200
    assert rows_of(response) == {"all": rule.conditions["all"], "any": [], "actions": rule.actions}
    assert 'value="Tag refunds"' in response.content.decode()

    response = manager_client.post(reverse("rules:rule_edit", args=[rule.pk]), {
        "name": "Tag refunds and urgent", "events": ["updated"], "is_active": "on",
        "all-0-field": "ticket.subject", "all-0-operator": "matches", "all-0-value": r"refund|money back",
        "action-0-type": "set_priority", "action-0-value": "urgent",
    })

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.events, rule.kind) == ("Tag refunds and urgent", ["updated"], "trigger")
    assert rule.conditions["all"] == [{"field": "ticket.subject", "operator": "matches", "value": "refund|money back"}]
    assert rule.actions == [{"type": "set_priority", "value": "urgent"}]


# -- Validation ------------------------------------------------------------------------------------


def test_errors_are_shown_on_the_form_and_nothing_typed_is_lost(manager_client):
    data = {**REFUND_TRIGGER, "events": [], "action-1-value": str(999999), "all-1-field": "ticket.subject",
            "all-1-operator": "matches", "all-1-value": "(unclosed"}

    response = manager_client.post(reverse("rules:trigger_new"), data)

    assert response.status_code == 400
    assert not Rule.objects.exists()
    page = response.content.decode()
    assert "The rule was not saved." in page
    assert "Choose at least one moment the trigger runs." in page
    assert "the regular expression is not valid" in page
    assert "Action 2 (“Assign to”): that agent does not exist or is deactivated." in page
    assert 'value="Refunds to billing"' in page and "Anything about refunds" in page
    rows = rows_of(response)
    assert rows["all"][1] == {"field": "ticket.subject", "operator": "matches", "value": "(unclosed"}
    assert rows["any"][0] == {"field": "ticket.priority", "operator": "in", "value": ["high", "urgent"]}
    assert [action["type"] for action in rows["actions"]] == ["add_tags", "assign", "add_note"]
    assert rows["actions"][1]["value"] == "999999"


@pytest.mark.parametrize(("rows", "message"), [
    ({}, "Add at least one action."),
    ({"action-0-type": "set_team", "action-0-value": "424242"}, "that team does not exist"),
    ({"action-0-type": "webhook", "action-0-webhook": "424242"}, "that webhook does not exist"),
    ({"action-0-type": "apply_macro", "action-0-macro": "424242"}, "choose an active shared macro"),
    ({"action-0-type": "set_custom_field", "action-0-key": "nope", "action-0-value": "x"},
     "that custom field does not exist"),
    ({"action-0-type": "set_status", "action-0-value": "exploded"}, "choose a value from the list"),
    ({"action-0-type": "email_requester", "action-0-subject": "Hi", "action-0-body": ""}, "“body” is required"),
    ({"action-0-type": "add_tags", "action-0-value": "x", "all-0-field": "ticket.team", "all-0-operator": "is",
      "all-0-value": "424242"}, "424242 is not one of the choices"),
    ({"action-0-type": "add_tags", "action-0-value": "x", "all-0-field": "ticket.priority",
      "all-0-operator": "in"}, "choose at least one value"),
    ({"action-0-type": "add_tags", "action-0-value": "x", "all-0-field": "ticket.escalation_level",
      "all-0-operator": "gt", "all-0-value": "many"}, "enter a number"),
])
def test_trigger_that_names_what_does_not_exist_is_refused(manager_client, rows, message):
    response = manager_client.post(reverse("rules:trigger_new"), {"name": "Bad", "events": ["created"], **rows})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Rule.objects.exists()


def test_automation_without_a_time_condition_is_refused_so_it_cannot_fire_on_every_ticket(manager_client):
    response = manager_client.post(reverse("rules:automation_new"), {
        "name": "Close everything",
        "all-0-field": "ticket.status", "all-0-operator": "is", "all-0-value": "open",
        "any-0-field": "hours_since.created", "any-0-operator": "gt", "any-0-value": "2",
        "action-0-type": "set_status", "action-0-value": "closed",
    })

    assert response.status_code == 400
    assert "An automation needs at least one “Hours since …” condition" in response.content.decode()
    assert not Rule.objects.exists()


def test_automation_may_not_use_change_conditions(manager_client):
    response = manager_client.post(reverse("rules:automation_new"), {
        "name": "Odd",
        "all-0-field": "hours_since.created", "all-0-operator": "gt", "all-0-value": "2",
        "all-1-field": "ticket.status", "all-1-operator": "changed",
        "action-0-type": "add_tags", "action-0-value": "x",
    })

    assert response.status_code == 400
    assert "“changed” conditions are for triggers" in response.content.decode()


def test_a_rule_needs_a_name(manager_client):
    response = manager_client.post(reverse("rules:trigger_new"), {**REFUND_TRIGGER, "name": "   "})

    assert response.status_code == 400
    assert not Rule.objects.exists()
    assert "field--error" in response.content.decode()


# -- Lists, order, on/off, delete -----------------------------------------------------------------------


def test_trigger_list_shows_rules_in_order_with_runs_and_last_run(manager_client):
    first = make_rule("Alpha")
    make_rule("Beta", is_active=False)
    make_rule("Nightly", kind=RuleKind.AUTOMATION)
    first.run_count = 7
    first.save()

    page = manager_client.get(reverse("rules:triggers")).content.decode()

    assert re.findall(r'data-rule-id="\d+"', page) == [f'data-rule-id="{rule.pk}"' for rule in
                                                        Rule.objects.filter(kind="trigger").order_by("position")]
    assert "Alpha" in page and "Beta" in page and "Nightly" not in page
    assert ">7</a>" in page and "Never" in page
    assert "Ticket is created" in page
    assert manager_client.get(reverse("rules:automations")).content.decode().count("data-rule-id=") == 1


def test_manager_turns_a_rule_off_and_on(manager_client):
    rule = make_rule()

    response = manager_client.post(reverse("rules:rule_toggle", args=[rule.pk]), {"is_active": "0"})
    rule.refresh_from_db()
    assert response.status_code == 302 and rule.is_active is False
    assert "is off" in manager_client.get(reverse("rules:triggers")).content.decode()

    manager_client.post(reverse("rules:rule_toggle", args=[rule.pk]), {"is_active": "1"})
    rule.refresh_from_db()
    assert rule.is_active is True


def test_manager_moves_rules_up_and_down(manager_client):
    alpha, beta, gamma = make_rule("Alpha"), make_rule("Beta"), make_rule("Gamma")
    automation = make_rule("Nightly", kind=RuleKind.AUTOMATION)

    manager_client.post(reverse("rules:rule_move", args=[gamma.pk]), {"direction": "up"})
    manager_client.post(reverse("rules:rule_move", args=[alpha.pk]), {"direction": "down"})
    manager_client.post(reverse("rules:rule_move", args=[gamma.pk]), {"direction": "up"})  # already first
    manager_client.post(reverse("rules:rule_move", args=[beta.pk]), {"direction": "down"})  # already last

    order = list(Rule.objects.filter(kind="trigger").order_by("position", "id").values_list("name", flat=True))
    assert order == ["Gamma", "Alpha", "Beta"]
    automation.refresh_from_db()
    assert automation.position == 0


def test_manager_deletes_a_rule_after_confirming(manager_client):
    rule = make_rule()
    RuleRun.objects.create(rule=rule, ticket=make_ticket(), event="created", outcome="applied")

    confirm = manager_client.get(reverse("rules:rule_delete", args=[rule.pk]))
    assert confirm.status_code == 200 and "Delete “Tag refunds”?" in confirm.content.decode()
    assert Rule.objects.exists()

    response = manager_client.post(reverse("rules:rule_delete", args=[rule.pk]))

    assert response.status_code == 302
    assert not Rule.objects.exists() and not RuleRun.objects.exists()


def test_missing_rule_is_404(manager_client):
    assert manager_client.get(reverse("rules:rule_edit", args=[424242])).status_code == 404
    assert manager_client.post(reverse("rules:rule_toggle", args=[424242]), {"is_active": "0"}).status_code == 404


def test_list_pages_take_a_fixed_number_of_queries(manager_client, django_assert_max_num_queries):
    for index in range(25):
        make_rule(f"Rule {index}")
    manager_client.get(reverse("rules:triggers"))  # warm the session and sidebar caches
    with django_assert_max_num_queries(10):
        response = manager_client.get(reverse("rules:triggers"))
    assert response.content.decode().count("data-rule-id=") == 25


# -- Execution log -----------------------------------------------------------------------------


def test_rule_log_lists_its_runs_newest_first_paginated(manager_client, django_assert_max_num_queries):
    ticket = make_ticket(subject="Refund please")
    rule = make_rule()
    other = make_rule("Other")
    for index in range(55):
        RuleRun.objects.create(rule=rule, ticket=ticket, event="created", outcome="applied",
                               actions=[{"type": "add_tags", "result": f"Added tags: run{index}"}])
    RuleRun.objects.create(rule=other, ticket=ticket, event="created", outcome="failed", error="Boom")
    manager_client.get(reverse("rules:rule_runs", args=[rule.pk]))

    with django_assert_max_num_queries(10):
        first = manager_client.get(reverse("rules:rule_runs", args=[rule.pk])).content.decode()
    second = manager_client.get(reverse("rules:rule_runs", args=[rule.pk]), {"page": 2}).content.decode()

    assert "55 runs" in first
    assert first.index("run54") < first.index("run53")
    assert "run4<" not in first and "run4<" in second
    assert f"#{ticket.number}" in first and "Boom" not in first


def test_global_log_shows_every_rule_and_filters_by_outcome(manager_client, django_assert_max_num_queries):
    ticket = make_ticket()
    good, bad = make_rule("Good"), make_rule("Bad")
    for _index in range(20):
        RuleRun.objects.create(rule=good, ticket=ticket, event="created", outcome="applied")
    RuleRun.objects.create(rule=bad, ticket=ticket, event="schedule", outcome="failed", error="Webhook gone")
    manager_client.get(reverse("rules:log"))

    with django_assert_max_num_queries(10):
        everything = manager_client.get(reverse("rules:log")).content.decode()
    failed = manager_client.get(reverse("rules:log"), {"outcome": "failed"}).content.decode()

    assert "21 runs" in everything and "Good" in everything and "Bad" in everything
    assert "1 run" in failed and "Webhook gone" in failed and ">Good<" not in failed


# -- Webhooks ----------------------------------------------------------------------------------


def test_manager_creates_a_webhook_and_a_secret_is_generated(manager_client):
    response = manager_client.post(reverse("rules:webhook_new"), {
        "name": "CRM", "url": "https://crm.example/hooks/helpdesk", "secret": "", "is_active": "on"})

    webhook = Webhook.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("rules:webhook_edit", args=[webhook.pk])
    assert (webhook.name, webhook.url, webhook.is_active) == ("CRM", "https://crm.example/hooks/helpdesk", True)
    assert re.fullmatch(r"[0-9a-f]{64}", webhook.secret)

    secret = webhook.secret
    manager_client.post(reverse("rules:webhook_edit", args=[webhook.pk]), {
        "name": "CRM", "url": "https://crm.example/v2", "secret": ""})
    webhook.refresh_from_db()
    assert (webhook.url, webhook.secret, webhook.is_active) == ("https://crm.example/v2", secret, False)


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "CRM", "url": "ftp://crm.example/"}, "Enter an http or https address."),
    ({"name": "crm", "url": "https://other.example/"}, "Another webhook has this name."),
    ({"name": "New", "url": "https://other.example/", "secret": "short"}, "at least 16 characters"),
])
def test_webhook_form_errors(manager_client, data, message):
    Webhook.objects.create(name="CRM", url="https://crm.example/", secret="s" * 32)

    response = manager_client.post(reverse("rules:webhook_new"), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Webhook.objects.count() == 1


def test_webhook_page_shows_recent_deliveries(manager_client):
    webhook = Webhook.objects.create(name="CRM", url="https://crm.example/", secret="s" * 32)
    ticket = make_ticket()
    WebhookDelivery.objects.create(webhook=webhook, ticket=ticket, state="failed", attempts=3, response_status=500,
                                   error="Server error")

    page = manager_client.get(reverse("rules:webhook_edit", args=[webhook.pk])).content.decode()
    listing = manager_client.get(reverse("rules:webhooks")).content.decode()

    assert f"#{ticket.number}" in page and "HTTP 500" in page and "Server error" in page
    assert "CRM" in listing and "badge--danger\">1<" in listing


def test_a_webhook_a_rule_calls_cannot_be_deleted(manager_client):
    webhook = Webhook.objects.create(name="CRM", url="https://crm.example/", secret="s" * 32)
    make_rule(actions=[{"type": "webhook", "webhook": str(webhook.pk)}])
    unused = Webhook.objects.create(name="Old", url="https://old.example/", secret="s" * 32)

    manager_client.post(reverse("rules:webhook_delete", args=[webhook.pk]))
    response = manager_client.post(reverse("rules:webhook_delete", args=[unused.pk]), follow=True)

    assert list(Webhook.objects.values_list("name", flat=True)) == ["CRM"]
    assert "Deleted the webhook “Old”." in response.content.decode()


def test_trigger_can_call_a_webhook_and_apply_a_shared_macro(manager_client):
    from tickets.models import Macro

    webhook = Webhook.objects.create(name="CRM", url="https://crm.example/", secret="s" * 32)
    macro = Macro.objects.create(title="Refund steps", reply_text="Here is how")

    response = manager_client.post(reverse("rules:trigger_new"), {
        "name": "Notify CRM", "events": ["created"],
        "action-0-type": "webhook", "action-0-webhook": str(webhook.pk),
        "action-1-type": "apply_macro", "action-1-macro": str(macro.pk),
        "action-2-type": "email_agent", "action-2-recipient": "assignee", "action-2-subject": "New {{ ticket.number }}",
        "action-2-body": "Look",
    })

    assert response.status_code == 302
    assert [action["type"] for action in Rule.objects.get().actions] == ["webhook", "apply_macro", "email_agent"]


# -- Who gets in -------------------------------------------------------------------------------------


def page_urls(rule: Rule, webhook: Webhook) -> list[str]:
    return [
        reverse("rules:triggers"), reverse("rules:automations"), reverse("rules:trigger_new"),
        reverse("rules:automation_new"), reverse("rules:rule_edit", args=[rule.pk]),
        reverse("rules:rule_delete", args=[rule.pk]), reverse("rules:rule_runs", args=[rule.pk]),
        reverse("rules:log"), reverse("rules:webhooks"), reverse("rules:webhook_new"),
        reverse("rules:webhook_edit", args=[webhook.pk]),
    ]


def outsiders(team):
    return {
        "agent": make_agent(team),
        "team lead": make_user(role=Role.TEAM_LEAD, teams=[team], lead_of=[team]),
        "customer": make_customer().user,
    }


def test_agents_team_leads_and_customers_cannot_open_any_rules_page(billing):
    rule = make_rule()
    webhook = Webhook.objects.create(name="CRM", url="https://crm.example/", secret="s" * 32)
    for who, user in outsiders(billing).items():
        client = client_for(user)
        for url in page_urls(rule, webhook):
            assert client.get(url).status_code == 403, (who, url)


def test_anonymous_visitors_are_sent_to_sign_in():
    rule = make_rule()
    webhook = Webhook.objects.create(name="CRM", url="https://crm.example/", secret="s" * 32)
    for url in page_urls(rule, webhook):
        response = Client().get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url
    response = Client().post(reverse("rules:trigger_new"), REFUND_TRIGGER)
    assert response.status_code == 302 and not Rule.objects.filter(name="Refunds to billing").exists()


def test_outsiders_posting_to_the_forms_change_nothing(billing):
    rule = make_rule()
    webhook = Webhook.objects.create(name="CRM", url="https://crm.example/", secret="s" * 32)
    other = make_rule("Second")
    ticket = make_ticket()
    for who, user in outsiders(billing).items():
        client = client_for(user)
        attempts = [
            (reverse("rules:trigger_new"), REFUND_TRIGGER),
            (reverse("rules:rule_edit", args=[rule.pk]), {**REFUND_TRIGGER, "name": "Hijacked"}),
            (reverse("rules:rule_toggle", args=[rule.pk]), {"is_active": "0"}),
            (reverse("rules:rule_move", args=[other.pk]), {"direction": "up"}),
            (reverse("rules:rule_delete", args=[rule.pk]), {}),
            (reverse("rules:trigger_preview"), {**REFUND_TRIGGER, "ticket_number": ticket.number}),
            (reverse("rules:webhook_new"), {"name": "Evil", "url": "https://evil.example/"}),
            (reverse("rules:webhook_edit", args=[webhook.pk]), {"name": "CRM", "url": "https://evil.example/"}),
            (reverse("rules:webhook_delete", args=[webhook.pk]), {}),
        ]
        for url, data in attempts:
            assert client.post(url, data).status_code == 403, (who, url)
    rule.refresh_from_db()
    webhook.refresh_from_db()
    assert (rule.name, rule.is_active, rule.position) == ("Tag refunds", True, 0)
    assert list(Rule.objects.order_by("position").values_list("name", flat=True)) == ["Tag refunds", "Second"]
    assert (Webhook.objects.count(), webhook.url) == (1, "https://crm.example/")


def test_deactivated_manager_is_refused_by_the_service_too(billing):
    from django.core.exceptions import PermissionDenied

    from tickets.rules import services

    manager = make_user(role=Role.MANAGER)
    agent = make_agent(billing)
    rule = make_rule()
    for actor in (agent, make_user(role=Role.TEAM_LEAD, teams=[billing], lead_of=[billing])):
        with pytest.raises(PermissionDenied):
            services.rule_set_active(actor=actor, rule=rule, is_active=False)
        with pytest.raises(PermissionDenied):
            services.rule_save(actor=actor, kind="trigger", name="x", events=["created"], conditions={},
                               actions=[{"type": "add_tags", "value": ["x"]}])
    manager.is_active = False
    with pytest.raises(PermissionDenied):
        services.rule_delete(actor=manager, rule=rule)
    rule.refresh_from_db()
    assert rule.is_active is True and Rule.objects.count() == 1


def test_admin_can_use_the_pages(billing):
    admin = make_user(role=Role.ADMIN)
    client = client_for(admin)

    assert client.get(reverse("rules:triggers")).status_code == 200
    assert client.post(reverse("rules:trigger_new"), REFUND_TRIGGER).status_code == 302


def test_webhook_pages_take_a_fixed_number_of_queries(manager_client, django_assert_max_num_queries):
    ticket = make_ticket()
    for index in range(12):
        webhook = Webhook.objects.create(name=f"Hook {index}", url=f"https://hook{index}.example/", secret="s" * 32)
        for state in ("pending", "failed", "delivered"):
            WebhookDelivery.objects.create(webhook=webhook, ticket=ticket, state=state)
    manager_client.get(reverse("rules:webhooks"))

    with django_assert_max_num_queries(10):
        listing = manager_client.get(reverse("rules:webhooks")).content.decode()
    with django_assert_max_num_queries(10):
        page = manager_client.get(reverse("rules:webhook_edit", args=[webhook.pk])).content.decode()

    assert listing.count("/agent/rules/webhooks/") >= 12
    assert page.count(f"#{ticket.number}") == 3
