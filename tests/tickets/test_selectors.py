import pytest

from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import Ticket, User
from tickets.selectors import (
    SORT_FIELDS,
    InvalidQuery,
    TicketFilters,
    builtin_views,
    queue_page,
    queue_row,
    ticket_page,
    ticket_timeline,
    view_counts,
)
from tickets.services import ticket_add_note, ticket_reply, ticket_update

pytestmark = pytest.mark.django_db


def _walk(user, sort, page_size):
    seen, cursor = [], None
    while True:
        page = ticket_page(user=user, filters=TicketFilters(), sort=sort, cursor=cursor, page_size=page_size)
        seen += [t.number for t in page.tickets]
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor


@pytest.mark.parametrize("sort", ["-updated", "updated", "number", "-priority", "subject", "-assignee", "status"])
def test_keyset_pages_cover_every_ticket_once_in_order(sort):
    team = make_team()
    agent = make_agent(team)
    for index in range(23):
        ticket = make_ticket(team=team, subject=f"Subject {index % 5}")
        if index % 3 == 0:
            ticket_update(ticket=ticket, actor=agent, priority=["low", "high", "urgent"][index % 3 - 0], assignee=agent)

    numbers = _walk(agent, sort, page_size=4)

    assert sorted(numbers) == sorted(Ticket.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) == 23


