"""Tickets created at the same instant never put an agent over capacity (a real race, own connections)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tests.factories import make_customer, make_ticket
from tests.tickets.assignment.conftest import agent_with, online, routed_team
from tickets.assignment.services import tickets_assign_waiting
from tickets.models import UNSOLVED_STATUSES, RoutingStrategy, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def create_in_parallel(team, count: int) -> list[BaseException]:
    """`count` tickets of `team` created at once, each by a thread with its own database connection."""
    requesters = [make_customer() for _ in range(count)]
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def work(requester):
        try:
            start.wait(10)
            make_ticket(team=team, requester=requester)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(requester,)) for requester in requesters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def open_loads(agents) -> dict[int, int]:
    return {agent.pk: Ticket.objects.filter(assignee=agent, status__in=UNSOLVED_STATUSES).count() for agent in agents}


@pytest.mark.parametrize("strategy", [RoutingStrategy.LOAD_BALANCED, RoutingStrategy.ROUND_ROBIN,
                                      RoutingStrategy.SKILL_BASED])
def test_parallel_ticket_creation_never_exceeds_any_agents_capacity(strategy):
    team = routed_team(strategy)
    agents = [agent_with(team, capacity=1), agent_with(team, capacity=2)]

    errors = create_in_parallel(team, THREADS)

    assert errors == []
    assert Ticket.objects.filter(team=team).count() == THREADS
    loads = open_loads(agents)
    assert loads[agents[0].pk] <= 1 and loads[agents[1].pk] <= 2
    # Everything beyond capacity stays unassigned; the task then fills exactly the room that is left
    # (a ticket that found an agent busy being routed to waited for it).
    tickets_assign_waiting()
    assert open_loads(agents) == {agents[0].pk: 1, agents[1].pk: 2}
    assert Ticket.objects.filter(team=team, assignee__isnull=True).count() == THREADS - 3


def test_parallel_creation_and_the_task_together_stay_within_capacity():
    team = routed_team(RoutingStrategy.LOAD_BALANCED)
    agents = [agent_with(team, capacity=2, is_online=False) for _ in range(2)]
    for _ in range(3):
        make_ticket(team=team)  # waiting: nobody online yet
    for agent in agents:
        online(agent)
    results: list[int] = []

    def sweep():
        try:
            results.append(tickets_assign_waiting())
        finally:
            connection.close()

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    errors = create_in_parallel(team, 4)
    sweeper.join(60)

    assert errors == []
    assert all(load <= 2 for load in open_loads(agents).values())
    tickets_assign_waiting()
    assert open_loads(agents) == {agents[0].pk: 2, agents[1].pk: 2}
    assert Ticket.objects.filter(team=team, assignee__isnull=True).count() == 3
