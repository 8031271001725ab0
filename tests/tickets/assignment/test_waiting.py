"""The waiting-tickets task: unassigned tickets of routed teams get an agent once one can take them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_team, make_ticket
from tests.tickets.assignment.conftest import agent_with, online, routed_team
from tickets.assignment import tasks
from tickets.assignment.services import tickets_assign_waiting
from tickets.models import RoutingStrategy, Status, Ticket
from tickets.services import ticket_update

pytestmark = pytest.mark.django_db


def test_waiting_tickets_go_to_an_agent_who_comes_online_oldest_first_within_capacity():
    team = routed_team(RoutingStrategy.LOAD_BALANCED)
    agent = agent_with(team, capacity=2, is_online=False)
    tickets = [make_ticket(team=team) for _ in range(3)]
    # Created in this order, but the last one has waited longest.
    Ticket.objects.filter(pk=tickets[2].pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert Ticket.objects.filter(assignee__isnull=False).count() == 0

    online(agent)
    assert tasks.assignment_waiting_tickets.apply().get() == 2

    assigned = set(Ticket.objects.filter(assignee=agent).values_list("pk", flat=True))
    assert assigned == {tickets[2].pk, tickets[0].pk}
    assert tickets_assign_waiting() == 0  # still full


def test_the_task_leaves_manual_teams_solved_and_chat_waiting_tickets_alone():
    manual = make_team()
    agent_with(manual)
    manual_ticket = make_ticket(team=manual)
    team = routed_team(RoutingStrategy.ROUND_ROBIN)
    solved = make_ticket(team=team)
    ticket_update(ticket=solved, actor=None, status=Status.SOLVED)
    agent_with(team)

    assert tickets_assign_waiting() == 0
    assert Ticket.objects.get(pk=manual_ticket.pk).assignee is None
    assert Ticket.objects.get(pk=solved.pk).assignee is None


def test_the_task_runs_in_small_batches_until_capacity_is_used():
    team = routed_team(RoutingStrategy.ROUND_ROBIN)
    first = agent_with(team, capacity=3, is_online=False)
    second = agent_with(team, capacity=2, is_online=False)
    for _ in range(7):
        make_ticket(team=team)
    online(first)
    online(second)

    assert tickets_assign_waiting(batch_size=2) == 5

    assert Ticket.objects.filter(assignee=first).count() == 3
    assert Ticket.objects.filter(assignee=second).count() == 2
    assert Ticket.objects.filter(team=team, assignee__isnull=True).count() == 2


def test_beat_runs_the_task_every_minute():
    from helpdesk.celery import app

    schedule = app.conf.beat_schedule["assignment-waiting-tickets"]
    assert (schedule["task"], schedule["schedule"]) == ("tickets.assignment.tasks.assignment_waiting_tickets", 60.0)
    assert tasks.assignment_waiting_tickets.name == schedule["task"]
