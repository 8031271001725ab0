"""Time-based automations: the issue's examples, once per ticket per occurrence, bounded work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.celery import app
from tests.factories import make_ticket
from tests.tickets.rules.conftest import cond, make_rule
from tickets.models import AuthorKind, Message, RuleKind, RuleRun, Status, Ticket, Visibility
from tickets.rules.automations import automations_run
from tickets.rules.engine import rule_preview
from tickets.services import ticket_reply, ticket_update

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def reminders(ticket: Ticket) -> list[str]:
    return list(Message.objects.filter(ticket=ticket, author_kind=AuthorKind.SYSTEM, visibility=Visibility.PUBLIC)
                .order_by("id").values_list("body_text", flat=True))


def days_ago(ticket: Ticket, days: float, *, column: str = "status_changed_at") -> None:
    Ticket.objects.filter(pk=ticket.pk).update(**{column: timezone.now() - days * DAY})


@pytest.fixture
def pending_reminder(db):
    return make_rule(kind=RuleKind.AUTOMATION, name="Pending reminder",
                     all=[cond("ticket.status", "is", "pending"), cond("hours_since.status_changed", "gt", 72)],
                     actions=[{"type": "email_requester", "subject": "Still need help?",
                               "body": "Hi {{ requester.first_name }}, we are waiting for your answer."}])


@pytest.fixture
def close_solved(db):
    return make_rule(kind=RuleKind.AUTOMATION, name="Close solved",
                     all=[cond("ticket.status", "is", "solved"), cond("hours_since.solved", "gt", 96)],
                     actions=[{"type": "set_status", "value": "closed"}])


def test_pending_for_three_days_reminds_the_requester_once(team, agent, pending_reminder):
    ticket = make_ticket(team=team)
    ticket_reply(ticket=ticket, actor=agent, body_text="Could you send a screenshot?", status="pending")
    days_ago(ticket, 2)
    assert automations_run() == 0  # not yet

    days_ago(ticket, 3.5)
    assert automations_run() == 1
    assert reminders(ticket) == [f"Hi {ticket.requester.name.split()[0]}, we are waiting for your answer."]

    # Running again (or the next hour) changes nothing: once per occurrence.
    assert automations_run() == 0
    assert automations_run(now=timezone.now() + 2 * DAY) == 0
    assert len(reminders(ticket)) == 1
    run = RuleRun.objects.get(rule=pending_reminder, ticket=ticket)
    ticket.refresh_from_db()
    assert (run.outcome, run.event, run.anchor) == ("applied", "schedule", ticket.status_changed_at)


def test_a_new_occurrence_fires_again(team, agent, pending_reminder):
    ticket = make_ticket(team=team)
    ticket_reply(ticket=ticket, actor=agent, body_text="Screenshot?", status="pending")
    days_ago(ticket, 4)
    automations_run()

    ticket_reply(ticket=ticket, actor=None, author_customer=ticket.requester, body_text="Here")  # reopens
    ticket_reply(ticket=ticket, actor=agent, body_text="And the log?", status="pending")
    assert automations_run() == 0
    days_ago(ticket, 4)
    assert automations_run() == 1

    assert len(reminders(ticket)) == 2
    assert RuleRun.objects.filter(rule=pending_reminder, ticket=ticket).values("anchor").distinct().count() == 2


def test_solved_for_four_days_closes_the_ticket(team, agent, close_solved):
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, status="solved")
    recent = make_ticket(team=team)
    ticket_update(ticket=recent, actor=agent, status="solved")
    days_ago(ticket, 5, column="solved_at")
    days_ago(recent, 3, column="solved_at")

    assert automations_run() == 1

    ticket.refresh_from_db()
    recent.refresh_from_db()
    assert (ticket.status, recent.status) == (Status.CLOSED, Status.SOLVED)
    assert ticket.events.filter(kind="status_changed", via=f"rule:{close_solved.pk}").exists()
    assert automations_run() == 0  # closed tickets are never candidates


def test_conditions_sql_cannot_decide_are_checked_on_each_candidate(team, agent):
    rule = make_rule(kind=RuleKind.AUTOMATION,
                     all=[cond("hours_since.created", "gt", 24), cond("ticket.subject", "contains", "refund")],
                     any=[cond("ticket.priority", "is", "high"), cond("ticket.tags", "includes_any", ["vip"])],
                     actions=[{"type": "add_tags", "value": ["old-refund"]}])
    matching = make_ticket(team=team, subject="Refund please", tags=["vip"])
    wrong_subject = make_ticket(team=team, subject="Hello", tags=["vip"])
    no_any = make_ticket(team=team, subject="Refund please")
    for ticket in (matching, wrong_subject, no_any):
        days_ago(ticket, 2, column="created_at")

    assert automations_run() == 1

    assert list(RuleRun.objects.filter(rule=rule).values_list("ticket", flat=True)) == [matching.pk]
    matching.refresh_from_db()
    assert matching.tags == ["vip", "old-refund"]


def test_an_occurrence_another_worker_fired_is_not_fired_again(team, agent, close_solved):
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, status="solved")
    days_ago(ticket, 5, column="solved_at")
    ticket.refresh_from_db()
    RuleRun.objects.create(rule=close_solved, ticket=ticket, event="schedule", outcome="applied",
                           anchor=ticket.solved_at)

    assert automations_run() == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED


def test_work_per_run_is_bounded_and_the_next_run_takes_the_rest(team, agent, close_solved):
    tickets = [make_ticket(team=team) for _ in range(3)]
    for ticket in tickets:
        ticket_update(ticket=ticket, actor=agent, status="solved")
        days_ago(ticket, 5, column="solved_at")

    assert automations_run(batch_size=1, max_tickets=2) == 2
    assert automations_run(batch_size=1, max_tickets=2) == 1
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("status", flat=True)) == {"closed"}


def test_a_failing_automation_is_logged_once_and_not_retried_every_run(team, agent):
    rule = make_rule(kind=RuleKind.AUTOMATION, all=[cond("ticket.status", "is", "open"),
                                                    cond("hours_since.status_changed", "gt", 1)],
                     actions=[{"type": "webhook", "webhook": "999999"}])
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, status="open")
    days_ago(ticket, 1)

    automations_run()
    automations_run()

    assert list(RuleRun.objects.filter(rule=rule).values_list("outcome", flat=True)) == ["failed"]


def test_the_beat_task_runs_automations(team, agent, close_solved):
    from tickets.rules import tasks

    assert tasks.automations_run.name == "tickets.rules.tasks.automations_run"
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, status="solved")
    days_ago(ticket, 5, column="solved_at")

    assert app.tasks["tickets.rules.tasks.automations_run"].apply().get() == 1


def test_preview_of_an_automation_says_when_it_already_ran(team, agent, close_solved):
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, status="solved")
    days_ago(ticket, 5, column="solved_at")
    ticket.refresh_from_db()
    kwargs = {"kind": RuleKind.AUTOMATION, "events": [], "conditions": close_solved.conditions,
              "actions": close_solved.actions, "ticket": ticket, "rule_id": close_solved.pk}

    before = rule_preview(**kwargs)
    assert before.matches and before.note == "" and before.actions == ["Set status: Closed"]
    RuleRun.objects.create(rule=close_solved, ticket=ticket, event="schedule", outcome="applied",
                           anchor=ticket.solved_at)
    assert "Already ran" in rule_preview(**kwargs).note