@pytest.mark.parametrize("sort", [f"{direction}{key}" for key in SORT_FIELDS for direction in ("", "-")])
def test_queue_pages_are_the_ticket_pages_as_row_values(sort):
    team, other_team = make_team(), make_team()
    agent = make_agent(team, other_team, display_name="Ada Agent")
    named = make_agent(team, display_name="", first_name="Bea", last_name="Bauer")
    bare = make_agent(team, display_name="", username="cyd")
    assignees = [None, agent, named, bare]
    for index in range(11):
        ticket = make_ticket(team=[team, other_team][index % 2], subject=f"Subject {index % 4}", tags=["a", "b"][: index % 3],
                             requester=make_customer(name=f"Requester {index % 3}", with_login=False))
        ticket_update(ticket=ticket, actor=agent, priority=["low", "high", "urgent", "normal"][index % 4],
                      assignee=assignees[index // 2 % 4] if index % 2 == 0 else None)

    tickets_cursor = rows_cursor = None
    pages = 0
    while True:
        tickets = ticket_page(user=agent, filters=TicketFilters(), sort=sort, cursor=tickets_cursor, page_size=3)
        rows = queue_page(user=agent, filters=TicketFilters(), sort=sort, cursor=rows_cursor, page_size=3)
        assert [(row.id, row.number, row.subject, row.status, row.priority, row.tags, row.created_at, row.updated_at,
                 row.requester_name, row.team_name, row.assignee_name) for row in rows.tickets] == [
            (t.id, t.number, t.subject, t.status, t.priority, t.tags, t.created_at, t.updated_at, t.requester.name,
             t.team.name if t.team else None, t.assignee.name if t.assignee else None) for t in tickets.tickets]
        assert (rows.next_cursor, rows.previous_cursor) == (tickets.next_cursor, tickets.previous_cursor)
        pages += 1
        if not tickets.next_cursor:
            break
        tickets_cursor, rows_cursor = tickets.next_cursor, rows.next_cursor
    assert pages == 4
    assert {"Ada Agent", "Bea Bauer", "cyd", None} <= {row.assignee_name for row in queue_page(
        user=agent, filters=TicketFilters(), page_size=50).tickets}


def test_queue_row_is_none_for_invisible_and_filtered_out_tickets():
    team, other_team = make_team(), make_team()
    agent = make_agent(team)
    mine, theirs = make_ticket(team=team, subject="Mine"), make_ticket(team=other_team)

    assert queue_row(user=agent, filters=TicketFilters(), number=mine.number).subject == "Mine"
    assert queue_row(user=agent, filters=TicketFilters(), number=theirs.number) is None
    assert queue_row(user=agent, filters=TicketFilters(statuses=["pending"]), number=mine.number) is None


def test_previous_cursor_returns_the_page_before():
    team = make_team()
    agent = make_agent(team)
    for _ in range(9):
        make_ticket(team=team)
    first = ticket_page(user=agent, filters=TicketFilters(), page_size=4)
    second = ticket_page(user=agent, filters=TicketFilters(), cursor=first.next_cursor, page_size=4)

    back = ticket_page(user=agent, filters=TicketFilters(), cursor=second.previous_cursor, page_size=4)

    assert [t.pk for t in back.tickets] == [t.pk for t in first.tickets]


def test_sort_and_filters_come_from_an_allowlist():
    agent = make_agent(make_team())
    with pytest.raises(InvalidQuery):
        ticket_page(user=agent, filters=TicketFilters(), sort="requester__user__password")
    with pytest.raises(InvalidQuery):
        TicketFilters.from_params({"status": "deleted"})
    with pytest.raises(InvalidQuery):
        TicketFilters.from_params({"team": "1;DROP TABLE"})
    with pytest.raises(InvalidQuery):
        ticket_page(user=agent, filters=TicketFilters(), cursor="bm90LWpzb24")


def test_search_finds_subject_and_message_text_in_english_and_chinese():
    team = make_team()
    agent = make_agent(team)
    by_subject = make_ticket(team=team, subject="无法登录账户")
    by_body = make_ticket(team=team, subject="Help", body="The invoice total is wrong")
    make_ticket(team=team, subject="Other")

    def search(q):
        return {t.pk for t in ticket_page(user=agent, filters=TicketFilters.from_params({"q": q})).tickets}

    assert search("登录") == {by_subject.pk}
    assert search("INVOICE") == {by_body.pk}
    assert search(f"#{by_body.number}") == {by_body.pk}


def test_search_never_finds_tickets_outside_the_callers_scope():
    team = make_team()
    agent = make_agent(team)
    make_ticket(team=make_team(), subject="secret merger plans")

    assert ticket_page(user=agent, filters=TicketFilters.from_params({"q": "merger"})).tickets == []


def test_customer_timeline_has_no_internal_notes_or_events():
    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)
    ticket_add_note(ticket=ticket, actor=agent, body_text="internal only")
    ticket_reply(ticket=ticket, actor=agent, body_text="public answer")

    customer_entries = ticket_timeline(user=ticket.requester.user, ticket=ticket)
    agent_entries = ticket_timeline(user=agent, ticket=ticket)

    assert [e.body_text for _, e in customer_entries] == ["It started this morning.", "public answer"]
    assert any(kind == "event" for kind, _ in agent_entries)
    assert "internal only" in [e.body_text for kind, e in agent_entries if kind == "message"]


def test_view_counts_in_one_query(django_assert_num_queries):
    team = make_team()
    agent = make_agent(team)
    make_ticket(team=team)
    assigned = make_ticket(team=team)
    ticket_update(ticket=assigned, actor=agent, assignee=agent)
    agent = User.objects.get(pk=agent.pk)  # as a new request sees it: team ids not cached yet
    views = builtin_views(agent)

    with django_assert_num_queries(2):
        counts = view_counts(user=agent, views=views)

    by_slug = {view.slug: counts[i] for i, view in enumerate(views)}
    assert by_slug["mine"] == 1
    assert by_slug["unassigned"] == 1
    assert by_slug["open"] == 2


def test_timeline_names_authors_and_actors_without_a_query_per_entry(django_assert_num_queries):
    team = make_team()
    agent, colleague = make_agent(team, display_name="Ada Agent"), make_agent(team, display_name="Cole Colleague")
    ticket = make_ticket(team=team)
    ticket_reply(ticket=ticket, actor=agent, body_text="public answer")
    ticket_add_note(ticket=ticket, actor=colleague, body_text="a note")
    ticket_update(ticket=ticket, actor=colleague, priority="high")
    ticket = Ticket.objects.select_related("requester").get(pk=ticket.pk)

    # Messages, their attachments, events, and the one person the caller did not already have.
    with django_assert_num_queries(4):
        entries = ticket_timeline(user=agent, ticket=ticket, known_users=[agent])
    with django_assert_num_queries(0):
        authors = [obj.author_name for kind, obj in entries if kind == "message"]
        actors = {obj.actor_user.name for kind, obj in entries if kind == "event" and obj.actor_user_id}
    assert authors == [ticket.requester.name, "Ada Agent", "Cole Colleague"]
    assert actors == {"Ada Agent", "Cole Colleague"}
