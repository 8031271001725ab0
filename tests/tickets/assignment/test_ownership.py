"""First-contact ownership: the first agent to reply owns the ticket while they are around."""

from __future__ import annotations

import pytest

from tests.factories import make_agent, make_team, make_ticket
from tests.tickets.assignment.conftest import agent_with, away, last_online_ago, online, routed_team
from tickets.models import Event, RoutingStrategy, Ticket
from tickets.services import ticket_add_note, ticket_reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def owning_team():
    return make_team(first_contact_ownership=True, ownership_away_minutes=60)


def customer_writes(ticket: Ticket) -> Ticket:
    ticket_reply(ticket=ticket, actor=None, author_customer=ticket.requester, body_text="Any news?")
    return Ticket.objects.get(pk=ticket.pk)


def test_the_first_agent_to_reply_becomes_the_assignee(owning_team):
    first, second = make_agent(owning_team), make_agent(owning_team)
    ticket = make_ticket(team=owning_team)

    ticket_reply(ticket=ticket, actor=first, body_text="Looking into it.")
    ticket_reply(ticket=ticket, actor=second, body_text="Me too.")

    ticket.refresh_from_db()
    assert ticket.assignee == first
    event = Event.objects.get(ticket=ticket, kind="assignee_changed")
    assert (event.via, event.actor_kind, event.to_value) == ("ownership", "system", first.pk)


def test_an_internal_note_does_not_make_an_owner(owning_team):
    agent = make_agent(owning_team)
    ticket = make_ticket(team=owning_team)

    ticket_add_note(ticket=ticket, actor=agent, body_text="Internal only.")

    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_without_ownership_a_reply_assigns_nobody():
    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)

    ticket_reply(ticket=ticket, actor=agent, body_text="Hello")

    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_the_owner_keeps_the_ticket_while_online_or_briefly_away(owning_team):
    owner = make_agent(owning_team)
    online(make_agent(owning_team))
    ticket = make_ticket(team=owning_team)
    ticket_reply(ticket=ticket, actor=owner, body_text="Mine.")

    online(owner)
    assert customer_writes(ticket).assignee == owner
    away(owner)
    last_online_ago(owner, minutes=30)
    assert customer_writes(ticket).assignee == owner


def test_the_owner_away_too_long_loses_the_ticket_to_an_online_colleague():
    team = routed_team(RoutingStrategy.LOAD_BALANCED, first_contact_ownership=True, ownership_away_minutes=60)
    owner = make_agent(team)
    ticket = make_ticket(team=team)  # nobody online: unassigned
    ticket_reply(ticket=ticket, actor=owner, body_text="Mine.")
    colleague = agent_with(team)
    away(owner)
    last_online_ago(owner, minutes=61)

    ticket = customer_writes(ticket)

    assert ticket.assignee == colleague
    event = Event.objects.filter(ticket=ticket, kind="assignee_changed").latest("id")
    assert (event.from_value, event.to_value, event.via) == (owner.pk, colleague.pk, "ownership")


def test_an_owner_offline_with_no_record_of_being_online_is_away_too_long(owning_team):
    owner = make_agent(owning_team)
    online(make_agent(owning_team))
    ticket = make_ticket(team=owning_team)
    ticket_reply(ticket=ticket, actor=owner, body_text="Mine.")

    # A manual team: nobody is picked, the ticket goes back to the team's unassigned queue.
    assert customer_writes(ticket).assignee is None


def test_the_owner_away_too_long_on_a_team_with_nobody_online_is_unassigned():
    team = routed_team(RoutingStrategy.ROUND_ROBIN, first_contact_ownership=True, ownership_away_minutes=5)
    owner = make_agent(team)
    ticket = make_ticket(team=team)
    ticket_reply(ticket=ticket, actor=owner, body_text="Mine.")
    last_online_ago(owner, minutes=6)

    assert customer_writes(ticket).assignee is None
