"""MetricFilters.from_params: periods, validation and the round trip through as_params (the role
scope is tested in test_metrics_permissions.py)."""

from __future__ import annotations

from datetime import date

import pytest
from django.http import QueryDict

from metrics.selectors import InvalidMetricFilters, MetricFilters
from tests.factories import make_organization, make_team, make_user
from tickets.models import Role

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 15)


@pytest.fixture
def manager():
    return make_user(role=Role.MANAGER)


def filters_of(query: str, user, today: date = TODAY) -> MetricFilters:
    return MetricFilters.from_params(QueryDict(query), user=user, today=today)


@pytest.mark.parametrize(("query", "start", "end"), [
    ("", date(2026, 2, 14), TODAY),  # 30 days including today by default
    ("period=today", TODAY, TODAY),
    ("period=7d", date(2026, 3, 9), TODAY),
    ("period=30d", date(2026, 2, 14), TODAY),
    ("period=90d", date(2025, 12, 16), TODAY),
    ("period=this_month", date(2026, 3, 1), TODAY),
    ("period=last_month", date(2026, 2, 1), date(2026, 2, 28)),
    ("period=custom&start=2025-12-24&end=2026-01-02", date(2025, 12, 24), date(2026, 1, 2)),
])
def test_periods(manager, query, start, end):
    filters = filters_of(query, manager)
    assert (filters.start, filters.end) == (start, end)


def test_last_month_in_january_is_december():
    filters = filters_of("period=last_month", make_user(role=Role.ADMIN), today=date(2026, 1, 10))
    assert (filters.start, filters.end) == (date(2025, 12, 1), date(2025, 12, 31))


def test_previous_period_has_the_same_length_just_before():
    filters = MetricFilters(start=date(2026, 3, 1), end=date(2026, 3, 15))
    previous = filters.previous()
    assert (previous.start, previous.end) == (date(2026, 2, 14), date(2026, 2, 28))


def test_every_filter_is_read_and_survives_the_round_trip(manager):
    support, billing = make_team(), make_team()
    agent = make_user(role=Role.AGENT, teams=[support])
    organization = make_organization()
    query = (f"period=7d&team={billing.pk}&team={support.pk}&agent={agent.pk}&channel=email&channel=chat"
             f"&priority=high&organization={organization.pk}&hours=calendar")

    filters = filters_of(query, manager)

    assert filters == MetricFilters(
        start=date(2026, 3, 9), end=TODAY, team_ids=tuple(sorted((support.pk, billing.pk))), agent_ids=(agent.pk,),
        channels=("chat", "email"), priorities=("high",), organization_ids=(organization.pk,), business_hours=False,
    )
    assert MetricFilters.from_params(filters.as_params(), user=manager, today=date(2030, 1, 1)) == filters
    assert filters.as_params()["period"] == ["custom"]


@pytest.mark.parametrize(("query", "message"), [
    ("period=fortnight", "Unknown period “fortnight”."),
    ("period=custom&start=2026-01-01", "A custom period needs a start and an end date."),
    ("period=custom&start=2026-01-01&end=yesterday", "“end” must be a date like 2026-11-30."),
    ("period=custom&start=2026-02-01&end=2026-01-31", "The end date is before the start date."),
    ("period=custom&start=2025-01-01&end=2026-02-05", "A period can be at most 400 days long."),
    ("channel=fax", "Unknown channel “fax”."),
    ("priority=whenever", "Unknown priority “whenever”."),
    ("team=support", "“team” must be a number."),
    ("team=999999", "Unknown team."),
    ("agent=999999", "Unknown agent."),
    ("organization=999999", "Unknown organization."),
    ("hours=office", "Hours must be “business” or “calendar”."),
    ("period=7d&period=30d", "Give “period” only once."),
])
def test_bad_values_are_refused_with_a_message(manager, query, message):
    with pytest.raises(InvalidMetricFilters) as refused:
        filters_of(query, manager)
    assert str(refused.value) == message


def test_a_customer_is_no_agent_filter(manager):
    customer_user = make_user(role=Role.CUSTOMER)
    with pytest.raises(InvalidMetricFilters):
        filters_of(f"agent={customer_user.pk}", manager)


def test_exactly_400_days_are_allowed(manager):
    filters = filters_of("period=custom&start=2025-01-01&end=2026-02-04", manager)
    assert filters.days == 400


def test_plain_mappings_work_as_well_as_query_dicts(manager):
    filters = MetricFilters.from_params({"period": "custom", "start": "2026-01-01", "end": ["2026-01-31"]},
                                        user=manager)
    assert (filters.start, filters.end) == (date(2026, 1, 1), date(2026, 1, 31))
