"""What agents see of SLA targets: the queue's SLA column and due-soonest sort, the Breaching-soon
view, and the ticket page's timers with their pauses."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_agent, make_ticket
from tickets import selectors
from tickets.models import Priority, SlaPolicy, SlaTimer, Status, Ticket, TimerState
from tickets.services import ticket_reply, ticket_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy():
    """24/7 (no calendar), calendar minutes: urgent answers within 30 min, normal within 4 h; low
    tickets have no target."""
    return SlaPolicy.objects.create(
        name="Standard", warning_percent=75, first_response_business_hours=False,
        next_response_business_hours=False, resolution_business_hours=False,
        targets={"urgent": {"first_response": 30, "resolution": 480},
                 "normal": {"first_response": 240, "resolution": 2880}},
    )


def queue_html(client: Client, **params) -> str:
    from urllib.parse import urlencode

    return client.get(f"{reverse('agent:queue')}?{urlencode(params)}").content.decode()


def sla_cell(html: str, ticket: Ticket) -> str:
    row = re.search(rf'<tr id="ticket-row-{ticket.number}".*?</tr>', html, re.S)
    assert row is not None, f"#{ticket.number} is not in the queue"
    cell = re.search(r'<td class="col-sla">(.*?)</td>', row.group(0), re.S)
    assert cell is not None
    return cell.group(1)


def row_numbers(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="ticket-row-(\d+)"', html)]


def move_first_response(ticket: Ticket, *, due_in: timedelta, warning_in: timedelta | None = None) -> None:
    """Shift the ticket's first-response target so it is due `due_in` from now (as if time passed)."""
    now = timezone.now()
    SlaTimer.objects.filter(ticket=ticket, metric="first_response").update(
        due_at=now + due_in, warning_at=now + (warning_in if warning_in is not None else due_in * 0.75)
    )
    Ticket.objects.filter(pk=ticket.pk).update(sla_due_at=now + due_in)


# ------------------------------------------------------------------------------ queue column


def test_fresh_target_shows_a_green_countdown_in_the_queue(agent_client, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)

    cell = sla_cell(queue_html(agent_client), ticket)

    due = SlaTimer.objects.get(ticket=ticket, metric="first_response").due_at
    assert 'class="sla sla--ok"' in cell
    assert f'datetime="{timezone.localtime(due).isoformat()}"' in cell
    assert re.search(r">(29|30) min</time>", cell)


