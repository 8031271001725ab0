"""Triggers: order, what a trigger sees of earlier ones, once per pass, loop protection, failures
that leave the ticket change intact, the rule cache, previews, and the execution log."""

from __future__ import annotations

from unittest.mock import ANY

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk.celery import app
from tests.factories import make_customer, make_ticket
from tests.tickets.rules.conftest import cond, make_rule
from tickets.models import (
    Event,
    Message,
    Rule,
    RuleKind,
    RuleRun,
    RuleRunOutcome,
    Status,
    Ticket,
    TriggerEvent,
    WebhookDelivery,
)
from tickets.rules.engine import rule_preview, rules_changed
from tickets.rules.timeline import rule_actor_name
from tickets.services import ticket_reply, ticket_update
from tickets.views.agent.timeline import describe_event

pytestmark = pytest.mark.django_db


def notes(ticket: Ticket) -> list[str]:
    return list(Message.objects.filter(ticket=ticket, visibility="internal").order_by("id")
                .values_list("body_text", flat=True))


def test_a_trigger_on_creation_changes_the_new_ticket_before_the_request_returns(team):
    make_rule(name="Billing to VIP", all=[cond("ticket.subject", "contains", "invoice")],
              actions=[{"type": "add_tags", "value": ["billing"]}, {"type": "set_priority", "value": "high"}])

    ticket = make_ticket(subject="Invoice is wrong", team=team)

    # The object the service returned already shows what the trigger did.
    assert (ticket.tags, ticket.priority) == (["billing"], "high")
    ticket.refresh_from_db()
    assert (ticket.tags, ticket.priority) == (["billing"], "high")
    other = make_ticket(subject="Printer", team=team)
    assert (other.tags, other.priority) == ([], "normal")


def test_triggers_run_in_position_order_then_id(team):
    second = make_rule(position=2, actions=[{"type": "add_note", "body": "second"}])
    make_rule(position=1, actions=[{"type": "add_note", "body": "first"}])
    make_rule(position=2, actions=[{"type": "add_note", "body": "third"}])
    assert second.pk

    ticket = make_ticket(team=team)

    assert notes(ticket) == ["first", "second", "third"]


def test_a_later_trigger_sees_what_an_earlier_one_changed(team):
    make_rule(position=1, name="VIP", all=[cond("requester.email", "contains", "@bigco.example")],
              actions=[{"type": "add_tags", "value": ["vip"]}])
    make_rule(position=2, name="VIP urgent", all=[cond("ticket.tags", "includes_any", ["vip"])],
              actions=[{"type": "set_priority", "value": "urgent"}])

    ticket = make_ticket(requester=make_customer(email="cto@bigco.example"), team=team)

    assert (ticket.tags, ticket.priority) == (["vip"], "urgent")


def test_after_a_trigger_fires_the_earlier_ones_are_checked_again_with_its_changes(team):
    # Positioned first, but its condition only holds once the second trigger changed the priority.
    make_rule(position=1, name="Urgent gets a tag", all=[cond("ticket.priority", "changed_to", "urgent")],
              actions=[{"type": "add_tags", "value": ["hot"]}])
    make_rule(position=2, name="Outages are urgent", all=[cond("ticket.subject", "contains", "outage")],
              actions=[{"type": "set_priority", "value": "urgent"}])

    ticket = make_ticket(subject="Total outage", team=team)

    assert (ticket.priority, ticket.tags) == ("urgent", ["hot"])
    assert list(RuleRun.objects.filter(ticket=ticket).order_by("id").values_list("rule__name", flat=True)) == [
        "Outages are urgent", "Urgent gets a tag"]


def test_each_trigger_fires_at_most_once_per_pass(team):
    make_rule(all=[cond("ticket.status", "is", "new")], actions=[{"type": "add_note", "body": "seen"}])

    ticket = make_ticket(team=team)

    assert notes(ticket) == ["seen"]
    assert RuleRun.objects.filter(ticket=ticket).count() == 1


