"""Incrementally maintained rollups equal a rebuild and a direct SQL recomputation from the audit
events, whatever happened to the tickets (a scripted sequence, and random histories by hypothesis).

Each step runs at a chosen instant (`at` restamps the events it wrote, as in test_facts.py); the
facts and rollups are refreshed at some steps only, so a refresh sometimes covers several changes.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from metrics.models import DailyRollup
from metrics.rollups import MEASURES, rollups_drift, rollups_rebuild
from metrics.services import ticket_facts_refresh
from tests.factories import make_agent, make_customer, make_team
from tests.metrics.test_facts import at, local, ticket_created
from tickets.models import Status, Ticket
from tickets.services import (
    TicketClosed,
    ticket_assign,
    ticket_merge,
    ticket_move_to_team,
    ticket_reply,
    ticket_set_priority,
    ticket_set_status,
)
from tickets.transitions import TransitionNotAllowed

pytestmark = pytest.mark.django_db

TIME_ZONE = "Asia/Shanghai"


@pytest.fixture(autouse=True)
def shanghai_days(settings):
    settings.HELPDESK_METRICS_TIME_ZONE = TIME_ZONE


def stored_rollups() -> dict[tuple[Any, ...], tuple[int, ...]]:
    return {
        (row["day"], row["team_id"], row["agent_id"], row["channel"], row["priority"]): tuple(
            row[measure] for measure in MEASURES
        )
        for row in DailyRollup.objects.values()
    }


def assert_incremental_equals_rebuild() -> None:
    incremental = stored_rollups()
    assert rollups_drift(day_from=datetime(2000, 1, 1).date(), day_to=datetime(2100, 1, 1).date()) == []
    rollups_rebuild()
    assert stored_rollups() == incremental


# Written from the audit events and the tickets table alone (not from the facts), per reporting
# day × team × priority: what the rollups must add up to. Without an SLA policy business time is
# calendar time.
_FROM_EVENTS_SQL = """
    WITH ticket AS (
        SELECT ticket.id, ticket.created_at, ticket.team_id, ticket.priority,
               ticket.merged_into_id IS NOT NULL
               OR EXISTS (SELECT 1 FROM tickets_event AS event
                          WHERE event.ticket_id = ticket.id AND event.kind = 'merged_into') AS is_merged
        FROM tickets_ticket AS ticket
    ), agent_replies AS (
        SELECT ticket_id, min(created_at) AS first_at, count(*) AS replies
        FROM tickets_event WHERE kind = 'reply_added' AND actor_kind = 'agent' GROUP BY ticket_id
    ), reopens AS (
        SELECT ticket_id, count(*) AS reopens FROM tickets_event WHERE kind = 'reopened' GROUP BY ticket_id
    ), first_solve AS (
        SELECT DISTINCT ON (ticket_id) ticket_id, created_at AS solved_at, actor_kind
        FROM tickets_event WHERE kind = 'status_changed' AND to_value = '"solved"'::jsonb
        ORDER BY ticket_id, id
    ), counted AS (
        SELECT (ticket.created_at AT TIME ZONE %(tz)s)::date AS day, ticket.team_id, ticket.priority,
               1 AS created, 0 AS first_replied, 0 AS frt, 0 AS solved, 0 AS resolution, 0 AS fcr,
               0 AS reopened, 0 AS by_customer, 0 AS replies
        FROM ticket
        UNION ALL
        SELECT (agent_replies.first_at AT TIME ZONE %(tz)s)::date, ticket.team_id, ticket.priority,
               0, 1, greatest(0, extract(epoch FROM agent_replies.first_at - ticket.created_at))::int, 0, 0, 0, 0, 0, 0
        FROM ticket JOIN agent_replies ON agent_replies.ticket_id = ticket.id
        WHERE NOT ticket.is_merged
        UNION ALL
        SELECT (first_solve.solved_at AT TIME ZONE %(tz)s)::date, ticket.team_id, ticket.priority,
               0, 0, 0, 1, greatest(0, extract(epoch FROM first_solve.solved_at - ticket.created_at))::int,
               (coalesce(agent_replies.replies, 0) = 1 AND coalesce(reopens.reopens, 0) = 0)::int,
               (coalesce(reopens.reopens, 0) > 0)::int, (first_solve.actor_kind = 'customer')::int,
               coalesce(agent_replies.replies, 0)
        FROM ticket JOIN first_solve ON first_solve.ticket_id = ticket.id
        LEFT JOIN agent_replies ON agent_replies.ticket_id = ticket.id
        LEFT JOIN reopens ON reopens.ticket_id = ticket.id
        WHERE NOT ticket.is_merged
    )
    SELECT day, team_id, priority, sum(created), sum(first_replied), sum(frt), sum(solved), sum(resolution),
           sum(fcr), sum(reopened), sum(by_customer), sum(replies)
    FROM counted GROUP BY day, team_id, priority
