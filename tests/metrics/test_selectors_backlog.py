"""The backlog now (from the tickets, by age) and its trend (from the facts), for a period that
includes today; reporting days in UTC here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from metrics.selectors import MetricFilters, metrics_summary, metrics_timeseries, reporting_today
from metrics.services import ticket_facts_refresh
from tests.factories import make_agent, make_team, make_ticket
from tickets.models import Event, Status, Ticket
from tickets.services import ticket_merge, ticket_set_status

pytestmark = pytest.mark.django_db


def aged(age: timedelta, **fields) -> Ticket:
    ticket = make_ticket(**fields)
    instant = timezone.now() - age
    Ticket.objects.filter(pk=ticket.pk).update(created_at=instant)
    Event.objects.filter(ticket=ticket).update(created_at=instant)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def backlog():
    team, other_team = make_team(), make_team()
    agent = make_agent(team, other_team)
    tickets = {
        "2 hours": aged(timedelta(hours=2), team=team),
        "2 days": aged(timedelta(days=2), team=team),
        "5 days": aged(timedelta(days=5), team=team),
        "10 days": aged(timedelta(days=10), team=team),
        "40 days": aged(timedelta(days=40), team=team),
        "solved": aged(timedelta(days=3), team=team),
        "duplicate": aged(timedelta(days=3), team=team),
        "other team": aged(timedelta(days=1, hours=1), team=other_team),
    }
    ticket_set_status(ticket=tickets["solved"], status=Status.SOLVED, actor=agent)
    ticket_merge(source=tickets["duplicate"], target=tickets["2 days"], actor=agent)
    ticket_facts_refresh(ticket_ids=[ticket.pk for ticket in tickets.values()])
    return team, other_team


def test_backlog_now_by_age_leaves_out_solved_and_merged_tickets(backlog):
    team, _other_team = backlog
    today = reporting_today()
    filters = MetricFilters(start=today - timedelta(days=6), end=today, team_ids=(team.pk,))

    figure = metrics_summary(filters=filters)["metrics"]["backlog"]

    assert figure["by_age"] == [
        {"bucket": "lt_1d", "count": 1}, {"bucket": "1_3d", "count": 1}, {"bucket": "3_7d", "count": 1},
        {"bucket": "7_30d", "count": 1}, {"bucket": "gt_30d", "count": 1},
    ]
    assert figure["value"] == 5
    # At the end of the day before the period: the tickets 10 and 40 days old were there already.
    assert figure["previous"] == 2
    assert figure["change"] == 1.5


def test_backlog_of_all_teams_and_the_trend_ends_with_now(backlog):
    today = reporting_today()
    filters = MetricFilters(start=today - timedelta(days=6), end=today)

    assert metrics_summary(filters=filters)["metrics"]["backlog"]["value"] == 6
    trend = metrics_timeseries(filters=filters)["series"]["backlog"]
    assert trend[-1] == 6
    # Six days before today, end of day: the 10 and 40 days old ones (the 5 days old one came later).
    assert trend[0] == 2