def test_triggers_run_only_on_their_events(team, agent):
    make_rule(events=[TriggerEvent.CUSTOMER_REPLIED], actions=[{"type": "add_tags", "value": ["customer-wrote"]}])
    make_rule(events=[TriggerEvent.AGENT_REPLIED], actions=[{"type": "add_tags", "value": ["agent-wrote"]}])
    make_rule(events=[TriggerEvent.UPDATED], all=[cond("ticket.priority", "changed")],
              actions=[{"type": "add_tags", "value": ["reprioritised"]}])

    ticket = make_ticket(team=team)
    assert ticket.tags == []
    ticket_reply(ticket=ticket, actor=agent, body_text="Hello")
    ticket.refresh_from_db()
    assert ticket.tags == ["agent-wrote"]
    ticket_reply(ticket=ticket, actor=None, author_customer=ticket.requester, body_text="Thanks")
    ticket.refresh_from_db()
    assert ticket.tags == ["agent-wrote", "customer-wrote"]
    ticket_update(ticket=ticket, actor=agent, priority="low")
    ticket.refresh_from_db()
    assert ticket.tags == ["agent-wrote", "customer-wrote", "reprioritised"]


def test_message_text_conditions_read_the_reply_that_started_the_pass(team, agent):
    make_rule(events=[TriggerEvent.CUSTOMER_REPLIED], all=[cond("message.text", "matches", r"(?i)\bcancel\b")],
              actions=[{"type": "add_tags", "value": ["churn-risk"]}])
    ticket = make_ticket(team=team, body="I want to cancel")  # created: not a reply
    assert ticket.tags == []

    ticket_reply(ticket=ticket, actor=None, author_customer=ticket.requester, body_text="Thanks, all good")
    ticket.refresh_from_db()
    assert ticket.tags == []
    ticket_reply(ticket=ticket, actor=None, author_customer=ticket.requester, body_text="Please CANCEL my plan")
    ticket.refresh_from_db()
    assert ticket.tags == ["churn-risk"]


def test_two_triggers_that_undo_each_other_stop_and_the_log_shows_each_ran_once(team, agent):
    make_rule(events=[TriggerEvent.UPDATED], name="Ping", all=[cond("ticket.tags", "includes_any", ["ping"])],
              actions=[{"type": "remove_tags", "value": ["ping"]}, {"type": "add_tags", "value": ["pong"]}])
    make_rule(events=[TriggerEvent.UPDATED], name="Pong", all=[cond("ticket.tags", "includes_any", ["pong"])],
              actions=[{"type": "remove_tags", "value": ["pong"]}, {"type": "add_tags", "value": ["ping"]}])
    ticket = make_ticket(team=team)

    ticket_update(ticket=ticket, actor=agent, add_tags=["ping"])

    ticket.refresh_from_db()
    assert ticket.tags == ["ping"]  # Ping made it pong, Pong made it ping again, then the pass ended
    runs = list(RuleRun.objects.filter(ticket=ticket).order_by("id").values_list("rule__name", "outcome"))
    assert runs == [("Ping", "applied"), ("Pong", "applied")]
    assert Event.objects.filter(ticket=ticket, kind="rule_applied").count() == 2


def test_a_rule_that_fires_on_every_pass_is_held_back_after_the_limit(team, agent, settings):
    settings.HELPDESK_RULE_MAX_RUNS_PER_TICKET = 3
    rule = make_rule(events=[TriggerEvent.UPDATED], name="Echo", actions=[{"type": "add_note", "body": "echo"}])
    ticket = make_ticket(team=team)

    for priority in ["low", "high", "low", "high", "low", "high"]:
        ticket_update(ticket=ticket, actor=agent, priority=priority)

    # Every agent change stands; the rule ran three times, then was held back once, logged once.
    ticket.refresh_from_db()
    assert ticket.priority == "high"
    assert notes(ticket) == ["echo"] * 3
    outcomes = list(RuleRun.objects.filter(rule=rule, ticket=ticket).order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["applied"] * 3 + ["suppressed"]
    assert Event.objects.filter(ticket=ticket, kind="rule_suppressed").count() == 1
    # Other tickets are not affected.
    other = make_ticket(team=team)
    ticket_update(ticket=other, actor=agent, priority="low")
    assert notes(other) == ["echo"]


def test_the_loop_limit_counts_the_last_hour_only(team, agent, settings):
    settings.HELPDESK_RULE_MAX_RUNS_PER_TICKET = 2
    rule = make_rule(events=[TriggerEvent.UPDATED], actions=[{"type": "add_note", "body": "echo"}])
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, priority="low")
    ticket_update(ticket=ticket, actor=agent, priority="high")
    RuleRun.objects.filter(rule=rule).update(created_at=timezone.now() - timezone.timedelta(hours=2))

    ticket_update(ticket=ticket, actor=agent, priority="low")

    assert notes(ticket) == ["echo"] * 3


