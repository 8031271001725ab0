"""The ticket page's routing card, the Escalate button, and the routing fields in the admin."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from tests.factories import make_agent, make_team, make_ticket, make_user
from tests.tickets.assignment.conftest import routed_team
from tickets.models import Event, Role, RoutingStrategy, Team, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def levels():
    level_two = routed_team(RoutingStrategy.SKILL_BASED, name="Second line")
    level_one = make_team(name="First line", escalates_to=level_two)
    return level_one, level_two


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_ticket_page_loads_the_routing_card(levels):
    level_one, _level_two = levels
    agent = make_agent(level_one)
    ticket = make_ticket(team=level_one)

    page = client_of(agent).get(reverse("agent:ticket", args=[ticket.number])).content.decode()

    assert f'hx-get="{reverse("assignment:ticket_assignment", args=[ticket.number])}"' in page


def test_the_card_shows_routing_level_and_the_escalate_button(levels):
    level_one, _level_two = levels
    agent = make_agent(level_one)
    ticket = make_ticket(team=level_one)

    card = client_of(agent).get(reverse("assignment:ticket_assignment", args=[ticket.number])).content.decode()

    assert "Manual only" in card and "Not escalated" in card
    assert f'action="{reverse("assignment:escalate", args=[ticket.number])}"' in card
    assert "Escalate to Second line" in card


def test_the_card_of_the_last_level_has_no_escalate_button(levels):
    _level_one, level_two = levels
    agent = make_agent(level_two)
    ticket = make_ticket(team=level_two)

    card = client_of(agent).get(reverse("assignment:ticket_assignment", args=[ticket.number])).content.decode()

    assert "Best skill match, then fewest open tickets" in card
    assert "None (the last level)" in card and "data-escalate-form" not in card


def test_escalate_button_moves_the_ticket_and_says_so(levels):
    level_one, level_two = levels
    agent = make_agent(level_one, level_two)
    ticket = make_ticket(team=level_one)
    client = client_of(agent)

    response = client.post(reverse("assignment:escalate", args=[ticket.number]))

    assert response.status_code == 302 and response.url == reverse("agent:ticket", args=[ticket.number])
    ticket.refresh_from_db()
    assert (ticket.team, ticket.escalation_level) == (level_two, 1)
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Ticket escalated to Second line (level 1)."]
    card = client.get(reverse("assignment:ticket_assignment", args=[ticket.number])).content.decode()
    assert 'data-escalation-level="1"' in card


def test_escalating_out_of_ones_teams_goes_back_to_the_queue(levels):
    level_one, _level_two = levels
    agent = make_agent(level_one)
    ticket = make_ticket(team=level_one)

    response = client_of(agent).post(reverse("assignment:escalate", args=[ticket.number]))

    assert response.url == reverse("agent:queue")


def test_escalating_the_last_level_shows_the_reason_and_changes_nothing(levels):
    _level_one, level_two = levels
    agent = make_agent(level_two)
    ticket = make_ticket(team=level_two)

    response = client_of(agent).post(reverse("assignment:escalate", args=[ticket.number]))

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "This ticket's team has no next escalation level: set one in the team's settings."
    ]
    assert not Event.objects.filter(ticket=ticket, kind="escalated").exists()


def test_an_agent_of_another_team_gets_404_and_nothing_changes(levels):
    level_one, level_two = levels
    outsider = make_agent(level_two)
    ticket = make_ticket(team=level_one)

    assert client_of(outsider).post(reverse("assignment:escalate", args=[ticket.number])).status_code == 404
    assert client_of(outsider).get(reverse("assignment:ticket_assignment", args=[ticket.number])).status_code == 404
    assert Ticket.objects.get(pk=ticket.pk).team == level_one


def test_a_customer_cannot_escalate_their_own_ticket(levels):
    level_one, _level_two = levels
    ticket = make_ticket(team=level_one)

    response = client_of(ticket.requester.user).post(reverse("assignment:escalate", args=[ticket.number]))

    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).escalation_level == 0


def test_escalate_is_post_only(levels):
    level_one, _level_two = levels
    agent = make_agent(level_one)
    ticket = make_ticket(team=level_one)

    assert client_of(agent).get(reverse("assignment:escalate", args=[ticket.number])).status_code == 405


def test_the_admin_edits_a_teams_routing_and_agents_skills():
    admin = make_user(role=Role.ADMIN, is_staff=True, is_superuser=True)
    team, next_team = make_team(name="Billing"), make_team(name="Finance")
    client = client_of(admin)

    response = client.post(reverse("admin:tickets_team_change", args=[team.pk]), {
        "name": "Billing", "slug": team.slug, "email_addresses": "", "is_customer_selectable": "on",
        "routing_strategy": RoutingStrategy.LOAD_BALANCED, "first_contact_ownership": "on",
        "ownership_away_minutes": "30", "escalates_to": str(next_team.pk),
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
    })

    assert response.status_code == 302, response.context["adminform"].form.errors
    team = Team.objects.get(pk=team.pk)
    assert (team.routing_strategy, team.first_contact_ownership, team.ownership_away_minutes, team.escalates_to) == (
        RoutingStrategy.LOAD_BALANCED, True, 30, next_team)
    agent = make_agent(team)
    page = client.get(reverse("admin:tickets_agentprofile_change", args=[agent.agent_profile.pk])).content.decode()
    assert 'name="skills"' in page and 'name="languages"' in page
