"""GET/PATCH /api/v1/tickets/{number}/ and POST …/merge/: the same access policy as the HTML views."""

import pytest

from tests.factories import make_agent, make_customer, make_organization, make_team, make_ticket
from tests.tickets.api.conftest import token_client
from tickets.models import CustomFieldDefinition, Event, Message, Ticket

pytestmark = pytest.mark.django_db


def url(ticket, suffix=""):
    return f"/api/v1/tickets/{ticket.number}/{suffix}"


def test_agent_retrieves_a_ticket_of_their_team(as_agent, support, alice):
    ticket = make_ticket(team=support, requester=alice, subject="Broken")

    response = as_agent.get(url(ticket))

    assert response.status_code == 200
    assert response.json()["number"] == ticket.number
    assert response.json()["subject"] == "Broken"


def test_customer_retrieves_own_ticket(as_alice, alice):
    ticket = make_ticket(requester=alice)

    assert as_alice.get(url(ticket)).status_code == 200


def test_other_customer_gets_404_not_403(as_bob, alice):
    ticket = make_ticket(requester=alice)

    for response in (
        as_bob.get(url(ticket)),
        as_bob.patch(url(ticket), {"status": "solved"}, format="json"),
        as_bob.get(url(ticket, "messages/")),
        as_bob.post(url(ticket, "messages/"), {"body": "let me in"}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert Ticket.objects.get(pk=ticket.pk).status == "new"
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_unknown_number_is_the_same_404(as_bob):
    response = as_bob.get("/api/v1/tickets/987654321/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_agent_outside_team_gets_404_and_cannot_patch(billing):
    ticket = make_ticket(team=billing)
    outsider = make_agent(make_team())
    client = token_client(outsider)

    assert client.get(url(ticket)).status_code == 404
    assert client.patch(url(ticket), {"priority": "urgent"}, format="json").status_code == 404
    assert Ticket.objects.get(pk=ticket.pk).priority == "normal"


def test_manager_sees_tickets_of_every_team(as_manager, billing):
    ticket = make_ticket(team=billing)

    assert as_manager.get(url(ticket)).status_code == 200


def test_agent_patches_fields(as_agent, agent, support, billing, django_capture_on_commit_callbacks):
    CustomFieldDefinition.objects.create(key="order", label="Order", field_type="text")
    ticket = make_ticket(team=support, tags=["old", "keep"])

    with django_capture_on_commit_callbacks(execute=True):
        response = as_agent.patch(url(ticket), {
            "status": "pending", "priority": "urgent", "type": "incident", "assignee": agent.pk,
            "add_tags": ["new"], "remove_tags": ["old"], "custom_fields": {"order": "A-9"}, "subject": "Renamed",
        }, format="json")

    assert response.status_code == 200, response.content
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.type, ticket.assignee, ticket.subject) == (
        "pending", "urgent", "incident", agent, "Renamed")
    assert ticket.tags == ["keep", "new"]
    assert ticket.custom_fields == {"order": "A-9"}
    body = response.json()
    assert body["status"] == "pending" and body["assignee"]["id"] == agent.pk and body["tags"] == ["keep", "new"]
    kinds = set(Event.objects.filter(ticket=ticket, via="api").values_list("kind", flat=True))
    assert {"status_changed", "priority_changed", "type_changed", "assignee_changed", "tags_changed",
            "custom_fields_changed", "subject_changed"} <= kinds


def test_agent_moves_ticket_to_another_team_by_slug(as_agent, support, billing):
    ticket = make_ticket(team=support)

    response = as_agent.patch(url(ticket), {"team": "billing"}, format="json")

    assert response.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).team == billing
    # The agent is not in Billing, so the ticket has left their view.
    assert as_agent.get(url(ticket)).status_code == 404


def test_agent_replaces_tags_and_clears_assignee(as_agent, agent, support):
    ticket = make_ticket(team=support, tags=["a"])
    as_agent.patch(url(ticket), {"assignee": "me"}, format="json")

    response = as_agent.patch(url(ticket), {"tags": ["b", "c"], "assignee": None}, format="json")

    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.tags == ["b", "c"]
    assert ticket.assignee is None


def test_refused_transition_is_400_and_changes_nothing(as_agent, agent, support):
    ticket = make_ticket(team=support)
    as_agent.patch(url(ticket), {"status": "solved"}, format="json")
    as_agent.patch(url(ticket), {"status": "closed"}, format="json")
    events_before = Event.objects.count()

    response = as_agent.patch(url(ticket), {"status": "open", "priority": "high"}, format="json")

    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority) == ("closed", "normal")
    assert Event.objects.count() == events_before