def test_a_failing_action_undoes_the_firing_but_never_the_ticket_change(team, agent):
    broken = make_rule(events=[TriggerEvent.CREATED, TriggerEvent.UPDATED], position=1, name="Broken",
                       actions=[{"type": "add_tags", "value": ["half-done"]}, {"type": "webhook", "webhook": "999999"}])
    make_rule(position=2, name="Fine", actions=[{"type": "add_tags", "value": ["fine"]}])

    ticket = make_ticket(team=team, subject="Still created")

    ticket.refresh_from_db()
    assert ticket.subject == "Still created"
    assert ticket.tags == ["fine"]  # the broken rule's first action was undone; the next rule ran
    run = RuleRun.objects.get(rule=broken, ticket=ticket)
    assert run.outcome == RuleRunOutcome.FAILED
    assert "webhook" in run.error.lower()
    assert run.actions == [{"type": "add_tags", "result": "done"}]  # how far it got
    failed = Event.objects.get(ticket=ticket, kind="rule_failed")
    assert failed.to_value["name"] == "Broken"
    assert not Event.objects.filter(ticket=ticket, kind="tags_changed", via=f"rule:{broken.pk}").exists()

    ticket_update(ticket=ticket, actor=agent, priority="urgent")
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    assert RuleRun.objects.filter(rule=broken, ticket=ticket, outcome="failed").count() == 2


def test_a_refused_status_change_is_a_failed_run(team):
    rule = make_rule(actions=[{"type": "set_status", "value": "closed"}])  # new → closed is not allowed

    ticket = make_ticket(team=team)

    assert ticket.status == Status.NEW
    assert RuleRun.objects.get(rule=rule).outcome == RuleRunOutcome.FAILED


def test_changes_are_made_as_the_rule_and_the_timeline_names_it(team):
    rule = make_rule(name="Tag billing", actions=[{"type": "add_tags", "value": ["billing"]}])

    ticket = make_ticket(team=team)

    change = Event.objects.get(ticket=ticket, kind="tags_changed")
    assert (change.actor_user, change.actor_kind, change.via) == (None, "automation", f"rule:{rule.pk}")
    assert rule_actor_name(change) == "Tag billing"
    applied = Event.objects.get(ticket=ticket, kind="rule_applied")
    assert applied.to_value == {"rule": rule.pk, "name": "Tag billing", "kind": "trigger"}
    assert str(describe_event(applied, {}, {})) == "Trigger <strong>Tag billing</strong> ran"
    assert "Tag billing" in str(describe_event(change, {}, {}))
    rule.delete()
    from tickets.rules import timeline

    timeline._names.clear()
    change.refresh_from_db()
    assert rule_actor_name(change) == "Deleted rule"


def test_run_count_and_last_run_are_kept_after_commit(team, django_capture_on_commit_callbacks):
    rule = make_rule(actions=[{"type": "add_tags", "value": ["x"]}])
    from tickets.rules.engine import rule_run_counts_flush, rule_run_counts_pending

    rule_run_counts_flush()

    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(team=team)
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(team=team)

    # Gathered in Redis and written together by the minute task, not one statement per firing.
    rule.refresh_from_db()
    assert (rule.run_count, rule.last_run_at) == (0, None)
    assert rule_run_counts_pending() == {rule.pk: (2, ANY)}
    assert app.tasks["tickets.rules.tasks.rule_run_counts_flush"].apply().get() == 1
    rule.refresh_from_db()
    assert rule.run_count == 2
    assert rule.last_run_at is not None
    assert rule_run_counts_pending() == {}
    assert rule_run_counts_flush() == 0  # nothing is added twice


def test_inactive_rules_and_automations_never_run_as_triggers(team):
    make_rule(is_active=False, actions=[{"type": "add_tags", "value": ["inactive"]}])
    make_rule(kind=RuleKind.AUTOMATION, actions=[{"type": "add_tags", "value": ["automation"]}])

    ticket = make_ticket(team=team)

    assert ticket.tags == []


def test_the_rule_list_is_cached_until_rules_changed(team):
    rule = make_rule(actions=[{"type": "add_tags", "value": ["cached"]}])
    assert make_ticket(team=team).tags == ["cached"]

    Rule.objects.filter(pk=rule.pk).update(is_active=False)  # behind the engine's back
    assert make_ticket(team=team).tags == ["cached"]
    rules_changed()  # what the rules' services call after a write commits
    assert make_ticket(team=team).tags == []