"""
_COMPARED = ("created", "first_replied", "frt_seconds_sum", "solved", "resolution_seconds_sum", "fcr", "reopened",
             "solved_by_customer", "public_agent_replies_sum")


def assert_rollups_match_the_events() -> None:
    with connection.cursor() as cursor:
        cursor.execute(_FROM_EVENTS_SQL, {"tz": TIME_ZONE})
        expected = {
            (day, team_id, priority): tuple(int(value) for value in values)
            for day, team_id, priority, *values in cursor.fetchall()
        }
    summed: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * len(_COMPARED))
    for row in DailyRollup.objects.values():
        totals = summed[(row["day"], row["team_id"], row["priority"])]
        for index, measure in enumerate(_COMPARED):
            totals[index] += row[measure]
        # No policy: business hours are all hours.
        assert row["frt_business_seconds_sum"] == row["frt_seconds_sum"]
        assert row["resolution_business_seconds_sum"] == row["resolution_seconds_sum"]
    actual = {key: tuple(values) for key, values in summed.items() if any(values)}
    assert actual == {key: values for key, values in expected.items() if any(values)}


def refresh(*tickets: Ticket) -> None:
    ticket_facts_refresh(ticket_ids=[ticket.pk for ticket in tickets])


def refresh_every_ticket() -> None:
    # A customer writing to a closed ticket opens a follow-up ticket: it is refreshed too.
    ticket_facts_refresh(ticket_ids=list(Ticket.objects.values_list("pk", flat=True)))


def test_incremental_rollups_equal_a_rebuild_after_every_kind_of_change():
    support, billing = make_team(), make_team()
    alice, bob = make_agent(support, billing), make_agent(support, billing)
    customer = make_customer()
    ticket = ticket_created(local(2026, 12, 7, 23, 0), team=support, requester=customer)
    duplicate = ticket_created(local(2026, 12, 7, 23, 30), team=support, requester=customer)
    refresh(ticket, duplicate)
    steps = [
        (local(2026, 12, 7, 23, 20), lambda: ticket_assign(ticket=ticket, assignee=alice, actor=alice)),
        (local(2026, 12, 8, 0, 10), lambda: ticket_reply(ticket=ticket, actor=alice, body_text="Hello.")),
        (local(2026, 12, 8, 1, 0), lambda: ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=alice)),
        (local(2026, 12, 8, 9, 0), lambda: ticket_reply(ticket=ticket, actor=customer.user, body_text="Again.")),
        (local(2026, 12, 8, 9, 30), lambda: ticket_reply(ticket=ticket, actor=alice, body_text="Now?",
                                                         status=Status.SOLVED)),
        # Handed over after the solve: the solve stays Alice's.
        (local(2026, 12, 8, 10, 0), lambda: ticket_assign(ticket=ticket, assignee=bob, actor=alice)),
        (local(2026, 12, 8, 10, 5), lambda: ticket_move_to_team(ticket=ticket, team=billing, actor=alice)),
        (local(2026, 12, 8, 10, 10), lambda: ticket_set_priority(ticket=ticket, priority="urgent", actor=alice)),
        (local(2026, 12, 8, 10, 20), lambda: ticket_reply(ticket=duplicate, actor=bob, body_text="Same issue.")),
        (local(2026, 12, 8, 11, 0), lambda: ticket_merge(source=duplicate, target=ticket, actor=bob)),
    ]
    for instant, change in steps:
        with at(instant):
            change()
        refresh(ticket, duplicate)
        assert_incremental_equals_rebuild()
        assert_rollups_match_the_events()
    assert sum(row[MEASURES.index("solved")] for row in stored_rollups().values()) == 1
    assert sum(row[MEASURES.index("created")] for row in stored_rollups().values()) == 2


ACTIONS = ("agent_reply", "agent_reply_solving", "customer_reply", "agent_solve", "customer_solve", "assign",
           "move_team", "priority", "merge", "refresh")
step_strategy = st.tuples(
    st.sampled_from(ACTIONS),
    st.integers(min_value=0, max_value=2),  # which ticket
    st.integers(min_value=0, max_value=2),  # which agent / team / priority / merge target
    st.integers(min_value=1, max_value=12 * 60),  # minutes since the previous step
)


@pytest.fixture
def cast(db):
    teams = [make_team(), make_team()]
    return {"teams": teams, "agents": [make_agent(*teams) for _ in range(2)], "customer": make_customer()}


@hypothesis_settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(history=st.lists(step_strategy, min_size=1, max_size=14),
       created_minutes=st.lists(st.integers(min_value=0, max_value=24 * 60), min_size=3, max_size=3))
def test_random_histories_keep_rollups_equal_to_a_rebuild_and_to_the_events(cast, history, created_minutes):
    with transaction.atomic():
        run_history(cast, history, created_minutes)
        transaction.set_rollback(True)  # the next example starts from the same empty tables


def run_history(cast: dict[str, Any], history: list[tuple[str, int, int, int]], created_minutes: list[int]) -> None:
    teams, agents, customer = cast["teams"], cast["agents"], cast["customer"]
    # Around midnight in Shanghai (16:00 UTC), so days differ between the zones.
    start = local(2026, 12, 7, 20, 0)
    tickets = [
        ticket_created(start + timedelta(minutes=minutes), team=teams[index % 2], requester=customer)
        for index, minutes in enumerate(sorted(created_minutes))
    ]
    clock = start + timedelta(minutes=max(created_minutes))
    priorities = ("low", "normal", "urgent")
    for action, index, other, minutes in history:
        clock += timedelta(minutes=minutes)
        ticket = Ticket.objects.get(pk=tickets[index].pk)
        agent = agents[other % 2]
        if action == "refresh":
            refresh_every_ticket()
            continue
        try:
            with at(clock), transaction.atomic():
                change(action, ticket=ticket, agent=agent, customer=customer, team=teams[other % 2],
                       priority=priorities[other], merge_target=tickets[other])
        except (PermissionDenied, ValidationError, TicketClosed, TransitionNotAllowed):
            pass  # not allowed in the ticket's state (merged, closed, the same status): nothing happened
    refresh_every_ticket()
    assert_incremental_equals_rebuild()
    assert_rollups_match_the_events()


def change(action: str, *, ticket: Ticket, agent: Any, customer: Any, team: Any, priority: str,
           merge_target: Ticket) -> None:
    if action == "agent_reply":
        ticket_reply(ticket=ticket, actor=agent, body_text="Answer.")
    elif action == "agent_reply_solving":
        ticket_reply(ticket=ticket, actor=agent, body_text="Fixed.", status=Status.SOLVED)
    elif action == "customer_reply":  # reopens a solved ticket
        ticket_reply(ticket=ticket, actor=customer.user, body_text="And?")
    elif action == "agent_solve":
        ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    elif action == "customer_solve":
        ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=customer.user)
    elif action == "assign":
        ticket_assign(ticket=ticket, assignee=agent, actor=agent)
    elif action == "move_team":
        ticket_move_to_team(ticket=ticket, team=team, actor=agent)
    elif action == "priority":
        ticket_set_priority(ticket=ticket, priority=priority, actor=agent)
    elif action == "merge":
        ticket_merge(source=ticket, target=merge_target, actor=agent)
    else:
        raise AssertionError(action)
