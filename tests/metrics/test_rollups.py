"""The daily rollups: hand-computed rows for a small fixture, rebuilds, decided SLA targets, drift.

Tickets are built through the real services at chosen instants (`at`, as in test_facts.py);
reporting days are Shanghai's, so an instant late in the UTC evening belongs to the next day.
"""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from metrics.models import DailyRollup, TicketFact
from metrics.rollups import MEASURES, rollups_drift, rollups_drift_check, rollups_rebuild
from metrics.services import ticket_facts_refresh
from metrics.tasks import metrics_rollups_drift_check
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tests.metrics.test_facts import at, local, ticket_created
from tickets.models import Metric, SlaTimer, Status, Ticket, TimerState
from tickets.services import ticket_assign, ticket_merge, ticket_reply, ticket_set_status

pytestmark = pytest.mark.django_db

HOUR = 3600


@pytest.fixture(autouse=True)
def shanghai_days(settings):
    settings.HELPDESK_METRICS_TIME_ZONE = "Asia/Shanghai"


def rollup_rows() -> dict[tuple[Any, ...], dict[str, int]]:
    """The rollup table as {(day, team, agent, channel, priority): {non-zero measures}}."""
    return {
        (row.day, row.team_id, row.agent_id, row.channel, row.priority): {
            measure: getattr(row, measure) for measure in MEASURES if getattr(row, measure)
        }
        for row in DailyRollup.objects.all()
    }


def refresh_all() -> None:
    ticket_facts_refresh(ticket_ids=list(Ticket.objects.values_list("pk", flat=True)))


@pytest.fixture
def week(db):
    """Five tickets of one team over Monday 7 and Tuesday 8 December (times in Shanghai)."""
    team = make_team()
    agent = make_agent(team)
    customer = make_customer()
    answered = ticket_created(local(2026, 12, 7, 9, 0), team=team, requester=customer)
    with at(local(2026, 12, 7, 9, 30)):
        ticket_assign(ticket=answered, assignee=agent, actor=agent)
        ticket_reply(ticket=answered, actor=agent, body_text="Restart it.")
    with at(local(2026, 12, 8, 10, 0)):
        ticket_set_status(ticket=answered, status=Status.SOLVED, actor=agent)
    # Created late on Monday, answered just after midnight: Tuesday's first response (Monday in UTC).
    late = ticket_created(local(2026, 12, 7, 23, 30), team=team)
    with at(local(2026, 12, 8, 0, 30)):
        ticket_reply(ticket=late, actor=agent, body_text="Night shift here.")
    self_solved = ticket_created(local(2026, 12, 7, 10, 0), team=team)
    with at(local(2026, 12, 7, 10, 20)):
        ticket_set_status(ticket=self_solved, status=Status.SOLVED, actor=self_solved.requester.user)
    duplicate = ticket_created(local(2026, 12, 7, 11, 0), team=team, requester=customer)
    with at(local(2026, 12, 7, 11, 10)):
        ticket_reply(ticket=duplicate, actor=agent, body_text="Answered on the duplicate.")
    with at(local(2026, 12, 7, 11, 30)):
        ticket_merge(source=duplicate, target=answered, actor=agent)
    reopened = ticket_created(local(2026, 12, 8, 9, 0), team=team, requester=customer)
    with at(local(2026, 12, 8, 9, 10)):
        ticket_assign(ticket=reopened, assignee=agent, actor=agent)
        ticket_reply(ticket=reopened, actor=agent, body_text="Try this.", status=Status.SOLVED)
    with at(local(2026, 12, 8, 10, 0)):
        ticket_reply(ticket=reopened, actor=customer.user, body_text="Still broken.")
    with at(local(2026, 12, 8, 11, 0)):
        ticket_reply(ticket=reopened, actor=agent, body_text="Replaced it.", status=Status.SOLVED)
    return {"team": team, "agent": agent, "channel": answered.channel, "priority": answered.priority}


def expected_week(week) -> dict[tuple[Any, ...], dict[str, int]]:
    team, agent, channel, priority = week["team"].pk, week["agent"].pk, week["channel"], week["priority"]
    monday, tuesday = date(2026, 12, 7), date(2026, 12, 8)
    return {
        # The answered ticket, credited to the agent who held it when it was solved.
        (monday, team, agent, channel, priority): {
            "created": 1, "first_replied": 1, "frt_seconds_sum": 30 * 60, "frt_business_seconds_sum": 30 * 60,
        },
        # The late, the self-solved and the merged ticket are nobody's; the merged one is only volume.
        (monday, team, None, channel, priority): {
            "created": 3, "solved": 1, "resolution_seconds_sum": 20 * 60, "resolution_business_seconds_sum": 20 * 60,
            "solved_by_customer": 1,
        },
        (tuesday, team, None, channel, priority): {
            "first_replied": 1, "frt_seconds_sum": HOUR, "frt_business_seconds_sum": HOUR,
        },
        # Solved on Tuesday: the answered one (25 h, first contact) and the reopened one (10 min,
        # three public replies in all, reopened once, so no first contact resolution).
        (tuesday, team, agent, channel, priority): {
            "created": 1, "first_replied": 1, "frt_seconds_sum": 10 * 60, "frt_business_seconds_sum": 10 * 60,
            "solved": 2, "resolution_seconds_sum": 25 * HOUR + 10 * 60,
            "resolution_business_seconds_sum": 25 * HOUR + 10 * 60, "fcr": 1, "reopened": 1,
            "public_agent_replies_sum": 1 + 2,
        },
    }