def test_fifty_triggers_that_do_not_match_cost_no_query(team):
    requester = make_customer()
    make_ticket(requester=requester, team=team)  # warm up
    with CaptureQueriesContext(connection) as without_rules:
        make_ticket(requester=requester, team=team)

    for number in range(50):
        make_rule(all=[cond("ticket.subject", "contains", f"never-{number}"), cond("ticket.status", "is", "open")],
                  any=[cond("ticket.priority", "is", "urgent"), cond("ticket.tags", "includes_any", ["x"])])
    make_ticket(requester=requester, team=team)  # the rule list is read once per process and change
    with CaptureQueriesContext(connection) as with_rules:
        make_ticket(requester=requester, team=team)

    assert len(with_rules.captured_queries) == len(without_rules.captured_queries)


# -- previews -----------------------------------------------------------------------------------


def test_rule_preview_explains_and_changes_nothing(team, agent):
    ticket = make_ticket(team=team, subject="Invoice wrong", tags=["billing"])
    counts = lambda: (Event.objects.count(), RuleRun.objects.count(), Message.objects.count(),  # noqa: E731
                      WebhookDelivery.objects.count())
    before, ticket_before = counts(), Ticket.objects.filter(pk=ticket.pk).values().get()

    preview = rule_preview(
        kind=RuleKind.TRIGGER, events=[TriggerEvent.CREATED], ticket=ticket,
        conditions={"all": [cond("ticket.subject", "contains", "invoice"), cond("ticket.status", "is", "new")],
                    "any": [cond("ticket.priority", "is", "urgent"), cond("ticket.tags", "includes_any", ["billing"])]},
        actions=[{"type": "set_status", "value": "pending"}, {"type": "add_tags", "value": ["vip"]},
                 {"type": "assign", "value": str(agent.pk)}, {"type": "add_note", "body": "For {{ requester.name }}"}],
    )

    assert counts() == before
    assert Ticket.objects.filter(pk=ticket.pk).values().get() == ticket_before
    assert preview.matches is True
    assert [(r.group, r.holds, r.actual) for r in preview.conditions] == [
        ("all", True, "Invoice wrong"), ("all", True, "New"), ("any", False, "Normal"), ("any", True, "billing")]
    assert preview.actions == ["Set status: Pending", "Add tags: vip", "Assign to: Ana Agent",
                               f"Add internal note: For {ticket.requester.name}"]
    assert preview.note == ""


def test_rule_preview_says_why_a_matching_rule_would_not_run(team):
    ticket = make_ticket(team=team)
    preview = rule_preview(kind=RuleKind.TRIGGER, events=[TriggerEvent.UPDATED], conditions={}, actions=[],
                           ticket=ticket, event=TriggerEvent.CREATED)
    assert preview.matches and "does not run" in preview.note
    failing = rule_preview(kind=RuleKind.TRIGGER, events=[TriggerEvent.CREATED], ticket=ticket, actions=[],
                           conditions={"all": [cond("ticket.status", "is", "solved")]})
    assert failing.matches is False and failing.conditions[0].actual == "New"


def test_the_timeline_says_a_rule_failed_or_was_held_back(team, agent, settings):
    settings.HELPDESK_RULE_MAX_RUNS_PER_TICKET = 1
    make_rule(name="Broken", actions=[{"type": "webhook", "webhook": "999999"}])
    make_rule(events=[TriggerEvent.UPDATED], name="Echo", actions=[{"type": "add_note", "body": "echo"}])
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, priority="low")
    ticket_update(ticket=ticket, actor=agent, priority="high")

    failed = str(describe_event(Event.objects.get(ticket=ticket, kind="rule_failed"), {}, {}))
    suppressed = str(describe_event(Event.objects.get(ticket=ticket, kind="rule_suppressed"), {}, {}))
    assert failed.startswith("Trigger <strong>Broken</strong> failed and changed nothing: ValidationError")
    assert suppressed == ("Trigger <strong>Echo</strong> was not run: it ran too often on this ticket in the last "
                          "hour (loop protection)")


def test_triggers_still_run_when_the_shared_cache_is_down(team, settings):
    make_rule(actions=[{"type": "add_tags", "value": ["still-runs"]}])
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}

    ticket = make_ticket(team=team)

    assert ticket.tags == ["still-runs"]


