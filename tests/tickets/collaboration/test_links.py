"""Links between tickets (related, incident of a problem) and solving a problem with its incidents."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.factories import make_customer, make_ticket
from tests.tickets.collaboration.conftest import logged_in, mails_to, text_of
from tickets.collaboration import selectors
from tickets.collaboration.services import problem_solve_and_notify, ticket_link, ticket_unlink
from tickets.models import Event, LinkKind, Message, Status, TicketLink, Visibility
from tickets.services import ticket_update

pytestmark = pytest.mark.django_db


def roles(user, ticket) -> list[tuple[str, int]]:
    return [(row.role, row.other.number) for row in selectors.ticket_links(user=user, ticket=ticket)]


def test_a_related_link_shows_on_both_tickets_and_is_audited_on_both(support, ticket, ada):
    other = make_ticket(team=support, subject="Scanner too")

    ticket_link(ticket=other, other=ticket, kind=LinkKind.RELATED, actor=ada)

    assert roles(ada, ticket) == [("related", other.number)]
    assert roles(ada, other) == [("related", ticket.number)]
    [link] = TicketLink.objects.all()
    assert (link.source_id, link.target_id) == (ticket.pk, other.pk)  # stored lower id first
    assert Event.objects.get(ticket=ticket, kind="linked").to_value == {
        "ticket": other.number, "kind": "related", "role": "related"}
    assert Event.objects.get(ticket=other, kind="linked").to_value["ticket"] == ticket.number


def test_an_incident_links_to_a_problem_and_the_problem_lists_it(ticket, problem, ada):
    ticket_link(ticket=ticket, other=problem, kind=LinkKind.INCIDENT_OF, actor=ada)

    assert roles(ada, ticket) == [("problem", problem.number)]
    assert roles(ada, problem) == [("incident", ticket.number)]
    assert selectors.problem_incidents(user=ada, problem=problem) == [ticket]


def test_only_a_problem_ticket_takes_incidents(support, ticket, ada):
    question = make_ticket(team=support)

    with pytest.raises(ValidationError, match="is not a problem"):
        ticket_link(ticket=ticket, other=question, kind=LinkKind.INCIDENT_OF, actor=ada)

    assert not TicketLink.objects.exists()


def test_a_pair_is_linked_once_and_an_incident_has_one_problem(support, ticket, problem, ada):
    from tickets.models import TicketType

    ticket_link(ticket=ticket, other=problem, kind=LinkKind.INCIDENT_OF, actor=ada)
    second_problem = make_ticket(team=support, ticket_type=TicketType.PROBLEM)

    with pytest.raises(ValidationError):
        ticket_link(ticket=problem, other=ticket, kind=LinkKind.RELATED, actor=ada)
    with pytest.raises(ValidationError):
        ticket_link(ticket=ticket, other=second_problem, kind=LinkKind.INCIDENT_OF, actor=ada)
    with pytest.raises(ValidationError):
        ticket_link(ticket=ticket, other=ticket, kind=LinkKind.RELATED, actor=ada)

    assert TicketLink.objects.count() == 1


def test_unlinking_removes_it_from_both_and_is_audited(ticket, problem, ada):
    link = ticket_link(ticket=ticket, other=problem, kind=LinkKind.INCIDENT_OF, actor=ada)

    ticket_unlink(link=link, actor=ada)

    assert roles(ada, ticket) == [] and roles(ada, problem) == []
    assert Event.objects.get(ticket=ticket, kind="unlinked").to_value["role"] == "problem"
    assert Event.objects.get(ticket=problem, kind="unlinked").to_value["role"] == "incident"


def test_linking_needs_both_tickets_workable(billing, ticket, ada, bill, mona):
    theirs = make_ticket(team=billing)

    with pytest.raises(PermissionDenied):
        ticket_link(ticket=ticket, other=theirs, kind=LinkKind.RELATED, actor=ada)
    with pytest.raises(PermissionDenied):
        ticket_link(ticket=theirs, other=ticket, kind=LinkKind.RELATED, actor=bill)
    assert not TicketLink.objects.exists()

    link = ticket_link(ticket=ticket, other=theirs, kind=LinkKind.RELATED, actor=mona)
    # Ada sees no link to a ticket she may not see, and may not remove it.
    assert roles(ada, ticket) == []
    assert selectors.link_get(user=ada, ticket=ticket, link_id=link.pk) is None
    with pytest.raises(PermissionDenied):
        ticket_unlink(link=link, actor=ada)
    assert TicketLink.objects.count() == 1


# --- solve the problem and notify its incidents --------------------------------------------------------


def test_solving_a_problem_replies_to_and_solves_its_unsolved_incidents(outbox, act, support, problem, ada):
    carl, dora = make_customer(email="carl@example.com", name="Carl"), make_customer(email="dora@example.com")
    first = make_ticket(team=support, requester=carl, subject="No mail")
    second = make_ticket(team=support, requester=dora, subject="Mail bounces")
    already = make_ticket(team=support, subject="Mail slow")
    unrelated = make_ticket(team=support)
    for incident in (first, second, already):
        ticket_link(ticket=incident, other=problem, kind=LinkKind.INCIDENT_OF, actor=ada)
    ticket_update(ticket=already, actor=ada, status=Status.SOLVED)

    result = act(problem_solve_and_notify, problem=problem, body_text="The mail server is back. Sorry!", actor=ada)

    assert [t.number for t in result.solved] == [first.number, second.number]
    for incident in (first, second):
        incident.refresh_from_db()
        assert incident.status == Status.SOLVED
        reply = Message.objects.filter(ticket=incident, visibility=Visibility.PUBLIC).latest("pk")
        assert reply.body_text == "The mail server is back. Sorry!" and reply.author_user == ada
        assert Event.objects.get(ticket=incident, kind="solved_with_problem").to_value == {"ticket": problem.number}
    problem.refresh_from_db()
    assert problem.status == Status.SOLVED
    assert Event.objects.get(ticket=problem, kind="incidents_solved").to_value == {
        "tickets": [first.number, second.number]}
    assert Message.objects.filter(ticket=already).count() == 1  # solved before: not written to again
    assert Message.objects.filter(ticket=unrelated).count() == 1
    # The requesters get the reply by mail, like any agent reply (and, solved, the usual survey).
    for address in ("carl@example.com", "dora@example.com"):
        replies = [mail for mail in mails_to(outbox, address) if "The mail server is back. Sorry!" in text_of(mail)]
        assert len(replies) == 1


def test_solving_skips_incidents_the_agent_cannot_work(billing, problem, ada, mona):
    theirs = make_ticket(team=billing)
    ticket_link(ticket=theirs, other=problem, kind=LinkKind.INCIDENT_OF, actor=mona)

    result = problem_solve_and_notify(problem=problem, body_text="Fixed.", actor=ada)

    assert result.solved == [] and [t.pk for t in result.skipped] == [theirs.pk]
    theirs.refresh_from_db()
    assert theirs.status == Status.NEW
    assert Message.objects.filter(ticket=theirs).count() == 1


def test_only_problems_are_solved_with_incidents_and_only_by_their_team(ticket, problem, bill, ada):
    with pytest.raises(ValidationError):
        problem_solve_and_notify(problem=ticket, body_text="Fixed.", actor=ada)
    with pytest.raises(PermissionDenied):
        problem_solve_and_notify(problem=problem, body_text="Fixed.", actor=bill)
    with pytest.raises(ValidationError):
        problem_solve_and_notify(problem=problem, body_text="  ", actor=ada)
    problem.refresh_from_db()
    assert problem.status == Status.NEW


# --- pages and API ----------------------------------------------------------------------------------


def test_the_panel_links_and_unlinks_and_offers_solve_on_a_problem(ticket, problem, ada):
    client = logged_in(ada)

    client.post(f"/agent/tickets/{ticket.number}/links/add/", {"number": problem.number, "kind": "incident_of"})

    panel = client.get(f"/agent/tickets/{problem.number}/collaboration/").content.decode()
    assert f"#{ticket.number} Printer on fire" in panel
    assert "Solve the problem and notify its incidents" in panel
    assert "Solve the problem and notify" not in client.get(f"/agent/tickets/{ticket.number}/collaboration/").content.decode()
    link = TicketLink.objects.get()
    client.post(f"/agent/tickets/{problem.number}/links/{link.pk}/remove/")
    assert not TicketLink.objects.exists()


def test_the_solve_form_solves_the_incidents(ticket, problem, ada):
    ticket_link(ticket=ticket, other=problem, kind=LinkKind.INCIDENT_OF, actor=ada)

    response = logged_in(ada).post(f"/agent/tickets/{problem.number}/solve-incidents/", {"body": "Fixed now."},
                                   follow=True)

    assert "Problem solved; 1 incident(s) notified and solved." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED


def test_linking_a_ticket_the_agent_cannot_see_says_there_is_none(billing, ticket, ada):
    theirs = make_ticket(team=billing)

    response = logged_in(ada).post(f"/agent/tickets/{ticket.number}/links/add/",
                                   {"number": theirs.number, "kind": "related"}, follow=True)

    assert "There is no ticket with that number that you can see." in response.content.decode()
    assert not TicketLink.objects.exists()


def test_the_links_api(ticket, problem, ada, alice, bill):
    from tests.tickets.api.conftest import token_client

    client = token_client(ada)
    created = client.post(f"/api/v1/tickets/{ticket.number}/links/", {"ticket": problem.number, "kind": "incident_of"},
                          format="json")
    assert created.status_code == 201
    assert created.json() == [{"id": TicketLink.objects.get().pk, "kind": "incident_of", "role": "problem",
                               "ticket": {"number": problem.number, "subject": "Mail server down", "status": "new"}}]
    assert client.get(f"/api/v1/tickets/{problem.number}/links/").json()[0]["role"] == "incident"
    # A customer (even the requester) and another team's agent get nothing.
    assert token_client(alice.user).get(f"/api/v1/tickets/{ticket.number}/links/").status_code == 403
    assert token_client(bill).get(f"/api/v1/tickets/{ticket.number}/links/").status_code == 404
    assert token_client(bill).delete(
        f"/api/v1/tickets/{ticket.number}/links/{TicketLink.objects.get().pk}/").status_code == 404
    solved = client.post(f"/api/v1/tickets/{problem.number}/solve-incidents/", {"body": "Fixed."}, format="json")
    assert solved.json() == {"solved": [ticket.number], "skipped": []}
    assert client.delete(f"/api/v1/tickets/{ticket.number}/links/{TicketLink.objects.get().pk}/").status_code == 204
    assert not TicketLink.objects.exists()


def test_the_timeline_names_the_links(ticket, problem, ada):
    ticket_link(ticket=ticket, other=problem, kind=LinkKind.INCIDENT_OF, actor=ada)

    page = logged_in(ada).get(f"/agent/tickets/{problem.number}/").content.decode()

    assert f"<strong>Ada Agent</strong> linked #{ticket.number} as an incident of this problem" in page
