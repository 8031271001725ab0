"""Every collaboration page and endpoint refuses those who may not work the ticket: another team's
agent gets 404 (the ticket's existence is not revealed), a customer 403, an anonymous visitor the
sign-in page (pages) or 401/403 (API); and nothing changes."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from helpdesk import realtime
from tests.realtime_helpers import events_during
from tests.tickets.api.conftest import token_client
from tests.tickets.collaboration.conftest import logged_in
from tickets.collaboration.services import follower_add, ticket_link
from tickets.models import Event, LinkKind, Message, Ticket, TicketFollower, TicketLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(ticket, problem, ada, bo):
    follower_add(ticket=ticket, user=bo, actor=bo)
    link = ticket_link(ticket=ticket, other=problem, kind=LinkKind.INCIDENT_OF, actor=ada)
    return link


def page_posts(ticket, problem, bo, link) -> list[tuple[str, dict]]:
    return [
        (f"/agent/tickets/{ticket.number}/follow/", {}),
        (f"/agent/tickets/{ticket.number}/unfollow/", {}),
        (f"/agent/tickets/{ticket.number}/followers/add/", {"user": bo.pk}),
        (f"/agent/tickets/{ticket.number}/followers/{bo.pk}/remove/", {}),
        (f"/agent/tickets/{ticket.number}/links/add/", {"number": problem.number, "kind": "related"}),
        (f"/agent/tickets/{ticket.number}/links/{link.pk}/remove/", {}),
        (f"/agent/tickets/{problem.number}/solve-incidents/", {"body": "Fixed"}),
        (f"/agent/tickets/{ticket.number}/split/", {"subject": "x", "messages": []}),
    ]


def api_calls(ticket, problem, bo, link) -> list[tuple[str, str, dict]]:
    base = f"/api/v1/tickets/{ticket.number}"
    return [
        ("get", f"{base}/followers/", {}),
        ("post", f"{base}/followers/", {}),
        ("delete", f"{base}/followers/{bo.pk}/", {}),
        ("get", f"{base}/links/", {}),
        ("post", f"{base}/links/", {"ticket": problem.number, "kind": "related"}),
        ("delete", f"{base}/links/{link.pk}/", {}),
        ("post", f"/api/v1/tickets/{problem.number}/solve-incidents/", {"body": "Fixed"}),
        ("post", f"{base}/split/", {"subject": "x", "messages": [1]}),
    ]


def state() -> tuple:
    return (list(TicketFollower.objects.values_list("ticket", "user")), list(TicketLink.objects.values_list("pk")),
            Ticket.objects.count(), Message.objects.count(), Event.objects.count(),
            list(Ticket.objects.order_by("pk").values_list("status", flat=True)))


def test_another_teams_agent_gets_404_on_every_page_and_endpoint(setup, ticket, problem, bo, bill):
    before = state()
    client = logged_in(bill)
    for path, data in page_posts(ticket, problem, bo, setup):
        assert client.post(path, data).status_code == 404, path
    for path in (f"/agent/tickets/{ticket.number}/collaboration/", f"/agent/tickets/{ticket.number}/split/"):
        assert client.get(path).status_code == 404, path
    api = token_client(bill)
    for method, path, data in api_calls(ticket, problem, bo, setup):
        assert getattr(api, method)(path, data, format="json").status_code == 404, path
    assert state() == before
    assert "Printer" not in client.get("/agent/following/").content.decode()


def test_a_customer_is_refused_on_every_page_and_endpoint(setup, ticket, problem, bo, alice):
    before = state()
    client = logged_in(alice.user)
    for path, data in page_posts(ticket, problem, bo, setup):
        assert client.post(path, data).status_code == 403, path
    api = token_client(alice.user)
    for method, path, data in api_calls(ticket, problem, bo, setup):
        assert getattr(api, method)(path, data, format="json").status_code == 403, path
    assert state() == before


def test_anonymous_visitors_are_refused_on_every_page_and_endpoint(setup, ticket, problem, bo):
    before = state()
    for path, data in page_posts(ticket, problem, bo, setup):
        response = Client().post(path, data)
        assert response.status_code == 302 and "/login" in response["Location"], path
    for method, path, data in api_calls(ticket, problem, bo, setup):
        assert getattr(APIClient(), method)(path, data, format="json").status_code in (401, 403), path
    assert state() == before


def test_a_plain_agent_cannot_remove_a_colleague_as_follower_through_the_api(setup, ticket, ada, bo):
    response = token_client(ada).delete(f"/api/v1/tickets/{ticket.number}/followers/{bo.pk}/")

    assert response.status_code == 403
    assert TicketFollower.objects.filter(ticket=ticket, user=bo).exists()


def test_followers_api_lists_and_adds(setup, ticket, ada, bo, lena):
    assert token_client(ada).get(f"/api/v1/tickets/{ticket.number}/followers/").json() == [
        {"id": bo.pk, "name": "Bo Agent"}]

    response = token_client(lena).post(f"/api/v1/tickets/{ticket.number}/followers/", {"user": ada.pk}, format="json")

    assert response.status_code == 201
    assert [row["id"] for row in response.json()] == [ada.pk, bo.pk]
    assert token_client(ada).post(f"/api/v1/tickets/{ticket.number}/followers/", {"user": lena.pk},
                                  format="json").status_code == 403


def test_the_panel_reads_in_a_few_queries(setup, ticket, ada, django_assert_max_num_queries):
    client = logged_in(ada)
    client.get(f"/agent/tickets/{ticket.number}/collaboration/")  # session and caches warm

    with django_assert_max_num_queries(12):
        response = client.get(f"/agent/tickets/{ticket.number}/collaboration/")

    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_follower_and_link_changes_reach_the_tickets_viewers_without_the_customer(support, ticket, problem, ada):
    groups = [realtime.ticket_group(ticket.pk), realtime.customer_group(ticket.requester_id)]

    sent = events_during(groups, lambda: (follower_add(ticket=ticket, user=ada, actor=ada),
                                          ticket_link(ticket=ticket, other=problem, kind=LinkKind.RELATED, actor=ada)))

    changed = [event for event in sent if event["type"] == "ticket.collaboration_changed"]
    assert len(changed) == 2  # the ticket's group: once per change; the customer's: never
    assert all(event["ticket"]["number"] == ticket.number and event["changes"] == {} for event in changed)
