"""Routing new tickets by their team's strategy: round-robin, load-balanced, skill-based, manual."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from tests.factories import make_agent, make_customer, make_team, make_ticket
from tests.tickets.assignment.conftest import agent_with, away, online, routed_team
from tickets.assignment.services import ticket_assign_by_routing, ticket_needs
from tickets.models import (
    UNSOLVED_STATUSES,
    AgentProfile,
    Event,
    RoutingStrategy,
    Status,
    TeamRoutingState,
    Ticket,
)
from tickets.services import ticket_update

pytestmark = pytest.mark.django_db


def assignees(tickets: list[Ticket]) -> list[int | None]:
    return [Ticket.objects.get(pk=ticket.pk).assignee_id for ticket in tickets]


# ------------------------------------------------------------------------------ round-robin


def test_round_robin_takes_turns_among_online_agents(round_robin_team):
    first, second, third = (agent_with(round_robin_team) for _ in range(3))

    tickets = [make_ticket(team=round_robin_team) for _ in range(4)]

    assert assignees(tickets) == [first.pk, second.pk, third.pk, first.pk]
    assert TeamRoutingState.objects.get(team=round_robin_team).last_assigned_user == first


def test_new_ticket_is_returned_assigned_and_open_with_a_system_event(round_robin_team):
    agent = agent_with(round_robin_team)

    ticket = make_ticket(team=round_robin_team)

    # The service's caller gets the ticket as routing left it, without re-reading it.
    assert (ticket.assignee_id, ticket.status) == (agent.pk, Status.OPEN)
    event = Event.objects.get(ticket=ticket, kind="assignee_changed")
    assert (event.actor_kind, event.actor_user, event.via, event.to_value) == ("system", None, "routing", agent.pk)


def test_away_and_offline_agents_are_skipped(round_robin_team):
    away(agent_with(round_robin_team))
    agent_with(round_robin_team, is_online=False)
    available = agent_with(round_robin_team)

    tickets = [make_ticket(team=round_robin_team) for _ in range(2)]

    assert assignees(tickets) == [available.pk, available.pk]


def test_nobody_online_leaves_the_ticket_unassigned_and_new(round_robin_team):
    agent_with(round_robin_team, is_online=False)

    ticket = make_ticket(team=round_robin_team)

    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status) == (None, Status.NEW)
    assert not Event.objects.filter(ticket=ticket, kind="assignee_changed").exists()


def test_round_robin_skips_an_agent_at_capacity(round_robin_team):
    full = agent_with(round_robin_team, capacity=1)
    other = agent_with(round_robin_team)

    tickets = [make_ticket(team=round_robin_team) for _ in range(3)]

    assert assignees(tickets) == [full.pk, other.pk, other.pk]


def test_inactive_members_and_customers_are_never_picked(round_robin_team):
    inactive = agent_with(round_robin_team)
    inactive.is_active = False
    inactive.save()
    agent = agent_with(round_robin_team)

    assert assignees([make_ticket(team=round_robin_team) for _ in range(2)]) == [agent.pk, agent.pk]


# ------------------------------------------------------------------------------ load-balanced


def test_load_balanced_gives_the_ticket_to_the_agent_with_fewest_open_tickets():
    team = routed_team(RoutingStrategy.LOAD_BALANCED)
    busy, idle = agent_with(team), agent_with(team)
    for _ in range(2):
        ticket_update(ticket=make_ticket(team=make_team()), actor=None, team=team, assignee=busy)
    # Solved tickets are not load.
    solved = make_ticket(team=team)
    ticket_update(ticket=solved, actor=None, assignee=idle, status=Status.SOLVED)

    tickets = [make_ticket(team=team) for _ in range(3)]

    # idle (0) → idle (1) → tie at 2 broken by id: busy first.
    assert assignees(tickets) == [idle.pk, idle.pk, busy.pk]


def test_load_balanced_respects_capacity_and_leaves_the_rest_waiting():
    team = routed_team(RoutingStrategy.LOAD_BALANCED)
    first, second = agent_with(team, capacity=1), agent_with(team, capacity=2)

    tickets = [make_ticket(team=team) for _ in range(4)]

    assert sorted(assignees(tickets)[:3]) == sorted([first.pk, second.pk, second.pk])
    assert assignees(tickets)[3] is None
    for agent, capacity in ((first, 1), (second, 2)):
        assert Ticket.objects.filter(assignee=agent, status__in=UNSOLVED_STATUSES).count() == capacity


def test_a_member_without_a_profile_gets_the_default_capacity_and_a_profile():
    team = routed_team(RoutingStrategy.LOAD_BALANCED)
    agent = online(make_agent(team))
    AgentProfile.objects.filter(user=agent).delete()

    ticket = make_ticket(team=team)

    assert ticket.assignee_id == agent.pk
    assert AgentProfile.objects.get(user=agent).capacity == 25


# ------------------------------------------------------------------------------ skill-based


def test_skill_based_prefers_the_best_match_of_tags_custom_fields_and_language():
    team = routed_team(RoutingStrategy.SKILL_BASED)
    generalist = agent_with(team, skills=["printers"])
    specialist = agent_with(team, skills=["Printers", "plan:enterprise"], languages=["de"])
    speaker = agent_with(team, languages=["de-AT"])
    requester = make_customer()
    requester.language = "de-CH"
    requester.save()

    printers = make_ticket(team=team, tags=["printers"])
    german = make_ticket(team=team, requester=requester)
    both = make_ticket(team=team, requester=requester, tags=["printers", "unknown-need"])

    assert printers.assignee_id in {generalist.pk, specialist.pk}  # both match one need; load decides
    assert german.assignee_id in {specialist.pk, speaker.pk}
    assert both.assignee_id == specialist.pk  # printers + language


def test_skill_based_ignores_needs_nobody_in_the_team_offers_and_falls_back_to_load():
    team = routed_team(RoutingStrategy.SKILL_BASED)
    loaded, free = agent_with(team, skills=["billing"]), agent_with(team, skills=["billing"])
    ticket_update(ticket=make_ticket(team=team), actor=None, assignee=loaded)

    ticket = make_ticket(team=team, tags=["quantum-physics"])

    assert ticket.assignee_id == free.pk


def test_skill_based_goes_to_a_weaker_match_when_the_best_is_full():
    team = routed_team(RoutingStrategy.SKILL_BASED)
    expert = agent_with(team, skills=["vpn"], capacity=1)
    novice = agent_with(team)

    tickets = [make_ticket(team=team, tags=["vpn"]) for _ in range(2)]

    assert assignees(tickets) == [expert.pk, novice.pk]


def test_ticket_needs_are_lowercased_tags_custom_fields_and_language():
    requester = make_customer()
    requester.language = "pt_BR"
    requester.save()
    ticket = Ticket(tags=["VPN"], custom_fields={"plan": "Gold", "vip": True, "note": ""}, requester=requester)

    assert ticket_needs(ticket) == {"vpn", "plan:gold", "vip:true", "language:pt"}


# ------------------------------------------------------------------------------ when routing runs


def test_a_manual_team_is_left_alone():
    team = make_team()
    agent_with(team)

    ticket = make_ticket(team=team)

    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert not TeamRoutingState.objects.exists()


def test_a_ticket_moved_to_a_routed_team_is_routed_there(round_robin_team):
    agent = agent_with(round_robin_team)
    ticket = make_ticket(team=make_team())

    ticket = ticket_update(ticket=ticket, actor=None, team=round_robin_team)

    assert ticket.assignee_id == agent.pk


def test_a_ticket_that_becomes_unassigned_goes_to_someone_else(round_robin_team):
    first, second = agent_with(round_robin_team), agent_with(round_robin_team)
    ticket = make_ticket(team=round_robin_team)
    assert ticket.assignee_id == first.pk

    ticket = ticket_update(ticket=ticket, actor=first, assignee=None)

    assert ticket.assignee_id == second.pk


def test_an_assignee_chosen_at_creation_is_kept(round_robin_team):
    agent_with(round_robin_team)
    chosen = agent_with(round_robin_team)

    ticket = make_ticket(team=round_robin_team, assignee=chosen)

    assert Ticket.objects.get(pk=ticket.pk).assignee_id == chosen.pk


def test_ordinary_updates_do_not_route(round_robin_team):
    ticket = make_ticket(team=round_robin_team)  # nobody online: waits
    agent = agent_with(round_robin_team)

    ticket_update(ticket=ticket, actor=agent, priority="high")

    assert Ticket.objects.get(pk=ticket.pk).assignee is None


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_a_routing_failure_never_fails_the_ticket_creation(round_robin_team, caplog):
    agent_with_profile = make_agent(round_robin_team)  # presence cannot be read: Redis is down

    with caplog.at_level(logging.ERROR, logger="tickets.assignment.services"):
        ticket = make_ticket(team=round_robin_team)

    ticket.refresh_from_db()
    assert ticket.pk and ticket.assignee is None and ticket.messages.count() == 1
    assert agent_with_profile.assigned_tickets.count() == 0
    assert "assignment routing failed" in caplog.text


# ------------------------------------------------------------------------------ the rules' action


def test_assign_by_routing_assigns_now_and_returns_the_agent(round_robin_team):
    ticket = make_ticket(team=round_robin_team)  # nobody online yet
    agent = agent_with(round_robin_team)

    assert ticket_assign_by_routing(ticket=ticket, via="rule:7") == agent

    ticket.refresh_from_db()
    assert ticket.assignee == agent
    event = Event.objects.get(ticket=ticket, kind="assignee_changed")
    assert (event.actor_kind, event.via) == ("automation", "rule:7")


def test_assign_by_routing_returns_none_for_a_manual_team_or_nobody_online(round_robin_team):
    agent_with(make_team())
    assert ticket_assign_by_routing(ticket=make_ticket(team=make_team())) is None
    assert ticket_assign_by_routing(ticket=make_ticket(team=round_robin_team)) is None


# ------------------------------------------------------------------------------ live chat


def test_a_chat_ticket_is_left_to_live_chat_routing_until_its_chat_ends(round_robin_team):
    from channels_intake.chat.models import ChatState
    from tests.channels_intake.chat.chat_factories import make_widget, start_chat
    from tickets.assignment.services import tickets_assign_waiting

    agent = agent_with(round_robin_team)
    chat = start_chat(make_widget(round_robin_team))

    assert Ticket.objects.get(pk=chat.ticket_id).assignee is None  # the chat is offered to the agent instead
    assert tickets_assign_waiting() == 0
    chat.state = ChatState.ENDED
    chat.save(update_fields=["state"])
    assert tickets_assign_waiting() == 1
    assert Ticket.objects.get(pk=chat.ticket_id).assignee == agent
