"""The agent queue: who may open it, what it lists, sorting, filters, pages, bulk actions, live rows."""

from __future__ import annotations

import re
import time

import pytest
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_agent, make_customer, make_team, make_ticket, make_user
from tickets.models import Channel, Event, Priority, Role, SavedView, Status, Ticket
from tickets.services import ticket_update
from tickets.views.agent import common

pytestmark = pytest.mark.django_db


def row_numbers(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="ticket-row-(\d+)"', html)]


def queue_url(**params) -> str:
    from urllib.parse import urlencode

    return f"{reverse('agent:queue')}?{urlencode(params)}" if params else reverse("agent:queue")


# ------------------------------------------------------------------------------------- access


def test_anonymous_visitor_is_sent_to_sign_in():
    response = Client().get("/agent/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/agent/")


def test_customer_is_refused_the_workspace(support):
    customer = make_customer(email="carol@example.com")
    client = Client()
    client.force_login(customer.user)
    assert client.get("/agent/").status_code == 403
    assert client.get("/agent/tickets/").status_code == 403
    ticket = make_ticket(requester=customer, team=support)
    assert client.get(f"/agent/tickets/{ticket.number}/").status_code == 403
    assert client.post("/agent/tickets/bulk/", {"numbers": [ticket.number], "status": "open"}).status_code == 403


def test_agent_home_and_queue_list_only_the_agents_team_tickets(agent_client, support, billing):
    mine = make_ticket(team=support, subject="Cannot log in")
    other = make_ticket(team=billing, subject="Invoice is wrong")
    for url in ("/agent/", "/agent/tickets/"):
        response = agent_client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert row_numbers(html) == [mine.number]
        assert "Cannot log in" in html
        assert "Invoice is wrong" not in html
        assert f"#{other.number}" not in html


def test_queue_page_has_the_workspace_layout(agent_client, agent):
    html = agent_client.get("/agent/").content.decode()
    assert 'action="/i18n/setlang/"' in html
    for label in ("English", "简体中文", "繁體中文"):
        assert label in html
    assert 'action="/accounts/logout/"' in html
    assert 'name="q"' in html
    for view in ("My open tickets", "Unassigned in my teams", "All open in my teams", "Pending", "Recently solved"):
        assert view in html
    assert "Ada Agent" in html
    assert 'data-ws-path="/ws/agent/"' in html
    assert "vendor/htmx.org/dist/htmx.min.js" in html


def test_global_search_finds_by_subject(agent_client, support):
    hit = make_ticket(team=support, subject="VPN drops every hour")
    make_ticket(team=support, subject="Printer jam")
    response = agent_client.get(queue_url(q="vpn"))
    assert row_numbers(response.content.decode()) == [hit.number]
    assert "Search results" in response.content.decode()


# ------------------------------------------------------------------------------------- escaping


def test_subject_with_html_is_escaped_in_the_queue(agent_client, support):
    """Zammad CVE-2018-1000154: a subject from an email ran as script in the agent's list."""
    make_ticket(team=support, subject='<img src=x onerror=alert(1)>')
    html = agent_client.get("/agent/").content.decode()
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_every_cell_of_a_row_is_escaped():
    """Rows are rendered in Python for speed; nothing a customer, admin or agent typed may become markup."""
    team = make_team('<i>Team</i>"', slug="odd-team")
    agent = make_agent(team, display_name='"><script>alert(1)</script>')
    requester = make_customer(name="<b>Bold</b> & co", with_login=False)
    make_ticket(team=team, requester=requester, subject="x'\"><svg onload=alert(2)>", tags=["<u>tag</u>"],
                assignee=agent)
    client = Client()
    client.force_login(agent)
    html = client.get("/agent/").content.decode()
    row = re.search(r'<tr id="ticket-row-\d+".*?</tr>', html, re.S).group(0)
    for raw in ("<script>", "<svg", "<b>", "<i>", "<u>", "onload=alert(2)>"):
        assert raw not in row
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in row
    assert "&lt;i&gt;Team&lt;/i&gt;&quot;" in row
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in row
    assert "&lt;u&gt;tag&lt;/u&gt;" in row
    assert "x&#x27;&quot;&gt;&lt;svg onload=alert(2)&gt;" in row


# ------------------------------------------------------------------------------------- sorting


@pytest.mark.parametrize("sort", ["number", "subject", "requester", "status", "priority", "team", "assignee",
                                  "updated", "created"])
def test_every_column_sorts_both_ways(agent_client, support, sort):
    a = make_ticket(team=support, subject="Alpha", requester=make_customer(name="Zed", with_login=False), priority=Priority.URGENT)
    b = make_ticket(team=support, subject="Bravo", requester=make_customer(name="Amy", with_login=False), priority=Priority.LOW)
    ascending = agent_client.get(queue_url(sort=sort))
    descending = agent_client.get(queue_url(sort=f"-{sort}"))
    assert ascending.status_code == descending.status_code == 200
    up, down = row_numbers(ascending.content.decode()), row_numbers(descending.content.decode())
    assert sorted(up) == sorted(down) == sorted([a.number, b.number])
    if sort in ("number", "subject", "created", "updated"):
        assert up == [a.number, b.number] and down == [b.number, a.number]
    if sort == "requester":
        assert up == [b.number, a.number]
    if sort == "priority":
        assert up == [b.number, a.number]


def test_column_headers_link_to_the_opposite_order(agent_client, support):
    make_ticket(team=support)
    html = agent_client.get(queue_url(sort="subject")).content.decode()
    assert 'aria-sort="ascending"' in html
    assert "?sort=-subject" in html
    assert "?sort=-updated" in html


@pytest.mark.parametrize("sort", ["password", "-requester__user__password", "id; DROP TABLE tickets_ticket",
                                  "subject,password", "__class__"])
def test_sort_outside_the_allowlist_is_refused_with_400(agent_client, support, sort):
    """CVE-2018-7196: an unchecked sort parameter leaked data through ORDER BY."""
    make_ticket(team=support, subject="Secret order")
    response = agent_client.get(queue_url(sort=sort))
    assert response.status_code == 400
    html = response.content.decode()
    assert row_numbers(html) == []
    assert "not allowed" in html


def test_bad_filter_value_and_bad_cursor_give_400(agent_client, support):
    make_ticket(team=support)
    assert agent_client.get(queue_url(status="hacked")).status_code == 400
    assert agent_client.get(queue_url(team="1 OR 1=1")).status_code == 400
    assert agent_client.get(queue_url(cursor="not-a-cursor")).status_code == 400


# ------------------------------------------------------------------------------------- filters


def test_filters_by_status_assignee_priority_channel_tag_and_team(agent_client, agent, support):
    colleague = make_agent(support)
    assigned_to_me = make_ticket(team=support, subject="Mine", assignee=agent, tags=["vip"])
    assigned_elsewhere = make_ticket(team=support, subject="Theirs", assignee=colleague, priority=Priority.HIGH)
    unassigned = make_ticket(team=support, subject="Nobody", channel=Channel.EMAIL)
    pending = make_ticket(team=support, subject="Waiting")
    Ticket.objects.filter(pk=pending.pk).update(status=Status.PENDING)

    def numbers(**params):
        response = agent_client.get(queue_url(**params))
        assert response.status_code == 200
        return sorted(row_numbers(response.content.decode()))

    assert numbers(assignee="me") == [assigned_to_me.number]
    assert numbers(assignee="none") == sorted([unassigned.number, pending.number])
    assert numbers(assignee=str(colleague.pk)) == [assigned_elsewhere.number]
    assert numbers(status="pending") == [pending.number]
    assert numbers(priority="high") == [assigned_elsewhere.number]
    assert numbers(channel="email") == [unassigned.number]
    assert numbers(tag="vip") == [assigned_to_me.number]
    assert numbers(team=str(support.pk), status="new,open") == sorted(
        [assigned_to_me.number, assigned_elsewhere.number, unassigned.number]
    )


def test_builtin_view_links_and_counts(agent_client, agent, support, billing):
    make_ticket(team=support, assignee=agent)
    make_ticket(team=support)
    make_ticket(team=support)
    make_ticket(team=billing)
    html = agent_client.get(reverse("agent:views")).content.decode()
    mine = re.search(r'data-view="mine">\s*<span class="nav__label">My open tickets</span><span class="count">(\d+)', html)
    unassigned = re.search(r'data-view="unassigned">\s*<span class="nav__label">Unassigned in my teams</span><span class="count">(\d+)', html)
    assert mine and mine.group(1) == "1"
    assert unassigned and unassigned.group(1) == "2"
    response = agent_client.get(queue_url(assignee="me", status="new,open,on_hold", view="mine"))
    assert len(row_numbers(response.content.decode())) == 1
    assert "<h1>My open tickets</h1>" in response.content.decode()


# ------------------------------------------------------------------------------------- pages


def test_keyset_pages_go_forward_and_back_without_overlap(agent_client, support):
    tickets = [make_ticket(team=support, subject=f"Ticket {i:02d}") for i in range(30)]
    first = agent_client.get(queue_url(sort="number", per_page=25)).content.decode()
    assert row_numbers(first) == [t.number for t in tickets[:25]]
    next_link = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = agent_client.get(reverse("agent:queue") + next_link).content.decode()
    assert row_numbers(second) == [t.number for t in tickets[25:]]
    assert 'rel="next"' not in second
    prev_link = re.search(r'rel="prev" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    back = agent_client.get(reverse("agent:queue") + prev_link).content.decode()
    assert row_numbers(back) == [t.number for t in tickets[:25]]


@pytest.mark.parametrize("page_size", [25, 100])
def test_queue_page_query_count_does_not_grow_with_page_size(agent_client, agent, support, page_size,
                                                              django_assert_max_num_queries):
    colleague = make_agent(support)
    for i in range(page_size + 1):
        make_ticket(team=support, requester=make_customer(with_login=False), assignee=colleague if i % 2 else agent,
                    tags=["x"])
    agent_client.get("/agent/")  # warm the session cache
    with django_assert_max_num_queries(12):
        response = agent_client.get(queue_url(per_page=page_size))
    assert len(row_numbers(response.content.decode())) == page_size
    with django_assert_max_num_queries(12):
        response = agent_client.get(queue_url(per_page=page_size, sort="requester", status="unsolved"))
    assert len(row_numbers(response.content.decode())) == page_size


def test_queue_page_and_rows_load_no_column_one_at_a_time(agent_client, agent, support, monkeypatch):
    """Rows are plain values and the lists read only what they show: nothing is fetched again per row."""
    ticket = make_ticket(team=support, assignee=agent, tags=["x"])
    make_ticket(team=support)

    def refuse(instance, *args, **kwargs):
        raise AssertionError(f"deferred load of {type(instance).__name__} {kwargs.get('fields') or args}")

    monkeypatch.setattr(Model, "refresh_from_db", refuse)
    for url in ("/agent/", queue_url(status="unsolved", sort="assignee"), reverse("agent:ticket_row", args=[ticket.number]),
                reverse("agent:views")):
        assert agent_client.get(url).status_code == 200


def test_results_fragment_is_just_the_table(agent_client, support):
    ticket = make_ticket(team=support)
    response = agent_client.get(queue_url(fragment="results"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert row_numbers(html) == [ticket.number]
    assert "<html" not in html and "sidebar" not in html
    assert "fragment=" not in html


# ------------------------------------------------------------------------------------- live rows


def test_row_endpoint_renders_a_visible_matching_ticket(agent_client, support):
    ticket = make_ticket(team=support, subject="Row me")
    response = agent_client.get(reverse("agent:ticket_row", args=[ticket.number]))
    assert response.status_code == 200
    assert row_numbers(response.content.decode()) == [ticket.number]
    assert "Row me" in response.content.decode()


def test_row_endpoint_is_empty_for_other_teams_and_for_filtered_out_tickets(agent_client, support, billing):
    theirs = make_ticket(team=billing, subject="Billing secret")
    mine = make_ticket(team=support)
    hidden = agent_client.get(reverse("agent:ticket_row", args=[theirs.number]))
    assert hidden.status_code == 200 and hidden.content == b""
    filtered = agent_client.get(reverse("agent:ticket_row", args=[mine.number]) + "?status=pending")
    assert filtered.status_code == 200 and filtered.content == b""
    missing = agent_client.get(reverse("agent:ticket_row", args=[987654321]))
    assert missing.status_code == 200 and missing.content == b""


def test_pages_load_view_counts_after_rendering_and_reuse_them_for_a_while(agent_client, support, settings,
                                                                          django_assert_max_num_queries):
    """Counting views scans many rows at scale: a page never waits for it."""
    settings.HELPDESK_VIEW_COUNTS_SECONDS = 60  # long enough for this test on a slow machine
    make_ticket(team=support)
    first = agent_client.get("/agent/").content.decode()
    assert 'hx-get="/agent/views/" hx-trigger="load"' in first
    assert re.search(r'data-view="open">\s*<span class="nav__label">All open in my teams</span><span class="count"><', first)
    fragment = agent_client.get(reverse("agent:views")).content.decode()
    assert re.search(r'data-view="open">\s*<span class="nav__label">All open in my teams</span><span class="count">1<', fragment)
    make_ticket(team=support)
    with django_assert_max_num_queries(3):  # the user, team ids, saved views; no count
        again = agent_client.get(reverse("agent:views")).content.decode()
    assert again == fragment  # cached for HELPDESK_VIEW_COUNTS_SECONDS
    page = agent_client.get("/agent/").content.decode()
    assert 'hx-trigger="load"' not in page
    assert re.search(r'data-view="open">\s*<span class="nav__label">All open in my teams</span><span class="count">1<', page)
    # ... and the page re-reads them when they expire.
    assert 'hx-get="/agent/views/" hx-trigger="load delay:60000ms"' in page


def test_view_counts_show_a_change_once_the_cached_counts_expire(agent_client, agent, support, settings):
    """Cached counts are short-lived: a ticket that changes shows in the counts a few seconds later."""
    settings.HELPDESK_VIEW_COUNTS_SECONDS = 0.5
    ticket = make_ticket(team=support)

    def open_count() -> str:
        html = agent_client.get(reverse("agent:views")).content.decode()
        return re.search(r'data-view="open">\s*<span class="nav__label">All open in my teams</span>'
                         r'<span class="count">(\d+)<', html).group(1)

    assert open_count() == "1"
    ticket_update(ticket=ticket, actor=agent, status=Status.PENDING)
    time.sleep(0.6)
    assert open_count() == "0"
    assert common.VIEW_COUNTS_SECONDS <= 3  # not above the 3 s workspace.js waits before re-reading counts


def test_a_saved_view_with_filters_no_longer_valid_has_no_count_and_does_not_block_the_others(
        agent_client, agent, support, settings):
    settings.HELPDESK_VIEW_COUNTS_SECONDS = 60
    make_ticket(team=support)
    bad = SavedView.objects.create(owner=agent, name="Old statuses", filters={"status": ["bogus"]})
    fragment = agent_client.get(reverse("agent:views")).content.decode()
    assert re.search(rf'data-view="saved-{bad.pk}">\s*<span class="nav__icon"[^>]*>[^<]*</span>\s*'
                     r'<span class="nav__label">Old statuses</span><span class="count"><', fragment)
    assert re.search(r'data-view="open">\s*<span class="nav__label">All open in my teams</span><span class="count">1<', fragment)
    page = agent_client.get("/agent/").content.decode()
    assert 'hx-trigger="load delay:60000ms"' in page  # every count was there, the bad view's "none" too


def test_agents_of_a_team_share_view_counts_but_not_their_own_or_other_teams(support, billing, settings):
    settings.HELPDESK_VIEW_COUNTS_SECONDS = 60
    ada, bea = make_agent(support, username="ada2"), make_agent(support, username="bea")
    cyd = make_agent(billing, username="cyd")
    make_ticket(team=support, assignee=ada)
    make_ticket(team=support)
    make_ticket(team=billing, assignee=cyd)

    def counts(user) -> tuple[dict[str, str], list[str]]:
        client = Client()
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            html = client.get(reverse("agent:views")).content.decode()
        found = dict(re.findall(r'data-view="(\w+)">\s*<span class="nav__label">[^<]*</span><span class="count">(\d*)<', html))
        return found, [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]

    ada_counts, ada_sql = counts(ada)
    bea_counts, bea_sql = counts(bea)
    cyd_counts, cyd_sql = counts(cyd)
    assert ada_counts == {"mine": "1", "breaching": "0", "unassigned": "1", "open": "2", "pending": "0", "solved": "0"}
    assert bea_counts == {"mine": "0", "breaching": "0", "unassigned": "1", "open": "2", "pending": "0", "solved": "0"}
    assert cyd_counts == {"mine": "1", "breaching": "0", "unassigned": "0", "open": "1", "pending": "0", "solved": "0"}
    # Bea counted only her own view; Cyd, in another team, counted everything for herself.
    assert [sql.count("COUNT(") for sql in ada_sql + bea_sql + cyd_sql] == [6, 1, 6]


def test_sidebar_fragment_has_fresh_counts(agent_client, support):
    make_ticket(team=support)
    html = agent_client.get(reverse("agent:views") + "?view=open").content.decode()
    assert re.search(r'aria-current="page" data-view="open">\s*<span class="nav__label">All open in my teams</span><span class="count">1<', html)


# ------------------------------------------------------------------------------------- bulk


def test_bulk_action_assigns_sets_priority_tags_and_writes_events(agent_client, agent, support):
    first, second = make_ticket(team=support), make_ticket(team=support)
    untouched = make_ticket(team=support)
    response = agent_client.post(reverse("agent:bulk_update"), {
        "numbers": [first.number, second.number], "assignee": "me", "priority": "urgent", "add_tag": "Outage 42",
        "next": "/agent/tickets/?status=unsolved",
    }, follow=True)
    assert response.redirect_chain[-1][0] == "/agent/tickets/?status=unsolved"
    assert "Updated 2 tickets." in response.content.decode()
    for ticket in (first, second):
        ticket.refresh_from_db()
        assert ticket.assignee_id == agent.pk
        assert ticket.priority == Priority.URGENT
        assert ticket.tags == ["outage-42"]
        assert ticket.status == Status.OPEN  # assigning a new ticket opens it
        kinds = set(Event.objects.filter(ticket=ticket, actor_user=agent).values_list("kind", flat=True))
        assert {"assignee_changed", "priority_changed", "tags_changed", "status_changed"} <= kinds
    untouched.refresh_from_db()
    assert untouched.assignee_id is None and untouched.priority == Priority.NORMAL


def test_bulk_action_reports_refused_and_invisible_tickets(agent_client, support, billing):
    solved = make_ticket(team=support)
    Ticket.objects.filter(pk=solved.pk).update(status=Status.CLOSED)
    fine = make_ticket(team=support)
    theirs = make_ticket(team=billing)
    response = agent_client.post(reverse("agent:bulk_update"), {
        "numbers": [solved.number, fine.number, theirs.number], "status": "pending",
    }, follow=True)
    html = response.content.decode()
    assert "Updated 1 ticket." in html
    assert "2 tickets were not changed" in html
    assert f"#{solved.number}" in html and f"#{theirs.number}: not found" in html
    fine.refresh_from_db()
    theirs.refresh_from_db()
    assert fine.status == Status.PENDING
    assert theirs.status == Status.NEW
    assert not Event.objects.filter(ticket=theirs, kind="status_changed").exists()


def test_bulk_action_needs_a_selection_and_a_change(agent_client, support):
    ticket = make_ticket(team=support)
    response = agent_client.post(reverse("agent:bulk_update"), {"status": "open"}, follow=True)
    assert "Select at least one ticket." in response.content.decode()
    response = agent_client.post(reverse("agent:bulk_update"), {"numbers": [ticket.number]}, follow=True)
    assert "Choose what to change." in response.content.decode()
    assert Event.objects.filter(ticket=ticket).count() == 1  # only "created"


def test_bulk_action_does_not_redirect_off_site(agent_client, support):
    ticket = make_ticket(team=support)
    response = agent_client.post(reverse("agent:bulk_update"), {
        "numbers": [ticket.number], "priority": "high", "next": "https://evil.example/phish",
    })
    assert response.status_code == 302
    assert response["Location"] == reverse("agent:queue")


def test_plain_agent_cannot_take_a_colleagues_ticket_in_bulk(agent_client, agent, support):
    colleague = make_agent(support)
    ticket = make_ticket(team=support, assignee=colleague)
    response = agent_client.post(reverse("agent:bulk_update"), {"numbers": [ticket.number], "assignee": "me"}, follow=True)
    assert "1 ticket was not changed" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.assignee_id == colleague.pk


def test_manager_sees_every_team_in_the_queue(support, billing):
    manager = make_user(role=Role.MANAGER)
    client = Client()
    client.force_login(manager)
    a, b = make_ticket(team=support), make_ticket(team=billing)
    assert sorted(row_numbers(client.get("/agent/").content.decode())) == sorted([a.number, b.number])
