"""The demo's metrics history (tickets.demo.history): what `make run`'s manager dashboard shows.

The facts computed over it have every metric of PRODUCT.md, the copied tickets' SLA timers are the
ones the SLA services keep, and it is written once.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command
from django.utils import timezone

from metrics.models import SurveyResponse, TicketFact
from tests.tickets.test_seed_demo import _snapshot, assert_histories_consistent
from tickets.demo.base import catalog, ensure_base_data
from tickets.demo.bulk import load_plans, reserve_numbers
from tickets.demo.history import (
    MERGE,
    ensure_portal_customers,
    plan_history,
    seed_metrics_history,
    split_plans,
    write_with_copy,
)
from tickets.demo.plan import CUSTOMER, PRIORITY, REPLY, STATUS
from tickets.demo.replay import replay
from tickets.demo.sla_history import Policies
from tickets.models import Customer, Event, SlaTimer, Ticket

pytestmark = pytest.mark.django_db

NOW = timezone.now().timestamp()


@pytest.fixture
def history():
    ensure_base_data(tickets=0)
    return seed_metrics_history(days=30, tickets=400, now=NOW)


def test_history_facts_have_every_metric(history):
    assert history.tickets >= 400 and not history.skipped
    facts = TicketFact.objects.exclude(is_merged=True)
    solved = facts.filter(first_solved_at__isnull=False)
    assert facts.count() == Ticket.objects.filter(merged_into__isnull=True).count()
    assert solved.count() > 300
    assert facts.filter(frt_seconds__gt=0, frt_business_seconds__isnull=False).count() > 300
    assert solved.filter(resolution_seconds__gt=0).count() == solved.count()
    fcr = solved.filter(is_fcr=True).count() / solved.count()
    reopened = solved.filter(reopen_count__gt=0).count() / solved.count()
    assert 0.2 < fcr < 0.8 and 0.03 < reopened < 0.3
    assert solved.filter(reopen_count__gte=2).exists()
    assert solved.filter(solved_by_customer=True).exists()
    # Never answered: still new, and solved without a public reply.
    assert facts.filter(first_public_agent_reply_at__isnull=True, first_solved_at__isnull=True).exists()
    assert solved.filter(first_public_agent_reply_at__isnull=True).exists()
    assert TicketFact.objects.filter(is_merged=True).count() == history.merged > 0
    targets = Counter(target["met"] for fact in facts for target in fact.sla_targets)
    assert targets[True] > targets[False] > 0
    assert {"web", "email", "chat", "phone", "api"} == set(facts.values_list("channel", flat=True))
    assert {"low", "normal", "high", "urgent"} == set(facts.values_list("priority", flat=True))
    assert len(set(facts.values_list("team_id", flat=True))) == 3
    assert len(set(facts.values_list("agent_id", flat=True)) - {None}) >= 8
    assert len(set(facts.values_list("organization_id", flat=True)) - {None}) >= 5
    # A backlog of every age: new and waiting tickets from today to weeks ago.
    now = timezone.now()
    open_tickets = Ticket.objects.exclude(status__in=["solved", "closed"])
    ages = [(now - created).days for created in open_tickets.values_list("created_at", flat=True)]
    assert min(ages) < 1 and max(ages) > 14
    assert {"new", "pending"} <= set(open_tickets.values_list("status", flat=True))


def test_history_has_survey_answers_of_every_kind(history):
    answers = SurveyResponse.objects.all()
    kinds = Counter(answers.values_list("kind", flat=True))
    assert kinds["csat"] > 50 and kinds["ces"] > 20 and kinds["nps"] > 20
    csat = list(answers.filter(kind="csat").values_list("score", flat=True))
    assert 0.7 < sum(score >= 4 for score in csat) / len(csat) < 0.98 and min(csat) <= 2
    assert set(answers.filter(kind="nps").values_list("score", flat=True)) <= set(range(11))
    assert set(answers.filter(kind="ces").values_list("score", flat=True)) <= set(range(1, 8))
    assert answers.filter(ticket__isnull=True).exists()
    # The ticket's dimensions are copied onto the answer.
    answer = answers.filter(kind="csat", ticket__isnull=False).select_related("ticket").first()
    assert (answer.team_id, answer.channel) == (answer.ticket.team_id, answer.ticket.channel)
    assert all(at <= timezone.now() for at in answers.values_list("responded_at", flat=True))


def test_history_is_written_once_with_consistent_tickets(history):
    tickets, answers = Ticket.objects.count(), SurveyResponse.objects.count()

    again = seed_metrics_history(days=30, tickets=400, now=NOW)

    assert again.skipped
    assert (Ticket.objects.count(), SurveyResponse.objects.count()) == (tickets, answers)
    # Merged duplicates gave their messages away: the others tell a whole story.
    merged = list(Ticket.objects.filter(merged_into__isnull=False).values_list("pk", flat=True))
    targets = list(Ticket.objects.filter(merged_tickets__isnull=False).values_list("pk", flat=True))
    Ticket.objects.filter(pk__in=merged + targets).delete()
    assert_histories_consistent()


def _timers(numbers: list[int]) -> list[list[tuple]]:
    rows = []
    for ticket in Ticket.objects.filter(number__in=numbers).order_by("created_at"):
        timers = []
        for timer in ticket.sla_timers.order_by("metric", "started_at", "id"):
            pauses = [(p.started_at, p.ended_at, p.status, p.paused_seconds)
                      for p in timer.pauses.order_by("started_at", "id")]
            timers.append((timer.metric, timer.policy_id, timer.target_minutes, timer.is_business_hours, timer.state,
                           timer.is_current, timer.started_at, timer.paused_at, timer.paused_seconds, timer.due_at,
                           timer.warning_at, timer.met_at, timer.breached_at, pauses))
        rows.append([ticket.sla_due_at, *timers])
    return rows


def test_copied_tickets_get_the_timers_events_and_rows_the_services_write():
    ensure_base_data(tickets=0)
    ensure_portal_customers(catalog(tickets=300, now=NOW).customers, 12)
    demo = catalog(tickets=300, now=NOW)
    portal = [customer for customer in demo.customers if customer.user_id]
    policies = Policies()
    tiers = dict(Customer.objects.values_list("pk", "tier"))
    plans = plan_history(demo, days=20, tickets=800, seed=5, portal_customers=portal, policies=policies, tiers=tiers)
    _services, copied = split_plans(plans, policies)
    raised = [plan for plan in copied if any(op[0] == PRIORITY for op in plan.ops)]
    copied = [plan for plan in copied if plan not in raised][:75] + raised[:15]
    # A raised priority moves a ticket to another target, or to the 24/7 policy of urgent tickets.
    assert {op[3] for plan in raised for op in plan.ops if op[0] == PRIORITY} == {"high", "urgent"}
    # Pauses (pending, on hold), reopens, next responses, solves by the customer and without a
    # reply are in the comparison.
    assert any(op[0] == REPLY and op[4] in ("pending", "on_hold") for plan in copied for op in plan.ops)
    assert any(op[0] == STATUS and op[2] == plan.requester_user_id for plan in copied for op in plan.ops)
    assert any(not any(op[0] == REPLY for op in plan.ops) and any(op[0] == STATUS for op in plan.ops)
               for plan in copied)
    assert any(op[0] == CUSTOMER and plan.ops[i - 1][0] == REPLY and plan.ops[i - 1][4] == "solved"
               for plan in copied for i, op in enumerate(plan.ops))

    replay(copied, sla_timers=True)
    numbers = list(Ticket.objects.values_list("number", flat=True))
    through_services = _timers(numbers)
    services_rows = _snapshot(numbers)
    assert Event.objects.filter(kind="sla_met", to_value__breached=True).exists()
    assert SlaTimer.objects.filter(state="met", breached_at__isnull=False).exists()
    assert SlaTimer.objects.filter(metric="next_response").exists()
    Ticket.objects.filter(number__in=numbers).delete()

    write_with_copy(copied, policies)
    copied_numbers = list(Ticket.objects.values_list("number", flat=True))
    through_copy = _timers(copied_numbers)

    assert len(through_copy) == len(through_services) == len(copied) > 80
    for services_ticket, copy_ticket in zip(through_services, through_copy, strict=True):
        assert copy_ticket == services_ticket
    # The tickets, their messages and every event (the SLA's included) are the same too.
    for services_ticket, copy_ticket in zip(services_rows, _snapshot(copied_numbers), strict=True):
        assert copy_ticket == services_ticket


def test_customer_solving_is_copied_as_the_services_write_it():
    ensure_base_data(tickets=0)
    demo = catalog(tickets=300, now=NOW)
    ensure_portal_customers(demo.customers, 12)
    demo = catalog(tickets=300, now=NOW)
    portal = [customer for customer in demo.customers if customer.user_id]
    plans = plan_history(demo, days=20, tickets=300, seed=2, portal_customers=portal, policies=Policies(),
                         tiers={})
    solved_by_customer = [plan for plan in plans if plan.requester_user_id and any(
        op[0] == STATUS and op[2] == plan.requester_user_id for op in plan.ops)][:10]
    assert solved_by_customer

    replay(solved_by_customer)
    numbers = list(Ticket.objects.values_list("number", flat=True))
    through_services = _snapshot(numbers)
    assert Event.objects.filter(kind="status_changed", actor_kind="customer").exists()
    Ticket.objects.filter(number__in=numbers).delete()
    load_plans(solved_by_customer, reserve_numbers(len(solved_by_customer)), skip_constraint_checks=False)

    assert _snapshot(list(Ticket.objects.values_list("number", flat=True))) == through_services


def test_duplicates_are_merged_while_their_ticket_is_open():
    ensure_base_data(tickets=0)
    demo = catalog(tickets=600, now=NOW)
    plans = plan_history(demo, days=30, tickets=600, seed=0, portal_customers=[], policies=Policies(), tiers={})
    merges = [(plan, op) for plan in plans for op in plan.ops if op[0] == MERGE]
    assert merges
    for duplicate, op in merges:
        target = plans[op[3]]
        assert target.requester_id == duplicate.requester_id and target.created_at < duplicate.created_at
        first_solve = next(o[1] for o in target.ops if (o[0] == STATUS and o[3] == "solved") or (
            o[0] == REPLY and o[4] == "solved"))
        assert duplicate.created_at < op[1] < first_solve


def test_seed_demo_writes_the_history_only_when_asked_or_by_default(capsys):
    call_command("seed_demo", tickets=5)
    assert Ticket.objects.count() == 5 and not TicketFact.objects.exists()

    call_command("seed_demo", tickets=5, history_days=5, history_tickets=40)
    output = capsys.readouterr().out
    assert "Metrics history: 4" in output and "survey answers" in output
    assert Ticket.objects.count() >= 45
    assert TicketFact.objects.count() == Ticket.objects.count()

    call_command("seed_demo", tickets=5, history_days=5, history_tickets=40)
    assert "Metrics history present; nothing to add." in capsys.readouterr().out