def test_target_past_its_warning_point_is_amber(agent_client, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    move_first_response(ticket, due_in=timedelta(minutes=5, seconds=30), warning_in=timedelta(minutes=-1))

    cell = sla_cell(queue_html(agent_client), ticket)

    assert 'class="sla sla--warning"' in cell
    assert ">6 min</time>" in cell


def test_overdue_target_is_red_with_how_late_it_is(agent_client, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    move_first_response(ticket, due_in=-timedelta(hours=2, minutes=4, seconds=30))
    SlaTimer.objects.filter(ticket=ticket, metric="first_response").update(breached_at=timezone.now())

    cell = sla_cell(queue_html(agent_client), ticket)

    assert 'class="sla sla--breached"' in cell
    assert ">overdue 2 h 5 min</time>" in cell


def test_paused_ticket_shows_grey_paused(agent_client, agent, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    ticket_update(ticket=ticket, actor=agent, status=Status.PENDING)
    assert set(SlaTimer.objects.filter(ticket=ticket).values_list("state", flat=True)) == {TimerState.PAUSED}

    cell = sla_cell(queue_html(agent_client), ticket)

    assert 'class="sla sla--paused"' in cell
    assert ">paused</time>" in cell
    assert "data-sla-countdown" not in cell  # the page's script leaves it alone


def test_met_target_gives_way_to_the_next_unmet_one(agent_client, agent, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    ticket_reply(ticket=ticket, actor=agent, body_text="On it")
    resolution = SlaTimer.objects.get(ticket=ticket, metric="resolution")
    assert SlaTimer.objects.get(ticket=ticket, metric="first_response").state == TimerState.MET

    cell = sla_cell(queue_html(agent_client), ticket)

    assert f'datetime="{timezone.localtime(resolution.due_at).isoformat()}"' in cell
    assert re.search(r">7 h (59|60) min</time>|>8 h 0 min</time>", cell)


def test_ticket_without_a_target_shows_a_dash(agent_client, support, policy):
    ticket = make_ticket(team=support, priority=Priority.LOW)

    assert sla_cell(queue_html(agent_client), ticket) == '<span class="muted">—</span>'


def test_solved_ticket_shows_no_countdown(agent_client, agent, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    ticket_reply(ticket=ticket, actor=agent, body_text="Fixed", status=Status.SOLVED)

    assert sla_cell(queue_html(agent_client, status="solved"), ticket) == '<span class="muted">—</span>'


def test_countdown_is_written_in_the_viewers_time_zone(agent, agent_client, support, policy):
    agent.timezone = "Asia/Shanghai"
    agent.save(update_fields=["timezone"])
    ticket = make_ticket(team=support, priority=Priority.URGENT)

    cell = sla_cell(queue_html(agent_client), ticket)

    assert re.search(r'datetime="[^"]+\+08:00"', cell)


def test_page_carries_the_translated_countdown_texts_and_script(agent_client, support):
    html = queue_html(agent_client)

    assert 'id="sla-texts"' in html
    assert 'data-overdue="overdue %(time)s"' in html
    assert "js/agent/sla.js" in html


# ------------------------------------------------------------------------------ due soonest


def test_due_soonest_sorts_by_the_nearest_running_target_and_puts_tickets_without_one_last(
    agent_client, agent, support, policy,
):
    no_target = make_ticket(team=support, priority=Priority.LOW)
    normal = make_ticket(team=support, priority=Priority.NORMAL)  # first response in 4 h
    urgent = make_ticket(team=support, priority=Priority.URGENT)  # first response in 30 min
    paused = make_ticket(team=support, priority=Priority.URGENT)
    ticket_update(ticket=paused, actor=agent, status=Status.ON_HOLD)  # no running target: last
    overdue = make_ticket(team=support, priority=Priority.NORMAL)
    move_first_response(overdue, due_in=-timedelta(minutes=3))

    numbers = row_numbers(queue_html(agent_client, sort="due"))

    assert numbers[:3] == [overdue.number, urgent.number, normal.number]
    assert set(numbers[3:]) == {no_target.number, paused.number}
    assert Ticket.objects.get(pk=paused.pk).sla_due_at is None


def test_due_soonest_pages_with_cursors_through_tickets_with_and_without_targets(agent, support, policy):
    tickets = [make_ticket(team=support, priority=Priority.URGENT if n % 2 else Priority.LOW) for n in range(7)]
    filters = selectors.TicketFilters()
    seen: list[int] = []
    cursor = None
    while True:
        page = selectors.queue_page(user=agent, filters=filters, sort="due", cursor=cursor, page_size=2)
        seen += [row.number for row in page.tickets]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    with_target = [t.number for t in tickets if t.priority == Priority.URGENT]  # due 30 min after creation
    assert seen[:3] == with_target
    assert sorted(seen[3:]) == sorted(t.number for t in tickets if t.priority == Priority.LOW)
    # And back: the previous page of the last one is the page before it.
    back = selectors.queue_page(user=agent, filters=filters, sort="due", cursor=page.previous_cursor, page_size=2)
    assert [row.number for row in back.tickets] == seen[-3:-1]


def test_due_soonest_is_offered_on_the_sla_column_header(agent_client, support):
    html = queue_html(agent_client)

    assert re.search(r'<th class="col-sla" scope="col">\s*<a href="\?sort=due" title="Due soonest">SLA</a>', html)


# ------------------------------------------------------------------------------ Breaching soon


def sidebar_count(client: Client, slug: str) -> str:
    html = client.get(reverse("agent:views")).content.decode()
    found = re.search(rf'data-view="{slug}">\s*<span class="nav__label">[^<]*</span><span class="count">(\d*)<', html)
    assert found is not None
    return found.group(1)


def test_breaching_soon_lists_targets_due_within_the_hour_and_overdue_ones(agent_client, support, policy):
    soon = make_ticket(team=support, priority=Priority.URGENT)  # due in 30 min
    later = make_ticket(team=support, priority=Priority.NORMAL)  # due in 4 h
    overdue = make_ticket(team=support, priority=Priority.NORMAL)
    move_first_response(overdue, due_in=-timedelta(minutes=10))
    make_ticket(team=support, priority=Priority.LOW)  # no target

    html = agent_client.get(f"{reverse('agent:queue')}?sla=breaching&sort=due&view=breaching").content.decode()

    assert row_numbers(html) == [overdue.number, soon.number]
    assert later.number not in row_numbers(html)
    assert sidebar_count(agent_client, "breaching") == "2"
    assert re.search(r'<a class="nav__link" href="[^"]*sla=breaching[^"]*view=breaching"', html)


def test_breaching_soon_never_shows_another_teams_tickets(agent_client, support, billing, policy):
    ours = make_ticket(team=support, priority=Priority.URGENT)
    theirs = make_ticket(team=billing, priority=Priority.URGENT)
    move_first_response(theirs, due_in=-timedelta(minutes=5))

    html = agent_client.get(f"{reverse('agent:queue')}?sla=breaching&sort=due&view=breaching").content.decode()

    assert row_numbers(html) == [ours.number]
    assert sidebar_count(agent_client, "breaching") == "1"
    billing_agent = Client()
    billing_agent.force_login(make_agent(billing, username="cyd"))
    assert sidebar_count(billing_agent, "breaching") == "1"
    html = billing_agent.get(f"{reverse('agent:queue')}?sla=breaching&sort=due").content.decode()
    assert row_numbers(html) == [theirs.number]


def test_breaching_soon_drops_a_ticket_once_its_targets_are_met_or_paused(agent_client, agent, support, policy):
    answered = make_ticket(team=support, priority=Priority.URGENT)
    waiting = make_ticket(team=support, priority=Priority.URGENT)
    ticket_reply(ticket=answered, actor=agent, body_text="Hello")  # resolution is due in 8 h now
    ticket_update(ticket=waiting, actor=agent, status=Status.PENDING)

    assert row_numbers(queue_html(agent_client, sla="breaching")) == []
    assert sidebar_count(agent_client, "breaching") == "0"


def test_unknown_sla_filter_is_refused(agent_client):
    response = agent_client.get(f"{reverse('agent:queue')}?sla=someday")

    assert response.status_code == 400


# ------------------------------------------------------------------------------ query counts


@pytest.mark.parametrize("page_size", [25, 100])
def test_sla_column_costs_one_query_per_page_whatever_its_size(agent_client, support, policy, page_size,
                                                                 django_assert_max_num_queries):
    for n in range(page_size + 1):
        make_ticket(team=support, priority=Priority.URGENT if n % 2 else Priority.NORMAL)
    agent_client.get(reverse("agent:queue"))  # warm the session cache

    with django_assert_max_num_queries(12):
        html = queue_html(agent_client, per_page=page_size, sort="due")
    assert len(row_numbers(html)) == page_size
    assert html.count('class="sla sla--ok"') == page_size


# ------------------------------------------------------------------------------ ticket page


def ticket_page(client: Client, ticket: Ticket) -> str:
    return client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()


def sla_panel(html: str) -> str:
    found = re.search(r'<section class="card sla-card" id="ticket-sla".*?</section>', html, re.S)
    assert found is not None
    return found.group(0)


def test_ticket_page_shows_each_timer_with_policy_target_due_and_countdown(agent_client, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    first = SlaTimer.objects.get(ticket=ticket, metric="first_response")

    panel = sla_panel(ticket_page(agent_client, ticket))

    assert re.findall(r'data-sla-metric="(\w+)"', panel) == ["first_response", "resolution"]
    assert "First response" in panel and "Resolution" in panel
    assert panel.count("<dd>Standard</dd>") == 2
    assert "30 minutes · calendar hours" in panel and "480 minutes · calendar hours" in panel
    assert timezone.localtime(first.due_at).strftime("%Y-%m-%d %H:%M") in panel
    assert 'class="badge sla-state sla-state--running">Running<' in panel
    assert 'class="sla sla--ok" datetime=' in panel


def test_ticket_header_badge_shows_the_nearest_target(agent_client, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    move_first_response(ticket, due_in=-timedelta(minutes=1, seconds=30))

    html = ticket_page(agent_client, ticket)

    badges = re.search(r'<span class="row" id="ticket-badges".*?</span></span>', html, re.S)
    assert badges is not None
    assert 'class="sla sla--breached"' in badges.group(0)
    assert ">overdue 2 min</time>" in badges.group(0)


def test_ticket_page_shows_met_and_breached_times_and_the_pauses(agent_client, agent, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    ticket_update(ticket=ticket, actor=agent, status=Status.PENDING)
    ticket_update(ticket=ticket, actor=agent, status=Status.OPEN)
    move_first_response(ticket, due_in=-timedelta(minutes=10))  # as if the time ran out and the scan fired
    SlaTimer.objects.filter(ticket=ticket, metric="first_response").update(breached_at=timezone.now())
    ticket_update(ticket=ticket, actor=agent, status=Status.ON_HOLD)
    ticket_reply(ticket=ticket, actor=agent, body_text="Sorry for the wait")
    first = SlaTimer.objects.get(ticket=ticket, metric="first_response")
    assert first.state == TimerState.MET and first.breached_at is not None

    panel = sla_panel(ticket_page(agent_client, ticket))
    first_block = re.search(r'data-sla-metric="first_response".*?(?=data-sla-metric=|</section>)', panel, re.S).group(0)

    assert 'sla-state--met">Met<' in first_block
    assert 'sla-state--breached">Breached<' in first_block
    assert "<dt>Met</dt>" in first_block and "<dt>Breached</dt>" in first_block
    assert "2 pauses" in first_block
    assert "(Pending)" in first_block and "(On hold)" in first_block
    resolution_block = panel.split('data-sla-metric="resolution"')[1]
    assert 'sla-state--paused">Paused<' in resolution_block  # still on hold
    assert "now" in resolution_block  # the open pause
    assert "Due (as of the pause)" in resolution_block


def test_ticket_without_targets_says_so(agent_client, support):
    ticket = make_ticket(team=support)

    assert "No SLA targets apply to this ticket." in sla_panel(ticket_page(agent_client, ticket))


def test_fields_refresh_brings_the_sla_panel_along(agent_client, agent, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    ticket_reply(ticket=ticket, actor=agent, body_text="Hello")

    html = agent_client.get(reverse("agent:ticket_fields", args=[ticket.number])).content.decode()

    panel = sla_panel(html)
    assert 'id="ticket-sla" hx-swap-oob="true"' in panel
    assert 'sla-state--met">Met<' in panel


def test_ticket_page_reads_the_timers_in_one_query(agent_client, agent, support, policy,
                                                     django_assert_max_num_queries):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    for status in (Status.PENDING, Status.OPEN, Status.ON_HOLD, Status.OPEN):
        ticket_update(ticket=ticket, actor=agent, status=status)
    ticket_page(agent_client, ticket)

    with django_assert_max_num_queries(12):
        html = ticket_page(agent_client, ticket)
    assert "2 pauses" in sla_panel(html)


def test_timeline_tells_the_sla_events_in_words(agent_client, agent, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    first = SlaTimer.objects.get(ticket=ticket, metric="first_response")
    ticket_reply(ticket=ticket, actor=agent, body_text="Hello")

    html = agent_client.get(reverse("agent:ticket_timeline", args=[ticket.number])).content.decode()
    text = re.sub(r"<[^>]+>", "", html)

    due = timezone.localtime(first.due_at).strftime("%Y-%m-%d %H:%M")
    assert f"SLA: First response target of 30 min (Standard), due {due}" in text
    assert "SLA: First response target met" in text
    assert "due_at:" not in text
