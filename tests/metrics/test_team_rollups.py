"""TeamDailyRollup (the daily rollups without the agent, read by the dashboards when no agent is
filtered or broken down): kept by the same deltas, equal to DailyRollup summed over the agents and
to a rebuild, and covered by the drift check.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from metrics.models import DailyRollup, TeamDailyRollup, TicketFact
from metrics.rollups import MEASURES, rollups_drift, rollups_drift_check, rollups_rebuild
from metrics.selectors import MetricFilters, metrics_breakdown, metrics_summary
from metrics.services import ticket_facts_refresh
from tests.factories import make_agent
from tests.metrics.test_facts import at, local
from tests.metrics.test_rollups import (
    refresh_all,
    week,  # noqa: F401 (the fixture, through `team_week`)
)
from tickets.services import ticket_assign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def shanghai_days(settings):
    settings.HELPDESK_METRICS_TIME_ZONE = "Asia/Shanghai"


@pytest.fixture
def team_week(request):
    """test_rollups' `week`: five tickets of one team over two days."""
    return request.getfixturevalue("week")


def team_rows() -> dict[tuple[Any, ...], tuple[int, ...]]:
    return {
        (row["day"], row["team_id"], row["channel"], row["priority"]): tuple(row[measure] for measure in MEASURES)
        for row in TeamDailyRollup.objects.values()
    }


def daily_rows_without_agent() -> dict[tuple[Any, ...], tuple[int, ...]]:
    summed: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * len(MEASURES))
    for row in DailyRollup.objects.values():
        vector = summed[(row["day"], row["team_id"], row["channel"], row["priority"])]
        for index, measure in enumerate(MEASURES):
            vector[index] += row[measure]
    return {key: tuple(vector) for key, vector in summed.items() if any(vector)}


def test_incremental_team_rollups_equal_the_daily_rollups_summed_over_agents_and_a_rebuild(team_week):
    refresh_all()
    incremental = team_rows()
    assert incremental
    assert incremental == daily_rows_without_agent()
    assert rollups_drift(day_from=date(2026, 12, 1), day_to=date(2026, 12, 31)) == []

    rollups_rebuild()

    assert team_rows() == incremental


def test_moving_a_ticket_to_another_agent_moves_daily_rows_but_not_team_rows(team_week):
    refresh_all()
    before = team_rows()
    # The ticket answered at night and never solved: its rows follow its assignee.
    fact = TicketFact.objects.get(first_solved_at__isnull=True, is_merged=False)
    colleague = make_agent(team_week["team"])
    with at(local(2026, 12, 9, 9, 0)):
        ticket_assign(ticket=fact.ticket, assignee=colleague, actor=None)

    ticket_facts_refresh(ticket_ids=[fact.ticket_id])

    assert DailyRollup.objects.filter(agent_id=colleague.pk).exists()
    assert team_rows() == before == daily_rows_without_agent()
    assert rollups_drift(day_from=date(2026, 12, 1), day_to=date(2026, 12, 31)) == []


def test_drift_check_reports_a_corrupted_team_row_and_repair_fixes_it(team_week):
    refresh_all()
    expected = team_rows()
    row = TeamDailyRollup.objects.filter(day=date(2026, 12, 8)).order_by("pk").first()
    TeamDailyRollup.objects.filter(pk=row.pk).update(created=row.created + 3)

    drifts = rollups_drift(day_from=date(2026, 12, 1), day_to=date(2026, 12, 31))

    assert [(drift.team_rollup, drift.key, drift.stored, drift.recomputed) for drift in drifts] == [
        (True, (row.day, row.team_id, None, row.channel, row.priority),
         {"created": row.created + 3}, {"created": row.created}),
    ]
    assert drifts[0].describe() == (
        f"2026-12-08 team={row.team_id} all agents {row.channel}/{row.priority}: "
        f"created {row.created + 3} != {row.created}"
    )

    assert len(rollups_drift_check(days=5, today=date(2026, 12, 9), repair=True)) == 1
    assert rollups_drift_check(days=5, today=date(2026, 12, 9)) == []
    assert team_rows() == expected


def test_figures_read_from_the_team_rollups_match_those_of_the_daily_rollups(team_week):
    refresh_all()
    filters = MetricFilters(start=date(2026, 12, 7), end=date(2026, 12, 8))
    summary = metrics_summary(filters=filters)
    by_team = metrics_breakdown(filters=filters, by="team")
    # Emptied, the team rollups give nothing: the figures above came from them.
    TeamDailyRollup.objects.all().delete()
    assert metrics_summary(filters=filters)["metrics"]["volume"]["value"] == 0
    # Rebuilt, they give the same figures as the agents' rows summed (a breakdown by agent).
    rollups_rebuild()
    rebuilt = metrics_summary(filters=filters)
    for figures in (rebuilt, summary):
        figures["metrics"]["backlog"].pop("as_of")  # the instant of the read
    assert rebuilt == summary
    assert metrics_breakdown(filters=filters, by="team") == by_team
    by_agent = metrics_breakdown(filters=filters, by="agent")
    assert sum(row["volume"] for row in by_agent) == summary["metrics"]["volume"]["value"] == 5
    assert sum(row["solved"] for row in by_agent) == summary["metrics"]["solved"]["value"]
