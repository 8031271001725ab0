"""A new ticket's "created" triggers run before its INSERT: the ticket is inserted with their
changes, the audit trail reads as if they were saved after it, and what needs the saved ticket
still runs after it, in the same pass."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_agent, make_customer, make_team, make_ticket
from tests.tickets.rules.conftest import cond, make_rule
from tickets.models import (
    ActorKind,
    BusinessHours,
    Event,
    Message,
    RuleRun,
    RuleRunOutcome,
    SlaPolicy,
    SlaTimer,
    Ticket,
    TimerState,
)
from tickets.services import ticket_update

pytestmark = pytest.mark.django_db

TARGETS = {priority: {"first_response": minutes, "resolution": minutes * 8}
           for priority, minutes in (("low", 240), ("normal", 60), ("high", 30), ("urgent", 15))}


@pytest.fixture
def policy() -> SlaPolicy:
    hours = BusinessHours.objects.create(name="Always", timezone="UTC", weekly={str(d): ["00:00-24:00"] for d in range(7)})
    return SlaPolicy.objects.create(name="Standard", position=10, calendar=hours, targets=TARGETS)


def trail(ticket: Ticket) -> list[tuple[str, str, object, object, str]]:
    return [(e.kind, e.actor_kind, e.from_value, e.to_value, e.via)
            for e in Event.objects.filter(ticket=ticket).exclude(kind__startswith="sla_").order_by("id")]


def test_field_triggers_are_inserted_with_the_ticket_and_the_trail_shows_them_after_created(team, policy):
    first = make_rule(position=1, all=[cond("ticket.subject", "contains", "refund")],
                      actions=[{"type": "set_priority", "value": "urgent"}, {"type": "add_tags", "value": ["refund"]}])
    second = make_rule(position=2, all=[cond("ticket.priority", "is", "urgent")],
                       actions=[{"type": "set_status", "value": "open"}, {"type": "set_type", "value": "incident"}])

    with CaptureQueriesContext(connection) as queries:
        ticket = make_ticket(team=team, subject="Refund please")

    # No second save of the ticket: only the SLA sync writes its due time.
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "tickets_ticket"')]
    assert [sql.split(" WHERE ")[0].split(" = ")[0] for sql in updates] == ['UPDATE "tickets_ticket" SET "sla_due_at"']
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.priority, stored.tags, stored.status, stored.type) == ("urgent", ["refund"], "open", "incident")
    assert stored.status_changed_at is not None
    via = f"rule:{first.pk},{second.pk}"
    assert trail(ticket) == [
        ("created", ActorKind.CUSTOMER, None, {"status": "new", "priority": "normal", "team": team.pk, "channel": "web"},
         "web"),
        ("priority_changed", ActorKind.AUTOMATION, "normal", "urgent", via),
        ("type_changed", ActorKind.AUTOMATION, "question", "incident", via),
        ("tags_changed", ActorKind.AUTOMATION, [], ["refund"], via),
        ("status_changed", ActorKind.AUTOMATION, "new", "open", via),
        ("rule_applied", ActorKind.AUTOMATION, None, {"kind": "trigger", "name": first.name, "rule": first.pk},
         f"rule:{first.pk}"),
        ("rule_applied", ActorKind.AUTOMATION, None, {"kind": "trigger", "name": second.name, "rule": second.pk},
         f"rule:{second.pk}"),
    ]
    assert list(RuleRun.objects.filter(ticket=ticket).order_by("id").values_list("rule_id", "outcome")) == [
        (first.pk, RuleRunOutcome.APPLIED), (second.pk, RuleRunOutcome.APPLIED)]
    # The SLA timers were started once, for the urgent ticket it ends up as.
    timer = SlaTimer.objects.get(ticket=ticket, metric="first_response", is_current=True)
    assert (timer.target_minutes, timer.state) == (15, TimerState.RUNNING)
    assert stored.sla_due_at == timer.due_at


def test_a_note_between_field_triggers_shows_the_ticket_as_it_was_at_its_turn(team):
    make_rule(position=1, actions=[{"type": "set_priority", "value": "high"}])
    note = make_rule(position=2, all=[cond("message.text", "contains", "legal")],
                     actions=[{"type": "add_note", "body": "Priority {{ ticket.priority }}, ticket {{ ticket.number }}"}])
    make_rule(position=3, actions=[{"type": "set_priority", "value": "urgent"}])

    ticket = make_ticket(team=team, body="Our legal team asks.")

    assert Ticket.objects.get(pk=ticket.pk).priority == "urgent"
    assert list(Message.objects.filter(ticket=ticket, visibility="internal").values_list("body_text", flat=True)) == [
        f"Priority High, ticket {ticket.number}"]
    assert RuleRun.objects.get(ticket=ticket, rule=note).outcome == RuleRunOutcome.APPLIED


def test_a_trigger_that_needs_the_saved_ticket_and_those_after_it_run_after_the_insert(team):
    make_rule(position=1, actions=[{"type": "add_tags", "value": ["before"]}])
    make_rule(position=2, all=[cond("sla.state", "is", "none")], actions=[{"type": "add_tags", "value": ["no-sla"]}])
    make_rule(position=3, all=[cond("ticket.tags", "includes_all", ["before", "no-sla"])],
              actions=[{"type": "add_tags", "value": ["after"]}])

    ticket = make_ticket(team=team)

    assert Ticket.objects.get(pk=ticket.pk).tags == ["before", "no-sla", "after"]
    # What ran before the INSERT is one change, what ran after it another (the same values).
    assert [(e.from_value, e.to_value) for e in Event.objects.filter(ticket=ticket, kind="tags_changed")
            .order_by("id")] == [([], ["before"]), (["before"], ["before", "no-sla", "after"])]


def test_an_assignee_a_trigger_names_must_be_able_to_hold_the_ticket(team):
    outsider = make_agent(make_team(name="Elsewhere"))
    rule = make_rule(actions=[{"type": "assign", "value": str(outsider.pk)}])
    make_rule(position=5, actions=[{"type": "add_tags", "value": ["later"]}])

    ticket = make_ticket(team=team)

    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.assignee_id, stored.tags) == (None, ["later"])
    assert RuleRun.objects.get(ticket=ticket, rule=rule).outcome == RuleRunOutcome.FAILED


def test_message_conditions_see_the_description_of_the_new_ticket(team):
    make_rule(all=[cond("message.text", "matches", r"\border \d{6}\b")], actions=[{"type": "add_tags", "value": ["order"]}])

    assert make_ticket(team=team, body="About order 123456").tags == ["order"]
    assert make_ticket(team=team, body="Nothing here").tags == []


def test_a_field_trigger_on_creation_costs_no_second_update_of_the_ticket(team):
    requester = make_customer()
    make_ticket(requester=requester, team=team)  # warm up
    with CaptureQueriesContext(connection) as without_rules:
        make_ticket(requester=requester, team=team)

    make_rule(actions=[{"type": "add_tags", "value": ["tagged"]}])
    make_ticket(requester=requester, team=team)  # the rule list is read once per process and change
    with CaptureQueriesContext(connection) as with_rule:
        assert make_ticket(requester=requester, team=team).tags == ["tagged"]

    # Its audit event and the execution log (a RuleRun and its event): no lock, UPDATE or SLA sync again.
    assert len(with_rule.captured_queries) <= len(without_rules.captured_queries) + 3


def test_an_update_pass_syncs_the_sla_once_for_all_its_changes(team, policy):
    make_rule(position=1, events=["updated"], all=[cond("ticket.tags", "includes_any", ["vip"])],
              actions=[{"type": "set_priority", "value": "high"}])
    make_rule(position=2, events=["updated"], all=[cond("ticket.priority", "is", "high")],
              actions=[{"type": "assign", "value": "routing"}, {"type": "set_type", "value": "incident"}])
    ticket = make_ticket(team=team)

    with CaptureQueriesContext(connection) as queries:
        ticket = ticket_update(ticket=ticket, actor=None, add_tags=["vip"])

    policy_reads = [q for q in queries.captured_queries if 'FROM "tickets_slapolicy"' in q["sql"]]
    assert len(policy_reads) == 2  # the change itself, then once for what the triggers did
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.priority, stored.type) == ("high", "incident")
    timer = SlaTimer.objects.get(ticket=ticket, metric="first_response", is_current=True)
    assert timer.target_minutes == 30
    assert stored.sla_due_at == timer.due_at == ticket.sla_due_at
