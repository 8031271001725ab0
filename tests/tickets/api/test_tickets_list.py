"""GET /api/v1/tickets/: role scoping, filters, allowlisted sort, cursor pages, constant query count."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from tests.factories import make_agent, make_customer, make_organization, make_ticket
from tests.tickets.api.conftest import token_client
from tickets.models import CustomFieldDefinition, Ticket
from tickets.services import ticket_add_note, ticket_reply, ticket_update

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets/"


def numbers(response):
    return [row["number"] for row in response.json()["results"]]


def walk(client, url):
    seen = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        seen += numbers(response)
        url = response.json()["next"]
    return seen


def test_agent_lists_only_tickets_of_their_teams(as_agent, support, billing, alice, settings):
    settings.HELPDESK_DEFAULT_TEAM = ""  # keep the team-less ticket team-less
    ours = make_ticket(team=support, requester=alice)
    make_ticket(team=billing, requester=alice)
    make_ticket(team=None, requester=alice)

    response = as_agent.get(URL)

    assert response.status_code == 200
    assert numbers(response) == [ours.number]
    assert response.json()["next"] is None
    assert response.json()["previous"] is None


def test_manager_lists_every_ticket(as_manager, support, billing):
    tickets = [make_ticket(team=support), make_ticket(team=billing), make_ticket(team=None)]

    response = as_manager.get(URL)

    assert sorted(numbers(response)) == sorted(t.number for t in tickets)


def test_customer_lists_only_own_tickets(as_alice, alice, bob, support):
    own = make_ticket(requester=alice, team=support)
    make_ticket(requester=bob, team=support)

    assert numbers(as_alice.get(URL)) == [own.number]


def test_organization_contact_lists_the_organizations_tickets():
    acme = make_organization("Acme")
    lead = make_customer(organization=acme, sees_organization_tickets=True)
    colleague = make_customer(organization=acme)
    outsider = make_customer()
    colleagues_ticket = make_ticket(requester=colleague)
    make_ticket(requester=outsider)

    assert numbers(token_client(lead.user).get(URL)) == [colleagues_ticket.number]
    assert numbers(token_client(colleague.user).get(URL)) == [colleagues_ticket.number]


def test_ticket_json_has_the_documented_shape(as_agent, agent, support, alice):
    acme = make_organization("Acme")
    alice.organization = acme
    alice.save()
    ticket = make_ticket(requester=alice, team=support, subject="VPN down", tags=["vpn"])
    ticket_update(ticket=ticket, actor=agent, assignee=agent)

    row = as_agent.get(URL).json()["results"][0]

    assert set(row) == {
        "id", "number", "subject", "status", "priority", "type", "channel", "requester", "organization", "team",
        "assignee", "tags", "custom_fields", "created_at", "updated_at", "first_responded_at", "solved_at",
        "closed_at", "reopen_count", "message_count", "url", "sla",
    }
    assert row["number"] == ticket.number
    assert row["subject"] == "VPN down"
    assert row["status"] == "open"
    assert row["requester"] == {"id": alice.pk, "name": "Alice", "email": "alice@example.com"}
    assert row["organization"] == {"id": acme.pk, "name": "Acme"}
    assert row["team"] == {"id": support.pk, "name": "Support", "slug": "support"}
    assert row["assignee"] == {"id": agent.pk, "name": agent.name}
    assert row["tags"] == ["vpn"]
    assert row["sla"] == []
    assert row["message_count"] == 1
    assert row["first_responded_at"] is None
    assert row["created_at"].endswith("Z")
    assert row["url"] == f"http://testserver/agent/tickets/{ticket.number}/"


def test_customer_gets_only_customer_visible_custom_fields(as_alice, as_agent, alice, support):
    CustomFieldDefinition.objects.create(key="order", label="Order", field_type="text", is_customer_visible=True)
    CustomFieldDefinition.objects.create(key="churn_risk", label="Churn risk", field_type="text")
    make_ticket(requester=alice, team=support, custom_fields={"order": "A-1", "churn_risk": "high"})

    assert as_alice.get(URL).json()["results"][0]["custom_fields"] == {"order": "A-1"}
    assert as_agent.get(URL).json()["results"][0]["custom_fields"] == {"order": "A-1", "churn_risk": "high"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "pending"}, ["pending"]),
        ({"status": "unsolved"}, ["new", "pending", "urgent"]),
        ({"priority": "urgent"}, ["urgent"]),
        ({"tag": "vip"}, ["urgent"]),
        ({"channel": "email"}, ["pending"]),
        ({"type": "incident"}, ["urgent"]),
        ({"assignee": "none"}, ["new", "pending"]),
        ({"assignee": "me"}, ["urgent"]),
        ({"q": "printer"}, ["new"]),
        ({"q": "invoice"}, ["pending"]),
    ],
)
def test_filters(as_agent, agent, support, params, expected):
    by_name = {
        "new": make_ticket(team=support, subject="Printer jammed"),
        "pending": make_ticket(team=support, subject="Question", channel="email", body="Where is my invoice?"),
        "urgent": make_ticket(team=support, subject="Outage", priority="urgent", tags=["vip"], ticket_type="incident"),
    }
    ticket_update(ticket=by_name["pending"], actor=agent, status="pending")
    ticket_update(ticket=by_name["urgent"], actor=agent, assignee=agent)
    expected_numbers = sorted(by_name[name].number for name in expected)

    response = as_agent.get(URL, params)

    assert response.status_code == 200, response.content
    assert sorted(numbers(response)) == expected_numbers


def test_filter_by_team_id_and_updated_after(as_manager, support, billing):
    old = make_ticket(team=support)
    Ticket.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=3))
    recent = make_ticket(team=support)
    make_ticket(team=billing)
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")

    response = as_manager.get(URL, {"team": support.pk, "updated_after": since})

    assert numbers(response) == [recent.number]


def test_customer_search_does_not_match_internal_note_text(as_alice, alice, agent, support):
    ticket = make_ticket(requester=alice, team=support, subject="Login problem")
    ticket_add_note(ticket=ticket, actor=agent, body_text="customer is a flamingo enthusiast")

    assert numbers(as_alice.get(URL, {"q": "flamingo"})) == []
    assert numbers(token_client(agent).get(URL, {"q": "flamingo"})) == [ticket.number]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"priority": "extreme"}, "priority"),
        ({"team": "abc"}, "team"),
        ({"updated_after": "yesterday"}, "updated_after"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"page_size": "many"}, "page_size"),
        ({"sort": "password"}, "sort"),
        ({"sort": "requester__user__password"}, "sort"),
        ({"sort": "-requester__user__password"}, "sort"),
    ],
)
def test_bad_filters_and_sorts_are_400_with_the_error_body(as_agent, support, params, field):
    make_ticket(team=support)

    response = as_agent.get(URL, params)

    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid"
    assert body["error"]["message"]
    assert list(body["error"]["fields"]) == [field]


def test_sort_by_allowlisted_field(as_agent, support):
    tickets = [make_ticket(team=support, subject=s) for s in ["beta", "alpha", "gamma"]]

    response = as_agent.get(URL, {"sort": "subject"})

    assert numbers(response) == [tickets[1].number, tickets[0].number, tickets[2].number]


def test_cursor_pages_walk_every_ticket_once(as_agent, support):
    tickets = [make_ticket(team=support) for _ in range(7)]

    seen = walk(as_agent, f"{URL}?page_size=3")

    assert seen == sorted((t.number for t in tickets), reverse=True)


def test_previous_link_goes_back(as_agent, support):
    for _ in range(5):
        make_ticket(team=support)
    first = as_agent.get(URL, {"page_size": 2}).json()
    second = as_agent.get(first["next"]).json()

    back = as_agent.get(second["previous"]).json()

    assert [r["number"] for r in back["results"]] == [r["number"] for r in first["results"]]
    assert parse_qs(urlparse(first["next"]).query)["page_size"] == ["2"]


def test_pages_have_no_duplicates_or_skips_while_tickets_are_updated(as_agent, agent, support):
    tickets = [make_ticket(team=support) for _ in range(12)]
    touched: set[int] = set()
    seen: list[int] = []
    url = f"{URL}?page_size=4"
    walk_started = timezone.now().isoformat().replace("+00:00", "Z")
    page = 0
    while url:
        body = as_agent.get(url).json()
        seen += [r["number"] for r in body["results"]]
        # Between pages, someone replies to an already-seen ticket and to one not yet seen: both
        # jump to the top of the default "-updated" order.
        if page == 0:
            already_seen = next(t for t in tickets if t.number == seen[0])
            not_yet_seen = tickets[0]
            for ticket in (already_seen, not_yet_seen):
                ticket_reply(ticket=ticket, actor=agent, body_text="On it.")
                touched.add(ticket.number)
        url = body["next"]
        page += 1

    assert len(seen) == len(set(seen)), "no ticket is listed twice"
    untouched = {t.number for t in tickets} - touched
    assert untouched <= set(seen), "no unchanged ticket is skipped"
    # A client syncing with updated_after picks up what changed during the walk.
    assert set(numbers(as_agent.get(URL, {"updated_after": walk_started}))) == touched


def test_pages_in_a_stable_order_see_every_ticket_despite_updates(as_agent, agent, support):
    tickets = [make_ticket(team=support) for _ in range(9)]
    seen: list[int] = []
    url = f"{URL}?page_size=4&sort=number"
    while url:
        body = as_agent.get(url).json()
        seen += [r["number"] for r in body["results"]]
        for ticket in tickets:
            ticket_update(ticket=ticket, actor=agent, add_tags=[f"walk-{len(seen)}"])
        url = body["next"]

    assert seen == sorted(t.number for t in tickets)


def test_query_count_does_not_grow_with_page_size(as_agent, agent, support, django_assert_max_num_queries):
    acme = make_organization("Acme")
    for index in range(50):
        customer = make_customer(organization=acme if index % 2 else None)
        ticket = make_ticket(team=support, requester=customer, tags=["bulk"])
        if index % 3 == 0:
            ticket_update(ticket=ticket, actor=agent, assignee=agent)

    with django_assert_max_num_queries(8):
        response = as_agent.get(URL, {"page_size": 50})
    assert len(response.json()["results"]) == 50

    with django_assert_max_num_queries(8):
        response = as_agent.get(URL, {"page_size": 50, "q": "printer", "tag": "bulk", "sort": "-priority"})
    assert response.status_code == 200


def test_list_rows_equal_the_ticket_detail(as_agent, agent, support, alice):
    """The list loads only the columns it shows; every value must still be the one the detail shows."""
    acme = make_organization("Acme")
    alice.organization = acme
    alice.save()
    CustomFieldDefinition.objects.create(key="order", label="Order", field_type="text")
    plain = make_ticket(requester=alice, team=support, subject="VPN down", tags=["vpn", "urgent"])
    answered = make_ticket(team=support, subject="Printer")
    ticket_update(ticket=answered, actor=agent, assignee=agent, custom_fields={"order": "A-1"})
    ticket_reply(ticket=answered, actor=agent, body_text="Fixed.", status="solved")
    agent.display_name = "Ada L."
    agent.save()

    rows = as_agent.get(URL).json()["results"]

    assert [row["number"] for row in rows] == [answered.number, plain.number]
    for row in rows:
        assert row == as_agent.get(f"{URL}{row['number']}/").json()
    assert rows[0]["solved_at"] is not None and rows[0]["first_responded_at"] is not None
    assert rows[0]["assignee"] == {"id": agent.pk, "name": "Ada L."}
    assert rows[0]["custom_fields"] == {"order": "A-1"}


@pytest.mark.parametrize("sort", ["number", "subject", "requester", "-status", "priority", "team", "-assignee",
                                  "updated", "created"])
def test_every_sort_pages_with_a_constant_query_count(as_agent, agent, support, sort, django_assert_max_num_queries):
    acme = make_organization("Acme")
    tickets = [make_ticket(team=support, requester=make_customer(organization=acme if n % 2 else None))
               for n in range(5)]
    for ticket in tickets[:2]:
        ticket_update(ticket=ticket, actor=agent, assignee=agent)
    seen: list[int] = []
    url = f"{URL}?page_size=2&sort={sort}"
    while url:
        # Token, team memberships, one page of ticket rows (with requester, organization, team, assignee).
        with django_assert_max_num_queries(3):
            body = as_agent.get(url).json()
        seen += [row["number"] for row in body["results"]]
        url = body["next"]

    assert sorted(seen) == sorted(t.number for t in tickets)


def test_customer_list_query_count_is_constant(as_alice, alice, django_assert_max_num_queries):
    CustomFieldDefinition.objects.create(key="order", label="Order", field_type="text", is_customer_visible=True)
    for _ in range(30):
        make_ticket(requester=alice)

    with django_assert_max_num_queries(8):
        response = as_alice.get(URL, {"page_size": 30})
    assert len(response.json()["results"]) == 30


def test_anonymous_requests_are_refused(client, support):
    make_ticket(team=support)

    response = client.get(URL)

    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


def test_agent_outside_the_team_gets_404_on_retrieve(support, billing):
    ticket = make_ticket(team=billing)
    outsider = make_agent(support)

    response = token_client(outsider).get(f"{URL}{ticket.number}/")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": response.json()["error"]["message"]}}


def test_agent_assigned_outside_team_sees_ticket(support, billing, manager):
    outsider = make_agent(support)
    other_team_agent = make_agent(billing)
    ticket = make_ticket(team=billing)
    ticket_update(ticket=ticket, actor=manager, assignee=other_team_agent)

    assert token_client(outsider).get(f"{URL}{ticket.number}/").status_code == 404
    assert token_client(other_team_agent).get(f"{URL}{ticket.number}/").status_code == 200
