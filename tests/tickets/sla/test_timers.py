"""SLA timers driven by sla_timers_sync: starts, pauses, met, reopen, recomputation, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import make_customer, make_organization, make_team
from tests.tickets.sla.conftest import local, set_fields, ticket_at
from tickets.models import (
    BusinessHoliday,
    BusinessHours,
    Customer,
    Event,
    ReopenBehaviour,
    SlaPolicy,
    SlaTimer,
    Status,
    Ticket,
    TimerState,
)
from tickets.sla.selectors import ticket_sla
from tickets.sla.services import policy_for, sla_timers_sync

pytestmark = pytest.mark.django_db

FRIDAY_1755 = local(2026, 12, 4, 17, 55)


def current(ticket, metric: str) -> SlaTimer:
    return SlaTimer.objects.get(ticket=ticket, metric=metric, is_current=True)


def sla_events(ticket) -> list[tuple[str, str]]:
    return list(Event.objects.filter(ticket=ticket, kind__startswith="sla_").order_by("id")
                .values_list("kind", "field"))


# -- Scenarios from the issue -------------------------------------------------------------------


def test_friday_1755_with_one_business_hour_is_due_monday_0955(policy):
    ticket = ticket_at(FRIDAY_1755)

    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")

    timer = current(ticket, "first_response")
    assert timer.due_at == local(2026, 12, 7, 9, 55)
    assert timer.warning_at == local(2026, 12, 7, 9, 40)  # 75% of 60 business minutes
    assert timer.state == TimerState.RUNNING and timer.policy == policy and timer.target_minutes == 60
    assert current(ticket, "resolution").due_at == local(2026, 12, 7, 16, 55)  # 5 min + 7 h 55 business
    assert not SlaTimer.objects.filter(ticket=ticket, metric="next_response").exists()
    assert sla_events(ticket) == [("sla_started", "first_response"), ("sla_started", "resolution")]
    event = Event.objects.get(ticket=ticket, kind="sla_started", field="first_response")
    assert event.actor_kind == "sla" and event.actor_user is None
    assert event.to_value["due_at"] == local(2026, 12, 7, 9, 55).astimezone(UTC).isoformat()


def test_holiday_on_monday_moves_the_due_time_to_tuesday(policy, office_hours):
    BusinessHoliday.objects.create(calendar=office_hours, date=local(2026, 12, 7).date(), name="Company day")
    ticket = ticket_at(FRIDAY_1755)

    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")

    assert current(ticket, "first_response").due_at == local(2026, 12, 8, 9, 55)


def test_half_day_counts_only_its_hours(policy, office_hours):
    BusinessHoliday.objects.create(calendar=office_hours, date=local(2026, 12, 7).date(), name="Half day",
                                   intervals=["09:00-10:00"])
    ticket = ticket_at(FRIDAY_1755)  # 8 business hours: 5 min on Friday, 1 h on Monday's half day, 6 h 55

    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")

    assert current(ticket, "resolution").due_at == local(2026, 12, 8, 15, 55)


def test_overnight_shift_counts_until_morning_and_resumes_at_night(policy, office_hours):
    office_hours.weekly = {str(day): ["22:00-06:00"] for day in range(5)}
    office_hours.save()
    ticket = ticket_at(local(2026, 12, 8, 5, 30))  # Tuesday 05:30, inside Monday's night shift

    sla_timers_sync(ticket=ticket, now=local(2026, 12, 8, 5, 30), reason="created")

    # 30 minutes until 06:00, the other 30 from Tuesday 22:00.
    assert current(ticket, "first_response").due_at == local(2026, 12, 8, 22, 30)


def test_pending_pauses_the_clock_and_resuming_moves_due_by_the_paused_business_time(policy):
    monday_0900 = local(2026, 12, 7, 9, 0)
    ticket = ticket_at(monday_0900)
    sla_timers_sync(ticket=ticket, now=monday_0900, reason="created")
    assert current(ticket, "resolution").due_at == local(2026, 12, 7, 17, 0)

    ticket = set_fields(ticket, status=Status.PENDING)
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 10, 0), reason="status_changed")
    paused = current(ticket, "resolution")
    assert paused.state == TimerState.PAUSED and paused.paused_at == local(2026, 12, 7, 10, 0)
    assert [entry["paused"] for entry in ticket_sla(ticket)] == [True, True]

    ticket = set_fields(ticket, status=Status.OPEN)
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 8, 11, 0), reason="status_changed")

    resumed = current(ticket, "resolution")
    # Paused Monday 10:00-18:00 and Tuesday 09:00-11:00: 10 business hours.
    assert resumed.state == TimerState.RUNNING and resumed.paused_seconds == 10 * 3600
    assert resumed.due_at == local(2026, 12, 8, 18, 0)  # 8 h target + 10 h paused from Monday 09:00
    assert list(resumed.pauses.values_list("started_at", "ended_at", "status", "paused_seconds")) == [
        (local(2026, 12, 7, 10, 0), local(2026, 12, 8, 11, 0), "pending", 36000),
    ]
    # Pauses follow a status change that has its own event: no SLA event for them.
    assert sla_events(ticket) == [("sla_started", "first_response"), ("sla_started", "resolution")]


def test_first_public_agent_reply_meets_first_response_on_time(policy):
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")
    reply_at = local(2026, 12, 7, 9, 30)
    ticket = set_fields(ticket, status=Status.OPEN, first_responded_at=reply_at, last_agent_reply_at=reply_at)

    sla_timers_sync(ticket=ticket, now=reply_at, reason="agent_reply")

    timer = current(ticket, "first_response")
    assert (timer.state, timer.met_at, timer.breached_at) == (TimerState.MET, reply_at, None)
    assert current(ticket, "resolution").state == TimerState.RUNNING
    met = Event.objects.get(ticket=ticket, kind="sla_met")
    assert met.to_value["breached"] is False and met.field == "first_response"


def test_late_reply_records_the_breach_even_if_the_scan_never_fired(policy):
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")
    reply_at = local(2026, 12, 7, 11, 0)
    ticket = set_fields(ticket, status=Status.OPEN, first_responded_at=reply_at, last_agent_reply_at=reply_at)

    sla_timers_sync(ticket=ticket, now=reply_at, reason="agent_reply")

    timer = current(ticket, "first_response")
    assert timer.met_at == reply_at and timer.breached_at == local(2026, 12, 7, 9, 55)


def test_next_response_runs_from_the_first_unanswered_customer_message(policy):
    ticket = ticket_at(local(2026, 12, 7, 9, 0))
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 9, 0), reason="created")
    first_reply = local(2026, 12, 7, 9, 20)
    ticket = set_fields(ticket, status=Status.OPEN, first_responded_at=first_reply, last_agent_reply_at=first_reply)
    sla_timers_sync(ticket=ticket, now=first_reply, reason="agent_reply")
    assert not SlaTimer.objects.filter(ticket=ticket, metric="next_response").exists()

    ticket = set_fields(ticket, last_customer_message_at=local(2026, 12, 7, 10, 0))
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 10, 0), reason="customer_message")
    ticket = set_fields(ticket, last_customer_message_at=local(2026, 12, 7, 11, 0))
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 11, 0), reason="customer_message")

    timer = current(ticket, "next_response")
    assert timer.started_at == local(2026, 12, 7, 10, 0)  # the second message did not restart it
    assert timer.due_at == local(2026, 12, 7, 12, 0)

    ticket = set_fields(ticket, last_agent_reply_at=local(2026, 12, 7, 11, 30))
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 11, 30), reason="agent_reply")
    assert current(ticket, "next_response").met_at == local(2026, 12, 7, 11, 30)

    ticket = set_fields(ticket, last_customer_message_at=local(2026, 12, 7, 17, 0))
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 17, 0), reason="customer_message")

    history = list(SlaTimer.objects.filter(ticket=ticket, metric="next_response").order_by("started_at")
                   .values_list("started_at", "state", "is_current"))
    assert history == [
        (local(2026, 12, 7, 10, 0), TimerState.MET, False),
        (local(2026, 12, 7, 17, 0), TimerState.RUNNING, True),
    ]
    assert current(ticket, "next_response").due_at == local(2026, 12, 8, 10, 0)


def test_solve_meets_resolution_and_reopen_continues_without_the_solved_time(policy):
    monday_0900 = local(2026, 12, 7, 9, 0)
    ticket = ticket_at(monday_0900)
    sla_timers_sync(ticket=ticket, now=monday_0900, reason="created")
    solved_at = local(2026, 12, 7, 12, 0)
    ticket = set_fields(ticket, status=Status.SOLVED, solved_at=solved_at, first_responded_at=solved_at,
                        last_agent_reply_at=solved_at)
    sla_timers_sync(ticket=ticket, now=solved_at, reason="solved")
    assert (current(ticket, "resolution").state, current(ticket, "resolution").met_at) == (TimerState.MET, solved_at)

    reopened_at = local(2026, 12, 8, 10, 0)
    ticket = set_fields(ticket, status=Status.OPEN, solved_at=None, reopen_count=1,
                        last_customer_message_at=reopened_at)
    sla_timers_sync(ticket=ticket, now=reopened_at, reason="reopened")

    resolution = current(ticket, "resolution")
    # 3 business hours used before the solve; solved for 7 business hours (Mon 12-18, Tue 9-10).
    assert resolution.state == TimerState.RUNNING and resolution.met_at is None
    assert resolution.paused_seconds == 7 * 3600
    assert resolution.due_at == local(2026, 12, 8, 15, 0)  # 5 business hours left from Tuesday 10:00
    assert SlaTimer.objects.filter(ticket=ticket, metric="resolution").count() == 1
    assert list(resolution.pauses.values_list("status", flat=True)) == ["solved"]
    # The customer's message that reopened it starts a next response too.
    assert current(ticket, "next_response").started_at == reopened_at


def test_reopen_restarts_resolution_when_the_policy_says_so(policy):
    policy.resolution_on_reopen = ReopenBehaviour.RESTART
    policy.save()
    ticket = ticket_at(local(2026, 12, 7, 9, 0))
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 9, 0), reason="created")
    ticket = set_fields(ticket, status=Status.SOLVED, solved_at=local(2026, 12, 7, 12, 0))
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 12, 0), reason="solved")

    ticket = set_fields(ticket, status=Status.OPEN, solved_at=None)
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 8, 10, 0), reason="reopened")

    history = list(SlaTimer.objects.filter(ticket=ticket, metric="resolution").order_by("id")
                   .values_list("state", "is_current", "started_at", "due_at"))
    assert history == [
        (TimerState.MET, False, local(2026, 12, 7, 9, 0), local(2026, 12, 7, 17, 0)),
        (TimerState.RUNNING, True, local(2026, 12, 8, 10, 0), local(2026, 12, 8, 18, 0)),
    ]


def test_priority_change_recomputes_from_the_original_start(policy):
    monday_0900 = local(2026, 12, 7, 9, 0)
    ticket = ticket_at(monday_0900)
    sla_timers_sync(ticket=ticket, now=monday_0900, reason="created")

    ticket = set_fields(ticket, priority="urgent")
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 9, 5), reason="priority_changed")

    assert current(ticket, "first_response").due_at == local(2026, 12, 7, 9, 15)
    resolution = current(ticket, "resolution")
    assert (resolution.target_minutes, resolution.due_at) == (120, local(2026, 12, 7, 11, 0))
    updated = Event.objects.get(ticket=ticket, kind="sla_updated", field="resolution")
    assert updated.to_value["previous_due_at"] == local(2026, 12, 7, 17, 0).astimezone(UTC).isoformat()
    assert updated.to_value["target_minutes"] == 120


def test_team_change_switches_to_the_team_policy_and_its_calendar(policy):
    vip = make_team("VIP")
    always = BusinessHours.objects.create(name="24/7", timezone="UTC", always_open=True)
    team_policy = SlaPolicy.objects.create(name="VIP", position=1, calendar=always,
                                           targets={"normal": {"first_response": 30, "resolution": 60}})
    team_policy.teams.add(vip)
    friday = FRIDAY_1755
    ticket = ticket_at(friday)
    sla_timers_sync(ticket=ticket, now=friday, reason="created")

    ticket = set_fields(ticket, team=vip)
    sla_timers_sync(ticket=ticket, now=friday + timedelta(minutes=1), reason="team_changed")

    first = current(ticket, "first_response")
    assert (first.policy, first.due_at) == (team_policy, friday + timedelta(minutes=30))
    # The VIP policy has no next-response target; resolution follows.
    assert current(ticket, "resolution").due_at == friday + timedelta(hours=1)


def test_closing_cancels_unfinished_timers(policy):
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")
    ticket = set_fields(ticket, status=Status.CLOSED)

    sla_timers_sync(ticket=ticket, now=FRIDAY_1755 + timedelta(hours=1), reason="closed")

    assert set(SlaTimer.objects.filter(ticket=ticket).values_list("state", flat=True)) == {TimerState.CANCELLED}
    assert ticket_sla(ticket) == []


def test_a_policy_that_starts_to_apply_measures_from_creation(policy):
    policy.priorities = ["urgent"]
    policy.save()
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")
    assert not SlaTimer.objects.filter(ticket=ticket).exists()

    ticket = set_fields(ticket, priority="urgent")
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 10, 0), reason="priority_changed")

    # 15 business minutes from Friday 17:55 (5 on Friday), though the policy applied only on Monday.
    assert current(ticket, "first_response").due_at == local(2026, 12, 7, 9, 10)


def test_timers_of_a_ticket_that_stops_matching_are_cancelled_and_resume_when_it_matches_again(policy):
    policy.priorities = ["normal"]
    policy.save()
    ticket = ticket_at(local(2026, 12, 7, 9, 0))
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 9, 0), reason="created")

    ticket = set_fields(ticket, priority="low")
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 9, 10), reason="priority_changed")
    assert current(ticket, "first_response").state == TimerState.CANCELLED

    ticket = set_fields(ticket, priority="normal")
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 9, 20), reason="priority_changed")
    timer = current(ticket, "first_response")
    assert (timer.state, timer.due_at) == (TimerState.RUNNING, local(2026, 12, 7, 10, 0))


# -- Idempotency --------------------------------------------------------------------------------


def snapshot(ticket) -> list[tuple]:
    return list(SlaTimer.objects.filter(ticket=ticket).order_by("id").values_list(
        "metric", "state", "is_current", "due_at", "warning_at", "paused_at", "paused_seconds", "met_at",
        "breached_at", "policy_id", "target_minutes"))


@pytest.mark.parametrize("status", [Status.NEW, Status.PENDING, Status.SOLVED, Status.CLOSED])
def test_calling_sync_twice_changes_nothing_the_second_time(policy, status):
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")
    ticket = set_fields(ticket, status=status, solved_at=FRIDAY_1755 if status == Status.SOLVED else None)
    later = local(2026, 12, 7, 10, 0)
    sla_timers_sync(ticket=ticket, now=later, reason="status_changed")
    before, events_before = snapshot(ticket), Event.objects.count()

    changed = sla_timers_sync(ticket=ticket, now=later + timedelta(hours=1), reason="status_changed")

    assert changed == []
    assert snapshot(ticket) == before and Event.objects.count() == events_before


# -- Policy matching ----------------------------------------------------------------------------


def test_first_active_matching_policy_by_position_wins(office_hours):
    team = make_team()
    organization = make_organization()
    customer = make_customer(organization=organization)
    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.ENTERPRISE)
    catch_all = SlaPolicy.objects.create(name="Catch-all", position=100, targets={"normal": {"resolution": 60}})
    SlaPolicy.objects.create(name="Inactive", position=0, is_active=False)
    by_tag = SlaPolicy.objects.create(name="Outage", position=5, tags=["outage", "down"])
    enterprise = SlaPolicy.objects.create(name="Enterprise", position=10, customer_tiers=["enterprise"],
                                          priorities=["high", "urgent"])
    team_and_org = SlaPolicy.objects.create(name="Team+org", position=20, channels=["email"])
    team_and_org.teams.add(team)
    team_and_org.organizations.add(organization)

    plain = ticket_at(FRIDAY_1755)
    assert policy_for(ticket=plain) == catch_all
    tagged = ticket_at(FRIDAY_1755, tags=["printer", "down"], priority="urgent", requester=customer)
    assert policy_for(ticket=tagged) == by_tag  # position 5 before the enterprise policy at 10
    urgent_enterprise = ticket_at(FRIDAY_1755, priority="urgent", requester=customer)
    assert policy_for(ticket=urgent_enterprise) == enterprise
    by_email = ticket_at(FRIDAY_1755, requester=customer, team=team, channel="email")
    assert policy_for(ticket=by_email) == team_and_org
    by_web = ticket_at(FRIDAY_1755, requester=customer, team=team, channel="web")
    assert policy_for(ticket=by_web) == catch_all


def test_no_policy_no_timers(db):
    ticket = ticket_at(FRIDAY_1755)

    assert policy_for(ticket=ticket) is None
    assert sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created") == []
    assert ticket_sla(ticket) == []


def test_ticket_sla_lists_current_targets_in_the_api_shape(policy):
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")

    assert ticket_sla(ticket) == [
        {"metric": "first_response", "policy": "Standard", "target_minutes": 60,
         "due_at": local(2026, 12, 7, 9, 55), "paused": False, "met_at": None, "breached_at": None},
        {"metric": "resolution", "policy": "Standard", "target_minutes": 480,
         "due_at": local(2026, 12, 7, 16, 55), "paused": False, "met_at": None, "breached_at": None},
    ]


def test_due_time_across_the_new_york_dst_change_is_stored_in_utc(policy, office_hours):
    office_hours.timezone = "America/New_York"
    office_hours.save()
    new_york = ZoneInfo("America/New_York")
    created = datetime(2026, 10, 30, 17, 30, tzinfo=new_york)  # Friday, EDT (UTC-4)
    ticket = ticket_at(created)

    sla_timers_sync(ticket=ticket, now=created, reason="created")

    # 30 minutes on Friday, 30 on Monday after the clocks went back: 09:30 EST is 14:30 UTC.
    assert current(ticket, "first_response").due_at == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)


def test_merging_cancels_the_source_tickets_timers(policy):
    source = ticket_at(FRIDAY_1755)
    target = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=source, now=FRIDAY_1755, reason="created")

    source = set_fields(source, merged_into=target, status=Status.CLOSED)
    sla_timers_sync(ticket=source, now=FRIDAY_1755 + timedelta(minutes=1), reason="merged")

    assert set(SlaTimer.objects.filter(ticket=source).values_list("state", flat=True)) == {TimerState.CANCELLED}
    assert [kind for kind, _ in sla_events(source)].count("sla_cancelled") == 2


def test_a_reply_that_sets_pending_meets_first_response_and_pauses_resolution(policy):
    ticket = ticket_at(local(2026, 12, 7, 9, 0))
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 9, 0), reason="created")
    reply_at = local(2026, 12, 7, 9, 40)
    ticket = set_fields(ticket, status=Status.PENDING, first_responded_at=reply_at, last_agent_reply_at=reply_at)

    sla_timers_sync(ticket=ticket, now=reply_at, reason="agent_reply")

    assert current(ticket, "first_response").state == TimerState.MET
    resolution = current(ticket, "resolution")
    assert (resolution.state, resolution.paused_at) == (TimerState.PAUSED, reply_at)
    assert ticket_sla(ticket)[1]["paused"] is True


def test_a_ticket_created_on_hold_starts_paused(policy):
    ticket = ticket_at(local(2026, 12, 7, 9, 0))
    ticket = set_fields(ticket, status=Status.ON_HOLD)

    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 9, 0), reason="created")

    assert {timer.state for timer in SlaTimer.objects.filter(ticket=ticket)} == {TimerState.PAUSED}
    ticket = set_fields(ticket, status=Status.OPEN)
    sla_timers_sync(ticket=ticket, now=local(2026, 12, 7, 11, 0), reason="status_changed")
    assert current(ticket, "first_response").due_at == local(2026, 12, 7, 12, 0)


def test_a_sync_that_changes_nothing_costs_two_queries(policy, django_assert_max_num_queries):
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")
    ticket = Ticket.objects.select_related("requester").get(pk=ticket.pk)

    with django_assert_max_num_queries(2):  # the timers (locked) and the matching policy
        assert sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="tags_changed") == []
