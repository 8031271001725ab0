"""metrics_drilldown: the tickets behind each figure of the small world (test_selectors_fixture.py),
as a manager sees them (what others may see: test_metrics_permissions.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from metrics.selectors import InvalidMetricFilters, MetricFilters, metrics_drilldown, reporting_today
from tests.metrics.test_selectors_fixture import CURRENT, world_in_shanghai

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db, settings):
    return world_in_shanghai(settings)


def numbers(world, metric: str, filters=CURRENT) -> set[int]:
    return set(metrics_drilldown(filters=filters, user=world.manager, metric=metric).values_list("number", flat=True))


@pytest.mark.parametrize(("metric", "tickets"), [
    ("volume", ("T1", "T2", "T3", "T4", "T5", "T6", "T9")),
    ("solved", ("T1", "T2", "T3", "T6")),
    # T8 was created in the previous period and answered in this one; T5's answer was on a duplicate.
    ("frt", ("T1", "T2", "T6", "T8")),
    ("resolution", ("T1", "T2", "T3", "T6")),
    ("fcr", ("T1", "T6")),
    ("reopened", ("T2",)),
    ("sla", ("T1", "T2", "T6")),
    ("sla_missed", ("T2", "T6")),
    ("backlog", ("T4", "T8", "T9")),
    ("csat", ("T1", "T2", "T3", "T6")),
    # Two NPS answers and one CES answer of the period have no ticket: they count, but list nothing.
    ("nps", ("T1", "T6")),
    ("ces", ("T1", "T6")),
])
def test_drilldown_lists_the_tickets_behind_the_figure(world, metric, tickets):
    assert numbers(world, metric) == world.numbers(*tickets)


def test_drilldown_applies_the_filters(world):
    assert numbers(world, "volume", replace(CURRENT, team_ids=(world.support.pk,))) == world.numbers("T1", "T2", "T3")
    assert numbers(world, "solved", replace(CURRENT, organization_ids=(world.organization.pk,))) == \
        world.numbers("T1", "T6")
    assert numbers(world, "backlog", replace(CURRENT, agent_ids=(world.b1.pk,))) == world.numbers("T4")
    assert numbers(world, "csat", replace(CURRENT, channels=("chat",))) == world.numbers("T2", "T3")
    # The previous week: T7 solved; at its end only T8 was open (T4 and T9 came later).
    assert numbers(world, "solved", CURRENT.previous()) == world.numbers("T7")
    assert numbers(world, "backlog", CURRENT.previous()) == world.numbers("T8")
    # The end of Thursday: T4, T8 and T6 (solved on Friday).
    assert numbers(world, "backlog", replace(CURRENT, end=date(2026, 11, 5))) == world.numbers("T4", "T6", "T8")


def test_drilldown_of_the_backlog_now_follows_the_tickets(world):
    today = reporting_today()
    filters = MetricFilters(start=today - timedelta(days=6), end=today)
    assert numbers(world, "backlog", filters) == world.numbers("T4", "T8", "T9")


def test_drilldown_is_one_query(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        list(metrics_drilldown(filters=CURRENT, user=world.manager, metric="sla_missed"))


def test_drilldown_of_an_unknown_metric_is_refused(world):
    with pytest.raises(InvalidMetricFilters):
        metrics_drilldown(filters=CURRENT, user=world.manager, metric="happiness")
