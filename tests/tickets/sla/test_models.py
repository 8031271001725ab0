"""SLA configuration models: calendars validate and build, policies validate, holidays import."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from tests.tickets.sla.conftest import WEEKDAYS_9_TO_18
from tickets.models import BusinessHoliday, BusinessHours, SlaPolicy
from tickets.sla.services import business_hours_import_holidays

pytestmark = pytest.mark.django_db


def test_business_hours_build_the_calendar_with_holidays_and_special_days():
    hours = BusinessHours.objects.create(name="Office", timezone="Asia/Shanghai", weekly=WEEKDAYS_9_TO_18)
    BusinessHoliday.objects.create(calendar=hours, date=date(2026, 10, 1), name="National Day")
    BusinessHoliday.objects.create(calendar=hours, date=date(2026, 12, 31), name="Eve", intervals=["09:00-12:00"])

    calendar = hours.to_calendar()

    assert calendar.timezone == "Asia/Shanghai"
    assert calendar.shifts_on(date(2026, 10, 1)) == ()
    assert [str(shift) for shift in calendar.shifts_on(date(2026, 12, 31))] == ["09:00-12:00"]
    assert [str(shift) for shift in calendar.shifts_on(date(2026, 12, 7))] == ["09:00-18:00"]
    assert calendar.shifts_on(date(2026, 12, 6)) == ()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "Unknown time zone"),
        ({"weekly": {"0": ["09:00-13:00", "12:00-18:00"]}}, "overlap"),
        ({"weekly": {"7": ["09:00-18:00"]}}, "Weekdays are numbered"),
        ({"weekly": {"0": ["9 to 5"]}}, "is not a shift"),
        ({"weekly": {"0": "09:00-18:00"}}, "give a list of shifts"),
        ({"always_open": True, "weekly": {"0": ["09:00-18:00"]}}, "24/7"),
    ],
)
def test_invalid_calendars_are_refused_with_a_message(fields, message):
    hours = BusinessHours(name="Bad", **fields)

    with pytest.raises(ValidationError) as error:
        hours.full_clean()

    assert message in " ".join(error.value.messages)


def test_a_holiday_with_malformed_hours_is_refused():
    hours = BusinessHours.objects.create(name="Office", weekly=WEEKDAYS_9_TO_18)

    with pytest.raises(ValidationError):
        BusinessHoliday(calendar=hours, date=date(2026, 12, 24), intervals=["9-12"]).full_clean()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"targets": {"critical": {"first_response": 10}}}, "targets"),
        ({"targets": {"urgent": {"first_reply": 10}}}, "targets"),
        ({"targets": {"urgent": {"first_response": 0}}}, "targets"),
        ({"targets": {"urgent": {"first_response": "10"}}}, "targets"),
        ({"targets": {"urgent": 10}}, "targets"),
        ({"warning_percent": 80, "warning_minutes_before": 10}, "warning_minutes_before"),
        ({"warning_percent": 120}, "warning_percent"),
        ({"pause_statuses": ["open"]}, "pause_statuses"),
    ],
)
def test_invalid_policies_are_refused(fields, field):
    policy = SlaPolicy(name="Bad", **fields)

    with pytest.raises(ValidationError) as error:
        policy.clean()

    assert field in error.value.message_dict


def test_a_valid_policy_passes_and_reads_its_targets():
    policy = SlaPolicy(name="Good", targets={"urgent": {"first_response": 15, "resolution": 240}},
                       warning_percent=None, warning_minutes_before=5)
    policy.clean()

    assert policy.target_minutes(metric="first_response", priority="urgent") == 15
    assert policy.target_minutes(metric="next_response", priority="urgent") is None
    assert policy.target_minutes(metric="first_response", priority="low") is None
    assert policy.warning_offset_minutes(15) == 10
    assert policy.pause_statuses == ["pending", "on_hold"]


def test_importing_chinese_holidays_adds_closed_days_and_make_up_workdays():
    hours = BusinessHours.objects.create(name="Shanghai", timezone="Asia/Shanghai", weekly=WEEKDAYS_9_TO_18)
    BusinessHoliday.objects.create(calendar=hours, date=date(2026, 10, 1), name="Our own name")

    added = business_hours_import_holidays(calendar=hours, country="cn", year=2026)

    rows = {row.date: row for row in hours.holidays.all()}
    assert added == len(rows) - 1
    assert rows[date(2026, 10, 1)].name == "Our own name"  # kept as entered
    assert rows[date(2026, 10, 2)].intervals == [] and rows[date(2026, 10, 2)].source == "imported: CN 2026"
    assert rows[date(2026, 1, 4)].intervals == ["09:00-18:00"]  # a Sunday make-up workday
    assert business_hours_import_holidays(calendar=hours, country="CN", year=2026) == 0
    hours.to_calendar()


def test_importing_an_unknown_country_is_refused():
    hours = BusinessHours.objects.create(name="Office", weekly=WEEKDAYS_9_TO_18)

    with pytest.raises(ValidationError):
        business_hours_import_holidays(calendar=hours, country="XX", year=2026)
    assert not hours.holidays.exists()
