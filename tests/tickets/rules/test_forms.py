"""The rule form's rows: what the page posts becomes the stored shapes; the schema the script draws from."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from tests.factories import make_team
from tickets.models import CustomFieldDefinition, Macro, Webhook
from tickets.rules.forms import actions_from_post, conditions_from_post, describe_condition, rule_form_schema


def post(pairs: list[tuple[str, str]]) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in pairs:
        data.appendlist(key, value)
    return data


def test_condition_rows_are_read_in_their_numbers_order_and_empty_rows_are_skipped():
    data = post([
        ("all-10-field", "ticket.subject"), ("all-10-operator", "contains"), ("all-10-value", "b"),
        ("all-2-field", "ticket.subject"), ("all-2-operator", "contains"), ("all-2-value", "a"),
        ("all-5-field", ""), ("all-5-operator", "is"),
        ("any-0-field", "ticket.status"), ("any-0-operator", "not_in"), ("any-0-values", "solved"),
        ("any-0-values", "closed"),
        ("any-1-field", "ticket.tags"), ("any-1-operator", "includes_all"), ("any-1-value", " vip , ,gold"),
        ("any-2-field", "business_hours"), ("any-2-operator", "is_true"),
        ("unrelated", "x"), ("all-x-field", "ticket.status"),
    ])

    assert conditions_from_post(data) == {
        "all": [{"field": "ticket.subject", "operator": "contains", "value": "a"},
                {"field": "ticket.subject", "operator": "contains", "value": "b"}],
        "any": [{"field": "ticket.status", "operator": "not_in", "value": ["solved", "closed"]},
                {"field": "ticket.tags", "operator": "includes_all", "value": ["vip", "gold"]},
                {"field": "business_hours", "operator": "is_true", "value": ""}],
    }


def test_a_multiple_select_with_nothing_chosen_gives_an_empty_list():
    data = post([("all-0-field", "ticket.priority"), ("all-0-operator", "in")])

    assert conditions_from_post(data)["all"] == [{"field": "ticket.priority", "operator": "in", "value": []}]


def test_action_rows_keep_their_parameters():
    data = post([
        ("action-1-type", "email_team"), ("action-1-team", "3"), ("action-1-subject", "Hi"),
        ("action-1-body", "Ticket {{ ticket.number }}"),
        ("action-0-type", "add_tags"), ("action-0-value", "a b"),
        ("action-2-type", ""), ("action-2-value", "lost"),
        ("action-3-type", "escalate"),
    ])

    assert actions_from_post(data) == [
        {"type": "add_tags", "value": "a b"},
        {"type": "email_team", "team": "3", "subject": "Hi", "body": "Ticket {{ ticket.number }}"},
        {"type": "escalate"},
    ]


@pytest.mark.django_db
def test_schema_lists_custom_fields_webhooks_and_only_shared_active_macros():
    from tests.factories import make_user

    CustomFieldDefinition.objects.create(key="plan", label="Plan", field_type="select", choices=["Free", "Pro"])
    CustomFieldDefinition.objects.create(key="seats", label="Seats", field_type="number")
    CustomFieldDefinition.objects.create(key="vat", label="VAT id", field_type="text", applies_to="customer")
    Webhook.objects.create(name="CRM", url="https://crm.example/", secret="s" * 32)
    shared = Macro.objects.create(title="Shared")
    Macro.objects.create(title="Mine", owner=make_user())
    Macro.objects.create(title="Old", is_active=False)

    schema = rule_form_schema()

    fields = {field["key"]: field for field in schema["fields"]}
    assert fields["ticket.custom_fields.plan"] == {"key": "ticket.custom_fields.plan", "label": "Custom field: Plan",
                                                   "kind": "choice", "choices": "custom_field:plan", "time": False}
    assert fields["ticket.custom_fields.seats"]["kind"] == "number"
    assert "ticket.custom_fields.vat" not in fields
    assert schema["choices"]["custom_field:plan"] == [["Free", "Free"], ["Pro", "Pro"]]
    assert schema["choices"]["custom_field"] == [["plan", "Plan"], ["seats", "Seats"]]
    assert schema["choices"]["shared_macro"] == [[str(shared.pk), "Shared"]]
    assert [label for _value, label in schema["choices"]["webhook"]] == ["CRM"]
    assert schema["operatorLabels"]["includes_any"] == "include any of"


@pytest.mark.django_db
def test_conditions_are_described_as_a_person_reads_them():
    team = make_team("Billing")
    schema = rule_form_schema()

    assert describe_condition({"field": "ticket.team", "operator": "is", "value": str(team.pk)}, schema) == \
        "Team is Billing"
    assert describe_condition({"field": "ticket.status", "operator": "in", "value": ["new", "open"]}, schema) == \
        "Status is one of New, Open"
    assert describe_condition({"field": "hours_since.solved", "operator": "gt", "value": 96.0}, schema) == \
        "Hours since solved > 96 hours"
    assert describe_condition({"field": "business_hours", "operator": "is_true", "value": None}, schema) == \
        "Within business hours is yes"