def test_field_changes_of_a_pass_are_saved_together_and_named_after_every_rule(team):
    first = make_rule(position=1, name="Web form", actions=[{"type": "add_tags", "value": ["web-form"]}])
    second = make_rule(position=2, name="Refunds", all=[cond("ticket.subject", "contains", "refund")],
                       actions=[{"type": "add_tags", "value": ["refund"]}, {"type": "set_priority", "value": "high"}])

    ticket = make_ticket(team=team, subject="Refund please")

    assert (ticket.tags, ticket.priority) == (["web-form", "refund"], "high")
    tags_change = Event.objects.get(ticket=ticket, kind="tags_changed")
    assert (tags_change.from_value, tags_change.to_value) == ([], ["web-form", "refund"])
    assert tags_change.via == f"rule:{first.pk},{second.pk}"
    assert rule_actor_name(tags_change) == "Web form, Refunds"
    assert sorted(RuleRun.objects.filter(ticket=ticket).values_list("rule__name", "outcome")) == [
        ("Refunds", "applied"), ("Web form", "applied")]


def test_changes_refused_together_are_applied_one_rule_at_a_time(team):
    # new → solved → closed is allowed step by step, not new → closed at once.
    make_rule(position=1, name="Solve spam", all=[cond("ticket.subject", "contains", "spam")],
              actions=[{"type": "set_status", "value": "solved"}])
    make_rule(position=2, name="Close solved spam", all=[cond("ticket.status", "is", "solved"),
                                                         cond("ticket.subject", "contains", "spam")],
              actions=[{"type": "set_status", "value": "closed"}])

    ticket = make_ticket(team=team, subject="Buy spam now")

    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert list(Event.objects.filter(ticket=ticket, kind="status_changed").order_by("id")
                .values_list("from_value", "to_value")) == [("new", "solved"), ("solved", "closed")]
    assert set(RuleRun.objects.filter(ticket=ticket).values_list("outcome", flat=True)) == {"applied"}


def test_changed_from_sees_the_value_before_an_earlier_triggers_change(team):
    make_rule(position=1, actions=[{"type": "set_priority", "value": "urgent"}])
    make_rule(position=2, all=[cond("ticket.priority", "changed_from", "normal")],
              actions=[{"type": "add_tags", "value": ["was-normal"]}])

    ticket = make_ticket(team=team)

    assert (ticket.priority, ticket.tags) == ("urgent", ["was-normal"])


def test_a_rule_refused_half_way_leaves_nothing_for_the_next_rules(team):
    broken = make_rule(position=1, actions=[{"type": "set_priority", "value": "urgent"},
                                            {"type": "set_status", "value": "closed"}])
    make_rule(position=2, all=[cond("ticket.priority", "is", "urgent")], actions=[{"type": "add_tags", "value": ["x"]}])

    ticket = make_ticket(team=team)

    ticket.refresh_from_db()
    assert (ticket.priority, ticket.status, ticket.tags) == ("normal", "new", [])
    assert RuleRun.objects.get(rule=broken).outcome == "failed"


def test_message_text_of_a_new_ticket_is_its_description(team):
    make_rule(all=[cond("message.text", "matches", r"\border \d{6}\b")],
              actions=[{"type": "add_tags", "value": ["has-order"]}])

    assert make_ticket(team=team, subject="Where is it?", body="Hi, order 123456 is late").tags == ["has-order"]
    assert make_ticket(team=team, subject="Order 123456", body="Hi, it is late").tags == []


def test_a_note_between_field_triggers_sees_their_changes_and_they_are_saved_once(team):
    make_rule(position=1, actions=[{"type": "add_tags", "value": ["vip"]}, {"type": "set_priority", "value": "urgent"}])
    make_rule(position=2, actions=[{"type": "add_note", "body": "Priority {{ ticket.priority }}"}])
    make_rule(position=3, all=[cond("ticket.tags", "includes_any", ["vip"])],
              actions=[{"type": "set_type", "value": "incident"}])

    ticket = make_ticket(team=team)

    ticket.refresh_from_db()
    assert (ticket.tags, ticket.priority, ticket.type) == (["vip"], "urgent", "incident")
    assert notes(ticket) == ["Priority Urgent"]
    assert Event.objects.filter(ticket=ticket, kind="priority_changed").count() == 1
    assert ticket.message_count == 2