def test_refreshed_facts_roll_up_into_the_hand_computed_rows(week):
    refresh_all()

    assert rollup_rows() == expected_week(week)


def test_rebuild_from_the_facts_writes_the_same_rows(week):
    refresh_all()
    DailyRollup.objects.all().delete()

    assert rollups_rebuild() == 4

    assert rollup_rows() == expected_week(week)


def test_rebuild_of_a_range_replaces_only_those_days(week):
    refresh_all()
    DailyRollup.objects.update(created=99)

    rollups_rebuild(day_from=date(2026, 12, 8), day_to=date(2026, 12, 8))

    rows, expected = rollup_rows(), expected_week(week)
    for key, measures in expected.items():
        if key[0] == date(2026, 12, 8):
            assert rows[key] == measures
        else:
            assert rows[key] == {**measures, "created": 99}


def test_refresh_leaves_rollups_unchanged_when_nothing_changed(week):
    refresh_all()
    before = list(DailyRollup.objects.order_by("id").values())

    refresh_all()

    assert list(DailyRollup.objects.order_by("id").values()) == before


def timer(ticket: Ticket, metric: str, **fields: Any) -> SlaTimer:
    now = timezone.now()
    return SlaTimer.objects.create(
        ticket=ticket, metric=metric, target_minutes=60, started_at=fields.pop("started_at", now - timedelta(days=3)),
        **fields,
    )


def test_only_decided_sla_targets_are_counted_on_their_due_day(db):
    team = make_team()
    ticket = ticket_created(local(2026, 11, 30, 9, 0), team=team)
    SlaTimer.objects.filter(ticket=ticket).delete()
    now = timezone.now()
    due = local(2026, 12, 1, 10, 0)
    timer(ticket, Metric.FIRST_RESPONSE, state=TimerState.MET, due_at=due, met_at=due - timedelta(minutes=5),
          is_current=False)
    # Met after its due time: missed.
    timer(ticket, Metric.NEXT_RESPONSE, state=TimerState.MET, due_at=due, met_at=due + timedelta(minutes=5),
          breached_at=due, is_current=False)
    # Breached and still running (due late on 1 December in UTC, 2 December in Shanghai).
    timer(ticket, Metric.RESOLUTION, state=TimerState.RUNNING, due_at=local(2026, 12, 2, 1, 0), breached_at=local(2026, 12, 2, 1, 0))
    # Not decided: cancelled, and running but not yet due.
    timer(ticket, Metric.NEXT_RESPONSE, state=TimerState.CANCELLED, due_at=due, is_current=False)
    timer(ticket, Metric.NEXT_RESPONSE, state=TimerState.RUNNING, due_at=now + timedelta(hours=1))

    ticket_facts_refresh(ticket_ids=[ticket.pk])

    targets = TicketFact.objects.get(ticket=ticket).sla_targets
    assert [(target["metric"], target["met"]) for target in targets] == [
        ("first_response", True), ("next_response", False), ("resolution", False),
    ]
    sla = {key[0]: (row.get("sla_due"), row.get("sla_met")) for key, row in rollup_rows().items() if "sla_due" in row}
    assert sla == {date(2026, 12, 1): (2, 1), date(2026, 12, 2): (1, None)}


def test_a_running_target_past_due_counts_as_missed_before_the_scan_marks_it(db):
    ticket = ticket_created(local(2026, 11, 30, 9, 0), team=make_team())
    SlaTimer.objects.filter(ticket=ticket).delete()
    timer(ticket, Metric.FIRST_RESPONSE, state=TimerState.RUNNING, due_at=local(2026, 11, 30, 10, 0))

    ticket_facts_refresh(ticket_ids=[ticket.pk])

    fact = TicketFact.objects.get(ticket=ticket)
    assert [(target["metric"], target["met"]) for target in fact.sla_targets] == [("first_response", False)]
    assert DailyRollup.objects.get(day=date(2026, 11, 30), sla_due=1).sla_met == 0


