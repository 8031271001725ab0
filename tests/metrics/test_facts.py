"""The per-ticket facts, against hand-computed expectations on tickets built through the real services.

The services stamp the wall clock; each step here runs inside `at(instant)`, which restamps the
events it wrote, so a ticket's life is replayed at chosen instants. The calendar is 9–18 Monday to
Friday in Shanghai; 2026-12-04 is a Friday.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Max

from metrics.models import TicketFact
from metrics.services import PolicyCalendars, ticket_facts_refresh
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import BusinessHours, Event, SlaPolicy, Status, Ticket
from tickets.services import ticket_add_note, ticket_assign, ticket_merge, ticket_reply, ticket_set_status
from tickets.services.ticket_messages import ticket_add_automatic_reply
from tickets.sla.services import calendar_of, policy_for

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3600


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


@contextmanager
def at(instant: datetime) -> Iterator[None]:
    """Whatever events the block writes happened at `instant`."""
    last_id = Event.objects.aggregate(last=Max("id"))["last"] or 0
    yield
    Event.objects.filter(id__gt=last_id).update(created_at=instant)


def ticket_created(instant: datetime, **fields: Any) -> Ticket:
    with at(instant):
        ticket = make_ticket(**fields)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=instant)
    ticket.refresh_from_db()
    return ticket


def fact_of(ticket: Ticket) -> TicketFact:
    ticket_facts_refresh(ticket_ids=[ticket.pk])
    return TicketFact.objects.get(ticket=ticket)


@pytest.fixture
def team():
    return make_team()


@pytest.fixture
def agent(team):
    return make_agent(team)


@pytest.fixture
def office_hours(db) -> BusinessHours:
    return BusinessHours.objects.create(
        name="Shanghai office", timezone="Asia/Shanghai", weekly={str(day): ["09:00-18:00"] for day in range(5)}
    )


@pytest.fixture
def policy(office_hours) -> SlaPolicy:
    return SlaPolicy.objects.create(name="Standard", position=10, calendar=office_hours,
                                    targets={"normal": {"first_response": 60, "resolution": 480}})


def test_ticket_never_replied_to_has_no_response_or_resolution(team, agent):
    ticket = ticket_created(local(2026, 12, 7, 10, 0), team=team, priority="high", channel="email")

    fact = fact_of(ticket)

    assert fact.created_at == local(2026, 12, 7, 10, 0)
    assert (fact.team_id, fact.channel, fact.priority, fact.agent_id) == (team.pk, "email", "high", None)
    assert fact.first_public_agent_reply_at is None
    assert (fact.frt_seconds, fact.frt_business_seconds) == (None, None)
    assert (fact.first_solved_at, fact.resolution_seconds, fact.resolution_business_seconds) == (None, None, None)
    assert (fact.public_agent_replies, fact.reopen_count) == (0, 0)
    assert fact.is_fcr is None
    assert fact.solved_by_customer is False
    assert fact.is_merged is False


def test_ticket_answered_once_and_solved_is_first_contact_resolution(team, agent, policy):
    ticket = ticket_created(local(2026, 12, 7, 9, 30), team=team)
    with at(local(2026, 12, 7, 9, 40)):
        ticket_assign(ticket=ticket, assignee=agent, actor=agent)
        # An internal note is no response to the customer.
        ticket_add_note(ticket=ticket, actor=agent, body_text="Checking the logs.")
    with at(local(2026, 12, 7, 10, 0)):
        ticket_reply(ticket=ticket, actor=agent, body_text="Restart the printer.")
    with at(local(2026, 12, 7, 11, 30)):
        ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)

    fact = fact_of(ticket)

    assert fact.first_public_agent_reply_at == local(2026, 12, 7, 10, 0)
    assert (fact.frt_seconds, fact.frt_business_seconds) == (30 * 60, 30 * 60)
    assert fact.first_solved_at == local(2026, 12, 7, 11, 30)
    assert (fact.resolution_seconds, fact.resolution_business_seconds) == (2 * HOUR, 2 * HOUR)
    assert (fact.public_agent_replies, fact.reopen_count) == (1, 0)
    assert fact.is_fcr is True
    assert fact.agent_id == agent.pk
    assert fact.solved_by_customer is False


def test_ticket_reopened_twice_counts_reopens_and_resolves_at_first_solve(team, agent, policy):
    second_agent = make_agent(team)
    customer = make_customer()
    ticket = ticket_created(local(2026, 12, 7, 9, 0), team=team, requester=customer)
    with at(local(2026, 12, 7, 9, 10)):
        ticket_assign(ticket=ticket, assignee=agent, actor=agent)
        ticket_reply(ticket=ticket, actor=agent, body_text="Try this.")
    with at(local(2026, 12, 7, 10, 0)):
        ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    with at(local(2026, 12, 7, 11, 0)):
        ticket_reply(ticket=ticket, actor=customer.user, body_text="Still broken.")
    with at(local(2026, 12, 7, 12, 0)):
        ticket_assign(ticket=ticket, assignee=second_agent, actor=agent)
        ticket_reply(ticket=ticket, actor=second_agent, body_text="And this?", status=Status.SOLVED)
    with at(local(2026, 12, 8, 9, 0)):
        ticket_reply(ticket=ticket, actor=customer.user, body_text="No.")
    with at(local(2026, 12, 8, 10, 0)):
        ticket_reply(ticket=ticket, actor=second_agent, body_text="Replaced it.", status=Status.SOLVED)

    fact = fact_of(ticket)

    assert fact.reopen_count == 2
    assert fact.public_agent_replies == 3
    assert fact.is_fcr is False
    assert fact.first_solved_at == local(2026, 12, 7, 10, 0)
    assert (fact.resolution_seconds, fact.resolution_business_seconds) == (HOUR, HOUR)
    assert (fact.frt_seconds, fact.frt_business_seconds) == (10 * 60, 10 * 60)
    # Credited to the assignee when it was first solved, not to whoever holds it now.
    assert fact.agent_id == agent.pk


def test_ticket_solved_by_customer(team, agent):
    customer = make_customer()
    ticket = ticket_created(local(2026, 12, 7, 9, 0), team=team, requester=customer)
    with at(local(2026, 12, 7, 9, 20)):
        ticket_reply(ticket=ticket, actor=customer.user, body_text="Never mind, it works now.")
        ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=customer.user)

    fact = fact_of(ticket)

    assert fact.solved_by_customer is True
    assert fact.first_solved_at == local(2026, 12, 7, 9, 20)
    assert fact.resolution_seconds == 20 * 60
    assert fact.public_agent_replies == 0
    assert fact.frt_seconds is None
    # Solved without an agent's answer: no contact resolved it.
    assert fact.is_fcr is False


def test_merged_ticket_has_no_durations_and_its_replies_stay_its_own(team, agent):
    customer = make_customer()
    target = ticket_created(local(2026, 12, 7, 9, 0), team=team, requester=customer)
    source = ticket_created(local(2026, 12, 7, 9, 5), team=team, requester=customer)
    with at(local(2026, 12, 7, 9, 30)):
        ticket_reply(ticket=source, actor=agent, body_text="Answered on the duplicate.")
    with at(local(2026, 12, 7, 10, 0)):
        ticket_merge(source=source, target=target, actor=agent)

    source_fact, target_fact = fact_of(source), fact_of(target)

    assert source_fact.is_merged is True
    assert source_fact.first_public_agent_reply_at == local(2026, 12, 7, 9, 30)
    assert source_fact.public_agent_replies == 1
    assert (source_fact.frt_seconds, source_fact.frt_business_seconds) == (None, None)
    assert (source_fact.resolution_seconds, source_fact.resolution_business_seconds) == (None, None)
    assert source_fact.is_fcr is None
    # The messages moved to the target, but nobody answered the target itself yet.
    assert target_fact.is_merged is False
    assert (target_fact.public_agent_replies, target_fact.frt_seconds) == (0, None)


def test_business_hours_skip_the_weekend_while_calendar_hours_do_not(team, agent, policy):
    ticket = ticket_created(local(2026, 12, 4, 17, 0), team=team)
    with at(local(2026, 12, 7, 10, 0)):
        ticket_reply(ticket=ticket, actor=agent, body_text="Good morning.")
    with at(local(2026, 12, 7, 16, 0)):
        ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)

    fact = fact_of(ticket)

    # Friday 17:00–18:00 and Monday 09:00–10:00; 65 hours on the clock.
    assert (fact.frt_business_seconds, fact.frt_seconds) == (2 * HOUR, 65 * HOUR)
    # Friday 1 h + Monday 09:00–16:00 7 h; 71 hours on the clock.
    assert (fact.resolution_business_seconds, fact.resolution_seconds) == (8 * HOUR, 71 * HOUR)


def test_ticket_without_a_policy_counts_business_time_around_the_clock(team, agent, policy):
    policy.priorities = ["urgent"]
    policy.save()
    ticket = ticket_created(local(2026, 12, 4, 17, 0), team=team, priority="low")
    with at(local(2026, 12, 7, 10, 0)):
        ticket_reply(ticket=ticket, actor=agent, body_text="Good morning.")

    fact = fact_of(ticket)

    assert (fact.frt_business_seconds, fact.frt_seconds) == (65 * HOUR, 65 * HOUR)


def test_calendars_are_those_policy_for_picks(team, office_hours):
    other_team = make_team()
    night_shift = BusinessHours.objects.create(name="Nights", timezone="UTC", weekly={"0": ["22:00-06:00"]})
    team_policy = SlaPolicy.objects.create(name="Team", position=1, calendar=night_shift, tags=["vip"])
    team_policy.teams.add(team)
    SlaPolicy.objects.create(name="Urgent", position=2, calendar=office_hours, priorities=["urgent"])
    SlaPolicy.objects.create(name="Inactive", position=0, calendar=office_hours, is_active=False)
    tickets = [
        make_ticket(team=team, tags=["vip"]), make_ticket(team=other_team, tags=["vip"]),
        make_ticket(team=team, priority="urgent"), make_ticket(team=other_team, priority="low"),
    ]
    calendars = PolicyCalendars()

    for ticket in tickets:
        picked = calendars.calendar_for(
            priority=ticket.priority, channel=ticket.channel, ticket_type=ticket.type, tier=ticket.requester.tier,
            tags=ticket.tags, team_id=ticket.team_id, organization_id=ticket.organization_id,
        )
        assert picked == calendar_of(policy_for(ticket=ticket)), ticket.tags


def test_refresh_is_idempotent_and_takes_a_few_queries_per_chunk(team, agent, policy, django_assert_max_num_queries):
    tickets = []
    for hour in range(9, 15):
        ticket = ticket_created(local(2026, 12, 7, hour, 0), team=team)
        with at(local(2026, 12, 7, hour, 30)):
            ticket_reply(ticket=ticket, actor=agent, body_text="On it.", status=Status.SOLVED)
        tickets.append(ticket)
    ids = [ticket.pk for ticket in tickets]

    # Policies and calendars (5), the facts, the SLA timers, the agents, then the writes: new
    # facts, old facts locked, updated facts, rollup deltas (and the savepoint around them).
    with django_assert_max_num_queries(12):
        assert ticket_facts_refresh(ticket_ids=ids) == 6
    first = list(TicketFact.objects.order_by("ticket_id").values())
    assert ticket_facts_refresh(ticket_ids=[*ids, ids[0], 999_999_999]) == 6
    second = list(TicketFact.objects.order_by("ticket_id").values())

    def without_clock(rows):
        return [{key: value for key, value in row.items() if key != "computed_at"} for row in rows]

    assert without_clock(second) == without_clock(first)
    assert [row["frt_business_seconds"] for row in second] == [30 * 60] * 6
    assert all(row["is_fcr"] for row in second)


def test_refresh_replaces_stale_facts(team, agent):
    ticket = ticket_created(local(2026, 12, 7, 9, 0), team=team)
    assert fact_of(ticket).is_fcr is None
    with at(local(2026, 12, 7, 9, 45)):
        ticket_reply(ticket=ticket, actor=agent, body_text="Done.", status=Status.SOLVED)

    fact = fact_of(ticket)

    assert (fact.is_fcr, fact.resolution_seconds) == (True, 45 * 60)
    assert TicketFact.objects.count() == 1


def test_command_recomputes_tickets_created_in_the_range(team):
    before = ticket_created(datetime.fromisoformat("2026-12-01T12:00:00+00:00"), team=team)
    first_day = ticket_created(datetime.fromisoformat("2026-12-02T00:00:00+00:00"), team=team)
    last_day = ticket_created(datetime.fromisoformat("2026-12-03T23:59:00+00:00"), team=team)
    after = ticket_created(datetime.fromisoformat("2026-12-04T00:00:00+00:00"), team=team)
    out = StringIO()

    call_command("recompute_metrics", "--from", "2026-12-02", "--to", "2026-12-03", stdout=out)

    assert "Recomputed the facts of 2 tickets." in out.getvalue()
    assert set(TicketFact.objects.values_list("ticket_id", flat=True)) == {first_day.pk, last_day.pk}

    call_command("recompute_metrics", stdout=out)

    assert set(TicketFact.objects.values_list("ticket_id", flat=True)) == {
        before.pk, first_day.pk, last_day.pk, after.pk,
    }
    assert "Recomputed the facts of 4 tickets." in out.getvalue()


def test_command_refuses_a_range_that_ends_before_it_starts():
    with pytest.raises(CommandError):
        call_command("recompute_metrics", "--from", "2026-12-03", "--to", "2026-12-02")
    assert not TicketFact.objects.exists()


def test_automatic_acknowledgement_is_no_first_response(team, agent):
    ticket = ticket_created(local(2026, 12, 7, 9, 0), team=team)
    with at(local(2026, 12, 7, 9, 0)):
        ticket_add_automatic_reply(ticket=ticket, body_text="We received your request.", source="acknowledgement")
    with at(local(2026, 12, 7, 9, 50)):
        ticket_reply(ticket=ticket, actor=agent, body_text="Hello, I am looking at it.")

    fact = fact_of(ticket)

    assert (fact.public_agent_replies, fact.frt_seconds) == (1, 50 * 60)


def test_agent_deleted_since_the_solve_leaves_the_fact_without_agent(team, agent):
    successor = make_agent(team)
    ticket = ticket_created(local(2026, 12, 7, 9, 0), team=team)
    with at(local(2026, 12, 7, 9, 30)):
        ticket_assign(ticket=ticket, assignee=agent, actor=agent)
        ticket_reply(ticket=ticket, actor=agent, body_text="Fixed.", status=Status.SOLVED)
    with at(local(2026, 12, 7, 10, 0)):
        ticket_assign(ticket=ticket, assignee=successor, actor=agent)  # handing it over
    assert fact_of(ticket).agent_id == agent.pk

    agent.delete()

    assert fact_of(ticket).agent_id is None