def test_plain_agent_cannot_take_a_colleagues_ticket(support):
    first, second = make_agent(support), make_agent(support)
    ticket = make_ticket(team=support)
    token_client(first).patch(url(ticket), {"assignee": "me"}, format="json")

    response = token_client(second).patch(url(ticket), {"assignee": "me"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Ticket.objects.get(pk=ticket.pk).assignee == first


def test_customer_marks_own_ticket_solved_and_reopens_it(as_alice, alice):
    ticket = make_ticket(requester=alice)

    solved = as_alice.patch(url(ticket), {"status": "solved"}, format="json")
    reopened = as_alice.patch(url(ticket), {"status": "open"}, format="json")

    assert solved.status_code == 200 and solved.json()["status"] == "solved"
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert reopened.json()["reopen_count"] == 1


@pytest.mark.parametrize("payload", [{"priority": "urgent"}, {"status": "pending"}, {"status": "closed"},
                                     {"tags": ["x"]}, {"status": "solved", "subject": "mine now"}])
def test_customer_cannot_change_anything_else(as_alice, alice, payload):
    ticket = make_ticket(requester=alice)

    response = as_alice.patch(url(ticket), payload, format="json")

    assert response.status_code == 403
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.tags, ticket.subject) == ("new", "normal", [], "Printer is on fire")


def test_organization_contact_cannot_change_a_colleagues_ticket():
    acme = make_organization()
    lead = make_customer(organization=acme, sees_organization_tickets=True)
    ticket = make_ticket(requester=make_customer(organization=acme))
    client = token_client(lead.user)

    assert client.get(url(ticket)).status_code == 200
    assert client.patch(url(ticket), {"status": "solved"}, format="json").status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status == "new"


def test_empty_patch_is_400(as_agent, support):
    ticket = make_ticket(team=support)

    response = as_agent.patch(url(ticket), {}, format="json")

    assert response.status_code == 400


def test_agent_merges_a_duplicate(as_agent, support, alice):
    original = make_ticket(team=support, requester=alice)
    duplicate = make_ticket(team=support, requester=alice, body="same problem")

    response = as_agent.post(url(duplicate, "merge/"), {"into": original.number}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["number"] == original.number
    duplicate.refresh_from_db()
    assert duplicate.status == "closed" and duplicate.merged_into_id == original.pk
    assert Message.objects.filter(ticket=original, body_text="same problem").exists()


def test_merge_into_a_ticket_the_agent_cannot_see_is_404(as_agent, support, billing):
    mine = make_ticket(team=support)
    hidden = make_ticket(team=billing)

    response = as_agent.post(url(mine, "merge/"), {"into": hidden.number}, format="json")

    assert response.status_code == 404
    assert Ticket.objects.get(pk=mine.pk).merged_into_id is None


def test_customer_cannot_merge(as_alice, alice):
    first, second = make_ticket(requester=alice), make_ticket(requester=alice)

    response = as_alice.post(url(second, "merge/"), {"into": first.number}, format="json")

    assert response.status_code == 403
    assert Ticket.objects.get(pk=second.pk).merged_into_id is None


def test_retrieve_query_count(as_agent, support, django_assert_max_num_queries):
    ticket = make_ticket(team=support, requester=make_customer(organization=make_organization()))

    with django_assert_max_num_queries(5):
        assert as_agent.get(url(ticket)).status_code == 200


def test_customer_patch_refuses_other_fields_before_looking_them_up(as_alice, alice, agent, billing):
    ticket = make_ticket(requester=alice)

    answers = [as_alice.patch(url(ticket), payload, format="json") for payload in (
        {"assignee": agent.pk}, {"assignee": 987654}, {"team": billing.slug}, {"team": "no-such-team"})]

    assert {r.status_code for r in answers} == {403}
    assert len({r.content for r in answers}) == 1
