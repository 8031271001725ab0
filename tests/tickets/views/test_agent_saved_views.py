"""Saved views: personal views from the current filters, team views shared by leads, deletion rights."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_agent, make_team, make_ticket, make_user
from tickets.models import Role, SavedView, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def support():
    return make_team("Support", slug="support")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def save_view(client: Client, name: str, next_url: str, team=None):
    data = {"name": name, "next": next_url}
    if team is not None:
        data["team"] = str(team.pk)
    return client.post(reverse("agent:view_create"), data, follow=True)


def test_agent_saves_the_current_filters_as_a_personal_view(support):
    agent = make_agent(support)
    client = client_for(agent)
    make_ticket(team=support, priority="urgent", tags=["vip"])
    make_ticket(team=support)
    assert "Save current filters as view" in client.get("/agent/tickets/?priority=urgent").content.decode()
    response = save_view(client, "Urgent VIPs", "/agent/tickets/?priority=urgent&tag=vip&sort=-created&cursor=abc&evil=1")
    view = SavedView.objects.get()
    assert (view.owner_id, view.team_id, view.name) == (agent.pk, None, "Urgent VIPs")
    assert view.filters == {"priority": "urgent", "tag": "vip"}
    assert view.sort == "-created"
    html = response.content.decode()
    assert "View “Urgent VIPs” saved." in html
    assert re.search(rf'aria-current="page" data-view="saved-{view.pk}">.*?Urgent VIPs</span>', html, re.S)
    assert len(re.findall(r'<tr id="ticket-row-', html)) == 1
    counts = client.get(reverse("agent:views")).content.decode()
    assert re.search(rf'data-view="saved-{view.pk}">.*?Urgent VIPs</span><span class="count">1<', counts, re.S)


def test_a_view_without_filters_counts_every_visible_ticket(support):
    agent = make_agent(support)
    SavedView.objects.create(name="Everything", owner=agent, filters={}, sort="-updated")
    make_ticket(team=support)
    closed = make_ticket(team=support)
    Ticket.objects.filter(pk=closed.pk).update(status="closed")
    make_ticket(team=make_team("Elsewhere"))
    html = client_for(agent).get(reverse("agent:views")).content.decode()
    assert re.search(r'Everything</span><span class="count">2<', html)
    assert re.search(r'All open in my teams</span><span class="count">1<', html)


def test_saved_view_with_an_invalid_filter_is_refused(support):
    client = client_for(make_agent(support))
    response = save_view(client, "Broken", "/agent/tickets/?status=bogus")
    assert not SavedView.objects.exists()
    assert "status: unknown value" in response.content.decode()


def test_team_lead_shares_a_view_with_the_team_and_members_see_it(support):
    lead = make_user(role=Role.TEAM_LEAD, teams=[support], lead_of=[support])
    member = make_agent(support)
    outsider = make_agent(make_team("Other"))
    save_view(client_for(lead), "Team backlog", "/agent/tickets/?status=unsolved", team=support)
    view = SavedView.objects.get()
    assert (view.owner_id, view.team_id) == (None, support.pk)
    assert "Team backlog" in client_for(member).get("/agent/").content.decode()
    assert "Team backlog" not in client_for(outsider).get("/agent/").content.decode()
    # A member cannot delete the team's view; the lead can.
    assert client_for(member).post(reverse("agent:view_delete", args=[view.pk]), follow=True).status_code == 200
    assert SavedView.objects.filter(pk=view.pk).exists()
    client_for(lead).post(reverse("agent:view_delete", args=[view.pk]))
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_plain_agent_cannot_share_a_view_with_the_team(support):
    agent = make_agent(support)
    client = client_for(agent)
    assert "Share with" not in client.get("/agent/tickets/?status=open").content.decode()
    response = save_view(client, "Sneaky", "/agent/tickets/?status=open", team=support)
    assert "Select a valid choice" in response.content.decode() or "cannot share" in response.content.decode()
    assert not SavedView.objects.exists()


def test_agent_cannot_delete_someone_elses_personal_view(support):
    owner, other = make_agent(support), make_agent(support)
    save_view(client_for(owner), "Mine", "/agent/tickets/?status=open")
    view = SavedView.objects.get()
    assert client_for(other).post(reverse("agent:view_delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()
    client_for(owner).post(reverse("agent:view_delete", args=[view.pk]))
    assert not SavedView.objects.exists()


def test_the_delete_button_of_a_team_view_shows_for_its_lead_and_managers_only(support):
    lead = make_user(role=Role.TEAM_LEAD, teams=[support], lead_of=[support])
    member = make_agent(support)
    lead_elsewhere = make_user(role=Role.TEAM_LEAD, teams=[support, make_team("Other")], lead_of=[])
    manager = make_user(role=Role.MANAGER, teams=[support])
    save_view(client_for(lead), "Team backlog", "/agent/tickets/?status=unsolved", team=support)
    view = SavedView.objects.get()
    delete_url = reverse("agent:view_delete", args=[view.pk])
    for user, shown in ((lead, True), (member, False), (lead_elsewhere, False), (manager, True)):
        html = client_for(user).get(reverse("agent:views")).content.decode()
        assert "Team backlog" in html
        assert (delete_url in html) is shown, user.username
