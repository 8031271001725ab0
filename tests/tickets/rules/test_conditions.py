"""Every condition field and operator of the rule vocabulary, checked against real tickets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.factories import make_agent, make_customer, make_organization, make_team, make_ticket
from tests.tickets.rules.conftest import cond
from tickets.models import BusinessHours, Customer, CustomFieldDefinition, SlaPolicy, Ticket
from tickets.rules.conditions import Facts, compile_conditions, holds, matches
from tickets.rules.vocabulary import CONDITION_FIELDS, OPERATORS, validate_conditions
from tickets.services import ticket_reply, ticket_update

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def check(ticket: Ticket, field: str, operator: str, value: Any = None, **facts: Any) -> bool:
    """Whether the single condition holds for the ticket (validated as the admin form stores it)."""
    stored = validate_conditions({"all": [cond(field, operator, value)]})
    compiled = compile_conditions(stored)
    return holds(compiled.all[0], Facts(ticket=ticket, **facts))


@pytest.fixture
def ticket(db) -> Ticket:
    org = make_organization(name="Acme")
    requester = make_customer(email="wang.fang@acme.example", name="Wang Fang", organization=org)
    Customer.objects.filter(pk=requester.pk).update(language="zh-hans", tier=Customer.Tier.PREMIUM)
    ticket = make_ticket(requester=requester, subject="Invoice 2291 is wrong", body="Please refund order 7788",
                         tags=["billing", "vip"], priority="high", ticket_type="incident")
    ticket.refresh_from_db()
    return ticket


def test_the_vocabulary_has_no_field_or_operator_without_a_test():
    # The tests below cover these exact pairs; a new field or operator must get its test too.
    covered_kinds = {"choice", "text", "tags", "number", "boolean", "hours"}
    assert {field.kind for field in CONDITION_FIELDS} <= covered_kinds
    assert set(OPERATORS) == covered_kinds


# -- choice fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(("operator", "value", "expected"), [
    ("is", "new", True), ("is", "open", False), ("is_not", "open", True), ("is_not", "new", False),
    ("in", ["open", "new"], True), ("in", ["open", "pending"], False),
    ("not_in", ["open", "pending"], True), ("not_in", ["new"], False),
])
def test_status_is_compared_with_each_choice_operator(ticket, operator, value, expected):
    assert check(ticket, "ticket.status", operator, value) is expected


@pytest.mark.parametrize(("field", "yes", "no"), [
    ("ticket.priority", "high", "low"),
    ("ticket.type", "incident", "question"),
    ("ticket.channel", "web", "email"),
    ("requester.language", "zh-hans", "en"),
    ("requester.tier", "premium", "standard"),
])
def test_each_choice_field_reads_its_own_value(ticket, field, yes, no):
    assert check(ticket, field, "is", yes) and not check(ticket, field, "is", no)
    assert check(ticket, field, "in", [no, yes]) and check(ticket, field, "not_in", [no])


def test_team_assignee_and_organization_compare_by_id_and_empty_means_none(ticket):
    team = make_team()
    agent = make_agent(team)
    assert check(ticket, "ticket.team", "is", "") and check(ticket, "ticket.assignee", "is", "")
    assert check(ticket, "ticket.organization", "is", str(ticket.organization_id))
    ticket_update(ticket=ticket, actor=None, team=team, assignee=agent)
    ticket.refresh_from_db()
    assert check(ticket, "ticket.team", "is", str(team.pk)) and check(ticket, "ticket.team", "is_not", "")
    assert check(ticket, "ticket.assignee", "in", [str(agent.pk), "999999"])
    assert not check(ticket, "ticket.organization", "is", "")


@pytest.mark.parametrize(("operator", "value", "changes", "expected"), [
    ("changed", None, {"status": "pending"}, True),
    ("changed", None, {"priority": "low"}, False),
    ("not_changed", None, {"priority": "low"}, True),
    ("not_changed", None, {"status": "pending"}, False),
    ("changed_to", "pending", {"status": "pending"}, True),
    ("changed_to", "solved", {"status": "pending"}, False),
])
def test_change_operators_look_at_the_changes_of_the_pass(ticket, operator, value, changes, expected):
    assert check(ticket, "ticket.status", operator, value, changes=changes) is expected


def test_changed_from_reads_the_value_before_the_change_from_the_audit_trail(ticket):
    agent = make_agent(make_team())
    ticket_update(ticket=ticket, actor=None, status="open")
    ticket_update(ticket=ticket, actor=agent, status="pending")
    ticket.refresh_from_db()

    changes = {"status": "pending"}
    assert check(ticket, "ticket.status", "changed_from", "open", changes=changes)
    assert not check(ticket, "ticket.status", "changed_from", "new", changes=changes)
    # Nothing changed in this pass: "changed from" cannot hold.
    assert not check(ticket, "ticket.status", "changed_from", "open", changes={})


def test_assignee_changed_to_compares_the_new_assignees_id(ticket):
    team = make_team()
    agent = make_agent(team)
    ticket_update(ticket=ticket, actor=None, team=team, assignee=agent)
    ticket.refresh_from_db()
    changes = {"team": team.pk, "assignee": agent.pk, "status": "open"}
    assert check(ticket, "ticket.assignee", "changed_to", str(agent.pk), changes=changes)
    assert check(ticket, "ticket.assignee", "changed_from", "", changes=changes)
    assert check(ticket, "ticket.team", "changed", changes=changes)


def test_custom_select_field_is_a_choice_with_change_operators(ticket):
    CustomFieldDefinition.objects.create(key="plan", label="Plan", field_type="select", choices=["free", "pro"])
    ticket_update(ticket=ticket, actor=None, custom_fields={"plan": "free"})
    ticket_update(ticket=ticket, actor=None, custom_fields={"plan": "pro"})
    ticket.refresh_from_db()
    assert check(ticket, "ticket.custom_fields.plan", "is", "pro")
    assert check(ticket, "ticket.custom_fields.plan", "not_in", ["free"])
    changes = {"custom_fields": {"plan": "pro"}}
    assert check(ticket, "ticket.custom_fields.plan", "changed_to", "pro", changes=changes)
    assert check(ticket, "ticket.custom_fields.plan", "changed_from", "free", changes=changes)
    assert not check(ticket, "ticket.custom_fields.plan", "changed", changes={})


def test_requester_changed_compares_the_new_and_the_former_requesters(ticket):
    from tickets import events

    former = ticket.requester  # premium
    other = make_customer()  # standard
    Ticket.objects.filter(pk=ticket.pk).update(requester=other)
    ticket.refresh_from_db()
    events.field_changed(ticket=ticket, actor=None, via="web", field="requester", from_value=former.pk,
                         to_value=other.pk)
    changes = {"requester": other.pk}
    assert check(ticket, "requester.tier", "changed", changes=changes)
    assert check(ticket, "requester.tier", "changed_to", "standard", changes=changes)
    assert check(ticket, "requester.tier", "changed_from", "premium", changes=changes)
    assert not check(ticket, "requester.tier", "changed_from", "standard", changes=changes)


# -- text fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(("operator", "value", "expected"), [
    ("is", "invoice 2291 is WRONG", True), ("is", "Invoice", False),
    ("is_not", "Invoice", True), ("is_not", "Invoice 2291 is wrong", False),
    ("contains", "2291", True), ("contains", "refund", False),
    ("not_contains", "refund", True), ("not_contains", "INVOICE", False),
    ("matches", r"Invoice \d{4}", True), ("matches", r"^\d+$", False),
    ("is_empty", None, False), ("is_not_empty", None, True),
])
def test_subject_is_compared_with_each_text_operator(ticket, operator, value, expected):
    assert check(ticket, "ticket.subject", operator, value) is expected


def test_requester_email_and_name_are_text(ticket):
    assert check(ticket, "requester.email", "contains", "@acme.example")
    assert check(ticket, "requester.email", "matches", r"@acme\.example$")
    assert check(ticket, "requester.name", "is", "wang fang")
    assert not check(ticket, "requester.name", "is_empty")


def test_message_text_is_the_message_that_started_the_pass_and_empty_without_one(ticket):
    message = ticket.messages.get()
    assert check(ticket, "message.text", "contains", "refund", message_id=message.pk)
    assert check(ticket, "message.text", "matches", r"order \d+", message_id=message.pk)
    assert check(ticket, "message.text", "is_empty")
    assert not check(ticket, "message.text", "contains", "refund")


def test_a_regular_expression_never_reads_past_the_limit(ticket):
    from tickets.rules import conditions

    long = "a" * (conditions.MAX_MATCHED_CHARS + 10) + "needle"
    reply = ticket_reply(ticket=ticket, actor=None, author_customer=ticket.requester, body_text=long)
    assert not check(ticket, "message.text", "matches", "needle", message_id=reply.pk)
    assert check(ticket, "message.text", "contains", "needle", message_id=reply.pk)


def test_custom_text_field_is_text(ticket):
    CustomFieldDefinition.objects.create(key="order", label="Order", field_type="text")
    ticket_update(ticket=ticket, actor=None, custom_fields={"order": "A-77"})
    ticket.refresh_from_db()
    assert check(ticket, "ticket.custom_fields.order", "matches", r"^A-\d+$")
    assert check(ticket, "ticket.custom_fields.order", "is_not_empty")


# -- tags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("operator", "value", "expected"), [
    ("includes_any", ["vip", "other"], True), ("includes_any", ["other"], False),
    ("includes_all", ["billing", "VIP"], True), ("includes_all", ["billing", "other"], False),
    ("includes_none", ["other"], True), ("includes_none", ["other", "vip"], False),
])
def test_tags_are_compared_with_each_tag_operator(ticket, operator, value, expected):
    assert check(ticket, "ticket.tags", operator, value) is expected


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("operator", "value", "expected"), [
    ("eq", 2, True), ("eq", 1, False), ("ne", 1, True), ("ne", 2, False), ("lt", 3, True), ("lt", 2, False),
    ("gt", 1, True), ("gt", 2, False), ("lte", 2, True), ("lte", 1, False), ("gte", 2, True), ("gte", 3, False),
])
def test_reopen_count_is_compared_with_each_number_operator(ticket, operator, value, expected):
    Ticket.objects.filter(pk=ticket.pk).update(reopen_count=2)
    ticket.refresh_from_db()
    assert check(ticket, "ticket.reopen_count", operator, value) is expected


def test_escalation_level_and_custom_numbers(ticket):
    Ticket.objects.filter(pk=ticket.pk).update(escalation_level=1)
    CustomFieldDefinition.objects.create(key="seats", label="Seats", field_type="number")
    ticket_update(ticket=ticket, actor=None, custom_fields={"seats": 40})
    ticket.refresh_from_db()
    assert check(ticket, "ticket.escalation_level", "gte", 1) and not check(ticket, "ticket.escalation_level", "eq", 0)
    assert check(ticket, "ticket.custom_fields.seats", "gt", 30)
    # A number never filled in holds for no operator, "not equal" included.
    CustomFieldDefinition.objects.create(key="users", label="Users", field_type="number")
    assert not check(ticket, "ticket.custom_fields.users", "ne", 5)


# -- booleans -----------------------------------------------------------------------------------


def test_custom_checkbox_is_a_boolean(ticket):
    CustomFieldDefinition.objects.create(key="urgent_call", label="Call back", field_type="checkbox")
    assert check(ticket, "ticket.custom_fields.urgent_call", "is_false")
    ticket_update(ticket=ticket, actor=None, custom_fields={"urgent_call": True})
    ticket.refresh_from_db()
    assert check(ticket, "ticket.custom_fields.urgent_call", "is_true")
    assert not check(ticket, "ticket.custom_fields.urgent_call", "is_false")


@pytest.fixture
def office(db) -> BusinessHours:
    return BusinessHours.objects.create(name="Shanghai office", timezone="Asia/Shanghai",
                                        weekly={str(day): ["09:00-18:00"] for day in range(5)})


def test_business_hours_use_the_tickets_sla_policy_calendar(office):
    SlaPolicy.objects.create(name="Standard", calendar=office, targets={"normal": {"first_response": 60}})
    always = BusinessHours.objects.create(name="Always", always_open=True)  # not this ticket's calendar
    ticket = make_ticket()
    assert always.pk
    thursday_10 = datetime(2026, 12, 3, 10, 0, tzinfo=SHANGHAI)
    saturday_10 = datetime(2026, 12, 5, 10, 0, tzinfo=SHANGHAI)
    thursday_20 = datetime(2026, 12, 3, 20, 0, tzinfo=SHANGHAI)
    assert check(ticket, "business_hours", "is_true", now=thursday_10)
    assert check(ticket, "business_hours", "is_false", now=saturday_10)
    assert check(ticket, "business_hours", "is_false", now=thursday_20)


def test_business_hours_without_a_policy_use_the_default_calendar(office, settings):
    ticket = make_ticket()
    saturday_10 = datetime(2026, 12, 5, 10, 0, tzinfo=SHANGHAI)
    # The first calendar created is the default...
    assert check(ticket, "business_hours", "is_false", now=saturday_10)
    # ...unless the setting names another one.
    BusinessHours.objects.create(name="Weekend desk", timezone="Asia/Shanghai",
                                 weekly={"5": ["09:00-18:00"], "6": ["09:00-18:00"]})
    settings.HELPDESK_RULES_DEFAULT_CALENDAR = "Weekend desk"
    assert check(ticket, "business_hours", "is_true", now=saturday_10)


def test_without_any_calendar_business_hours_are_always(db):
    ticket = make_ticket()
    assert check(ticket, "business_hours", "is_true", now=datetime(2026, 12, 6, 3, 0, tzinfo=SHANGHAI))


# -- SLA ----------------------------------------------------------------------------------------


@pytest.fixture
def always_policy(db) -> SlaPolicy:
    return SlaPolicy.objects.create(name="24/7", targets={
        "normal": {"first_response": 60, "resolution": 480}, "high": {"first_response": 30, "resolution": 240}})


def test_sla_state_is_none_without_a_policy(db):
    ticket = make_ticket()
    assert check(ticket, "sla.state", "is", "none")
    assert not check(ticket, "sla.hours_to_due", "lt", 1000)  # no target: no value to compare


def test_sla_state_follows_the_tickets_timers(always_policy):
    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)
    now = timezone.now()
    assert check(ticket, "sla.state", "is", "running", now=now)
    assert check(ticket, "sla.hours_to_due", "lte", 1, now=now) and check(ticket, "sla.hours_to_due", "gt", 0.9, now=now)
    # Past the first response's due time it is breached, even before the scan marks it.
    assert check(ticket, "sla.state", "is", "breached", now=now + timedelta(hours=2))
    assert check(ticket, "sla.hours_to_due", "lt", 0, now=now + timedelta(hours=2))

    ticket_reply(ticket=ticket, actor=agent, body_text="On it", status="pending")
    ticket.refresh_from_db()
    assert check(ticket, "sla.state", "is", "paused", now=now)

    ticket_update(ticket=ticket, actor=agent, status="solved")
    ticket.refresh_from_db()
    assert check(ticket, "sla.state", "is", "met", now=now)
    assert check(ticket, "sla.state", "in", ["met", "none"], now=now)


# -- hours since --------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "column"), [
    ("hours_since.created", "created_at"),
    ("hours_since.updated", "updated_at"),
    ("hours_since.status_changed", "status_changed_at"),
    ("hours_since.solved", "solved_at"),
    ("hours_since.last_customer_message", "last_customer_message_at"),
    ("hours_since.last_agent_reply", "last_agent_reply_at"),
])
def test_each_time_field_counts_hours_from_its_moment(ticket, field, column):
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(**{column: now - timedelta(hours=30)})
    ticket.refresh_from_db()
    assert check(ticket, field, "gt", 24, now=now) and not check(ticket, field, "gt", 36, now=now)
    assert check(ticket, field, "lt", 36, now=now) and not check(ticket, field, "lt", 24, now=now)


def test_a_missing_moment_holds_for_neither_operator(ticket):
    assert ticket.solved_at is None
    assert not check(ticket, "hours_since.solved", "gt", 0) and not check(ticket, "hours_since.solved", "lt", 1000)


def test_status_never_changed_counts_from_creation(ticket):
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(created_at=now - timedelta(hours=50), status_changed_at=None)
    ticket.refresh_from_db()
    assert check(ticket, "hours_since.status_changed", "gt", 48, now=now)


# -- groups -------------------------------------------------------------------------------------


def test_all_conditions_must_hold_and_one_of_any(ticket):
    def rule_matches(all_: list, any_: list) -> bool:
        return matches(compile_conditions(validate_conditions({"all": all_, "any": any_})), Facts(ticket=ticket))

    assert rule_matches([cond("ticket.priority", "is", "high"), cond("ticket.tags", "includes_any", ["vip"])], [])
    assert not rule_matches([cond("ticket.priority", "is", "high"), cond("ticket.status", "is", "open")], [])
    assert rule_matches([], [cond("ticket.status", "is", "open"), cond("ticket.subject", "contains", "invoice")])
    assert not rule_matches([cond("ticket.priority", "is", "high")], [cond("ticket.status", "is", "open")])
    assert rule_matches([], [])  # no conditions: every ticket


def test_a_condition_on_a_deleted_custom_field_never_holds(ticket):
    definition = CustomFieldDefinition.objects.create(key="plan", label="Plan", field_type="text")
    stored = validate_conditions({"all": [cond("ticket.custom_fields.plan", "is_empty")]})
    definition.delete()
    assert not matches(compile_conditions(stored), Facts(ticket=ticket))