def test_recompute_command_rebuilds_facts_then_rollups(week):
    DailyRollup.objects.create(day=date(2026, 12, 7), channel="email", priority="normal", created=5)
    out = StringIO()

    call_command("recompute_metrics", stdout=out)

    assert rollup_rows() == expected_week(week)
    assert "Recomputed the facts of 5 tickets." in out.getvalue()
    assert "Rebuilt 4 daily rollup rows." in out.getvalue()


def test_drift_check_reports_exactly_the_corrupted_row_and_repair_fixes_it(week):
    refresh_all()
    team, agent = week["team"].pk, week["agent"].pk
    DailyRollup.objects.filter(day=date(2026, 12, 8), agent_id=agent).update(solved=7, fcr=0)
    DailyRollup.objects.filter(day=date(2026, 12, 8), agent_id=None).delete()

    drifts = rollups_drift(day_from=date(2026, 12, 1), day_to=date(2026, 12, 31))

    assert [(drift.key[:3], drift.stored, drift.recomputed) for drift in drifts] == [
        ((date(2026, 12, 8), team, None), dict.fromkeys(MEASURES),
         {measure: expected_week(week)[(date(2026, 12, 8), team, None, week["channel"], week["priority"])].get(
             measure, 0) for measure in MEASURES}),
        ((date(2026, 12, 8), team, agent), {"solved": 7, "fcr": 0}, {"solved": 2, "fcr": 1}),
    ]

    rollups_rebuild(day_from=date(2026, 12, 1), day_to=date(2026, 12, 31))

    assert rollups_drift(day_from=date(2026, 12, 1), day_to=date(2026, 12, 31)) == []
    assert rollup_rows() == expected_week(week)


def test_drift_command_lists_the_differing_row_exits_1_and_repairs_it(db, caplog):
    agent = make_agent(team := make_team())
    ticket = make_ticket(team=team)
    ticket_reply(ticket=ticket, actor=agent, body_text="Done.", status=Status.SOLVED)
    ticket_facts_refresh(ticket_ids=[ticket.pk])
    out = StringIO()
    call_command("check_metrics_drift", "--days", "3", stdout=out)
    assert "The rollups of the last 3 days match the facts." in out.getvalue()
    row = DailyRollup.objects.get()
    DailyRollup.objects.filter(pk=row.pk).update(first_replied=5)

    with pytest.raises(CommandError) as raised:
        call_command("check_metrics_drift", "--days", "3", stdout=(out := StringIO()))

    assert raised.value.returncode == 1
    assert str(raised.value) == "1 rollup row differs from the facts."
    assert out.getvalue().splitlines() == [
        f"{row.day.isoformat()} team={team.pk} agent=None {row.channel}/{row.priority}: first_replied 5 != 1"
    ]
    assert "first_replied 5 != 1" in caplog.text

    call_command("check_metrics_drift", "--days", "3", "--repair", stdout=(out := StringIO()))

    assert "Repaired" in out.getvalue()
    assert DailyRollup.objects.get().first_replied == 1
    assert rollups_drift_check(days=3) == []


def test_nightly_drift_task_counts_the_differing_rows_without_repairing(db, celery_eager):
    ticket = make_ticket(team=make_team())
    ticket_facts_refresh(ticket_ids=[ticket.pk])
    DailyRollup.objects.update(created=2)

    assert metrics_rollups_drift_check.delay().get() == 1
    assert DailyRollup.objects.get().created == 2


def test_a_target_decided_later_moves_the_sla_counts_and_matches_a_rebuild(db):
    ticket = ticket_created(local(2026, 11, 30, 9, 0), team=make_team())
    SlaTimer.objects.filter(ticket=ticket).delete()
    due = timezone.now() + timedelta(hours=1)
    running = timer(ticket, Metric.RESOLUTION, state=TimerState.RUNNING, due_at=due)
    ticket_facts_refresh(ticket_ids=[ticket.pk])
    assert not DailyRollup.objects.filter(sla_due__gt=0).exists()

    SlaTimer.objects.filter(pk=running.pk).update(state=TimerState.MET, met_at=due - timedelta(minutes=30))
    ticket_facts_refresh(ticket_ids=[ticket.pk])
    assert list(DailyRollup.objects.filter(sla_due__gt=0).values_list("sla_due", "sla_met")) == [(1, 1)]

    # Found late after all (a breach recorded, the timer recomputed): met becomes missed.
    SlaTimer.objects.filter(pk=running.pk).update(breached_at=due)
    ticket_facts_refresh(ticket_ids=[ticket.pk])
    assert list(DailyRollup.objects.filter(sla_due__gt=0).values_list("sla_due", "sla_met")) == [(1, 0)]
    assert rollups_drift(day_from=date(2026, 11, 1), day_to=date(2027, 1, 31)) == []
