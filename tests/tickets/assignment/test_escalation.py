"""Escalation paths: one click (or a rule) moves a ticket to its team's next level."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from helpdesk import realtime
from tests.factories import make_agent, make_team, make_ticket, make_user
from tests.realtime_helpers import events_during
from tests.tickets.assignment.conftest import agent_with, routed_team
from tickets.assignment.services import ticket_escalate
from tickets.models import Event, Role, RoutingStrategy, Status, Ticket
from tickets.services import ticket_update
from tickets.views.agent.timeline import describe_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def levels():
    """L1 → L2 (round-robin) → engineering (manual, the last level)."""
    engineering = make_team(name="Engineering")
    level_two = routed_team(RoutingStrategy.ROUND_ROBIN, name="L2", escalates_to=engineering)
    level_one = make_team(name="L1", escalates_to=level_two)
    return level_one, level_two, engineering


def snapshot(ticket: Ticket) -> tuple:
    ticket = Ticket.objects.get(pk=ticket.pk)
    return ticket.team_id, ticket.escalation_level, ticket.assignee_id, ticket.events.count()


def test_escalating_moves_the_ticket_up_one_level_and_routes_it_there(levels):
    level_one, level_two, _engineering = levels
    l1_agent = make_agent(level_one)
    l2_agent = agent_with(level_two)
    ticket = make_ticket(team=level_one)
    ticket = ticket_update(ticket=ticket, actor=l1_agent, assignee=l1_agent)

    escalated = ticket_escalate(ticket=ticket, actor=l1_agent)

    assert (escalated.team, escalated.escalation_level, escalated.assignee) == (level_two, 1, l2_agent)
    event = Event.objects.get(ticket=ticket, kind="escalated")
    assert (event.actor_user, event.actor_kind, event.via) == (l1_agent, "agent", "web")
    assert event.to_value == {"from_team": level_one.pk, "from_team_name": "L1", "to_team": level_two.pk,
                              "to_team_name": "L2", "level": 1}
    assignments = list(Event.objects.filter(ticket=ticket, kind="assignee_changed").order_by("id")
                       .values_list("from_value", "to_value", "via"))
    assert assignments[-2:] == [(l1_agent.pk, None, "web"), (None, l2_agent.pk, "routing")]
    assert str(describe_event(event, {}, {})) == (
        f"<strong>{l1_agent.name}</strong> escalated the ticket from <strong>L1</strong> to <strong>L2</strong> (level 1)"
    )


def test_an_assignee_who_belongs_to_the_next_team_keeps_the_ticket(levels):
    level_one, level_two, _engineering = levels
    both = make_agent(level_one, level_two)
    agent_with(level_two)
    ticket = ticket_update(ticket=make_ticket(team=level_one), actor=both, assignee=both)

    escalated = ticket_escalate(ticket=ticket, actor=both)

    assert (escalated.team, escalated.assignee) == (level_two, both)


def test_the_last_level_cannot_be_escalated(levels):
    _level_one, _level_two, engineering = levels
    engineer = make_agent(engineering)
    ticket = make_ticket(team=engineering)
    before = snapshot(ticket)

    with pytest.raises(ValidationError) as raised:
        ticket_escalate(ticket=ticket, actor=engineer)

    assert raised.value.messages == ["This ticket's team has no next escalation level: set one in the team's settings."]
    assert snapshot(ticket) == before


def test_a_closed_ticket_cannot_be_escalated(levels):
    level_one = levels[0]
    agent = make_agent(level_one)
    ticket = make_ticket(team=level_one)
    ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    ticket_update(ticket=ticket, actor=agent, status=Status.CLOSED)
    before = snapshot(ticket)

    with pytest.raises(ValidationError):
        ticket_escalate(ticket=ticket, actor=agent)
    assert snapshot(ticket) == before


def test_an_agent_of_another_team_cannot_escalate(levels):
    level_one, level_two, _engineering = levels
    # Even one of the team the ticket would go to.
    outsider = make_agent(level_two)
    ticket = make_ticket(team=level_one)
    before = snapshot(ticket)

    with pytest.raises(PermissionDenied):
        ticket_escalate(ticket=ticket, actor=outsider)
    assert snapshot(ticket) == before


def test_a_customer_cannot_escalate_even_their_own_ticket(levels):
    level_one = levels[0]
    ticket = make_ticket(team=level_one)
    before = snapshot(ticket)

    with pytest.raises(PermissionDenied):
        ticket_escalate(ticket=ticket, actor=ticket.requester.user)
    assert snapshot(ticket) == before


def test_a_manager_outside_the_team_may_escalate(levels):
    level_one, level_two, _engineering = levels
    manager = make_user(role=Role.MANAGER)
    ticket = make_ticket(team=level_one)

    assert ticket_escalate(ticket=ticket, actor=manager).team == level_two


def test_a_rule_escalates_as_an_automation_twice_up_the_path(levels):
    level_one, _level_two, engineering = levels
    ticket = make_ticket(team=level_one)

    ticket_escalate(ticket=ticket, actor=None, via="rule:3")
    ticket = ticket_escalate(ticket=ticket, actor=None, via="rule:3")

    assert (ticket.team, ticket.escalation_level, ticket.assignee) == (engineering, 2, None)
    kinds = list(Event.objects.filter(ticket=ticket, kind="escalated").values_list("actor_kind", "via", "to_value__level"))
    assert kinds == [("automation", "rule:3", 1), ("automation", "rule:3", 2)]


@pytest.mark.django_db(transaction=True)
def test_escalation_tells_the_old_and_the_new_team_once_committed(levels):
    level_one, level_two, _engineering = levels
    agent = make_agent(level_one)
    ticket = make_ticket(team=level_one)

    old_team = events_during([realtime.team_group(level_one.pk)], lambda: ticket_escalate(ticket=ticket, actor=agent))
    new_team = events_during([realtime.team_group(level_two.pk)],
                             lambda: ticket_escalate(ticket=Ticket.objects.get(pk=ticket.pk), actor=None))

    assert [(event["type"], event["changes"]) for event in old_team] == [
        ("ticket.updated", {"escalation_level": 1, "team": level_two.pk}),
    ]
    # The second escalation (L2 → engineering) is heard by L2, the team it leaves.
    assert [event["changes"]["escalation_level"] for event in new_team] == [2]
