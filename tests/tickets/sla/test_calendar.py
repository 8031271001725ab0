"""Business-hours calendar arithmetic (tickets/sla/calendar.py).

The property tests compare the calendar with a brute-force reference that decides, minute by
minute, whether the calendar is open, straight from the definition in the module docstring: a
shift is open from the instant the local clock first shows its start until it first shows its end.
"The clock first shows W by instant t" is computed as "the latest wall time shown up to t is >= W",
which handles spring-forward gaps (the clock jumps past W) and fall-back repeats (it shows W twice)
without any of the implementation's conversions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tickets.sla.calendar import (
    BusinessCalendar,
    LocalInterval,
    business_add,
    business_between,
    holidays_for,
    is_open,
    next_open,
    open_intervals,
    weekend_workdays_for,
)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
WEEKDAYS_9_TO_18 = {weekday: ["09:00-18:00"] for weekday in range(5)}

# 2026 DST changes (Shanghai has none: the same dates serve as ordinary ones there).
DST_DATES = {
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    "Europe/London": [date(2026, 3, 29), date(2026, 10, 25)],
    "Asia/Shanghai": [date(2026, 3, 8), date(2026, 10, 25)],
}


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# -- Brute-force reference ----------------------------------------------------------------------


@dataclass
class CalendarSpec:
    """What the strategy drew, kept apart from the calendar so the reference does not use it."""

    timezone: str
    weekly: list[list[tuple[int, int]]]
    always_open: bool
    holidays: set[date]
    special_days: dict[date, list[tuple[int, int]]]

    def build(self) -> BusinessCalendar:
        return BusinessCalendar.build(
            timezone=self.timezone,
            weekly=[[LocalInterval(start, end) for start, end in day] for day in self.weekly],
            always_open=self.always_open,
            holidays=self.holidays,
            special_days={
                day: [LocalInterval(start, end) for start, end in shifts]
                for day, shifts in self.special_days.items()
            },
        )

    def wall_shifts(self, day: date) -> list[tuple[datetime, datetime]]:
        """Naive local wall-clock (start, end) of the shifts starting on `day`."""
        if day in self.holidays:
            pairs: list[tuple[int, int]] = []
        elif day in self.special_days:
            pairs = self.special_days[day]
        elif self.always_open:
            pairs = [(0, 1440)]
        else:
            pairs = self.weekly[day.weekday()]
        midnight = datetime(day.year, day.month, day.day)
        return [
            (midnight + start * MINUTE, midnight + (end if end > start else end + 1440) * MINUTE)
            for start, end in pairs
        ]


def reference_open_minutes(spec: CalendarSpec, window_start: datetime, minutes: int) -> list[bool]:
    """For each minute of the window (UTC, minute aligned), whether the calendar is open in it."""
    zone = ZoneInfo(spec.timezone)
    warm_up = 3 * 60  # a fall-back rewinds the clock by an hour at most
    first = (window_start - timedelta(days=3)).astimezone(zone).date()
    last = (window_start + (minutes + 3 * 24 * 60) * MINUTE).astimezone(zone).date()
    shifts = sorted(
        shift
        for offset in range((last - first).days + 1)
        for shift in spec.wall_shifts(first + timedelta(days=offset))
    )
    latest_wall = datetime.min
    reached = 0  # shifts[:reached] have started: their start <= latest_wall
    latest_end = datetime.min  # the latest end among them
    flags = []
    for index in range(-warm_up, minutes):
        wall = (window_start + index * MINUTE).astimezone(zone).replace(tzinfo=None)
        latest_wall = max(latest_wall, wall)
        while reached < len(shifts) and shifts[reached][0] <= latest_wall:
            latest_end = max(latest_end, shifts[reached][1])
            reached += 1
        if index >= 0:
            flags.append(latest_wall < latest_end)
    return flags


def prefix_sums(flags: list[bool]) -> list[int]:
    return [0, *itertools.accumulate(flags)]


def reference_add(flags: list[bool], start_index: int, minutes: int) -> int | None:
    """Minute index at which `minutes` open minutes have elapsed from start_index; None if the
    window is too short."""
    if minutes == 0:
        return start_index
    counted = 0
    for index in range(start_index, len(flags)):
        counted += flags[index]
        if counted == minutes:
            return index + 1
    return None


# -- Strategies ---------------------------------------------------------------------------------


@st.composite
def day_shifts(draw: st.DrawFn) -> list[tuple[int, int]]:
    """0–3 non-overlapping shifts within a day (end may be 24:00)."""
    count = draw(st.integers(0, 3))
    points = sorted(draw(st.lists(st.integers(0, 1440), min_size=2 * count, max_size=2 * count, unique=True)))
    return [(points[2 * index], points[2 * index + 1]) for index in range(count)]


@st.composite
def weekly_schedules(draw) -> list[list[tuple[int, int]]]:
    days = [draw(day_shifts()) for _ in range(7)]
    for weekday in range(7):
        if days[weekday] and draw(st.booleans()):
            # Make the day's last shift an overnight one, ending by the next day's first start.
            start, _end = days[weekday][-1]
            following = days[(weekday + 1) % 7]
            limit = min(start - 1, following[0][0] if following else 1440)
            if limit >= 1:
                days[weekday][-1] = (start, draw(st.integers(1, limit)))
    return days


@st.composite
def calendars_around_dst(draw: st.DrawFn) -> tuple[CalendarSpec, datetime]:
    """A random calendar and a minute-aligned UTC window start within days of a DST change."""
    timezone = draw(st.sampled_from(sorted(DST_DATES)))
    change = draw(st.sampled_from(DST_DATES[timezone]))
    window_start = datetime(change.year, change.month, change.day, tzinfo=UTC) + MINUTE * draw(
        st.integers(-7 * 24 * 60, 24 * 60)
    )
    always_open = draw(st.integers(0, 9)) == 0
    weekly = [[] for _ in range(7)] if always_open else draw(weekly_schedules())
    nearby = st.dates(min_value=change - timedelta(days=12), max_value=change + timedelta(days=14))
    exception_dates = draw(st.lists(nearby, max_size=5, unique=True))
    split = draw(st.integers(0, len(exception_dates)))
    special_days = {day: draw(day_shifts()) for day in exception_dates[split:]}
    spec = CalendarSpec(timezone, weekly, always_open, set(exception_dates[:split]), special_days)
    return spec, window_start


def build_or_reject(spec: CalendarSpec) -> BusinessCalendar:
    try:
        return spec.build()
    except ValueError:
        # A special day's first shift may start inside the previous night's overnight shift.
        assume(False)
        raise


WINDOW_MINUTES = 8 * 24 * 60
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


# -- Properties ---------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(drawn=calendars_around_dst(), data=st.data())
def test_add_between_and_open_intervals_agree_with_the_minute_by_minute_reference(drawn, data):
    spec, window_start = drawn
    calendar = build_or_reject(spec)
    flags = reference_open_minutes(spec, window_start, WINDOW_MINUTES)
    sums = prefix_sums(flags)

    # open_intervals: the runs of open minutes, joined.
    window_end = window_start + WINDOW_MINUTES * MINUTE
    expected_runs = []
    for index, is_open_minute in enumerate(flags):
        if is_open_minute and expected_runs and expected_runs[-1][1] == index:
            expected_runs[-1][1] = index + 1
        elif is_open_minute:
            expected_runs.append([index, index + 1])
    assert list(open_intervals(calendar, window_start, window_end)) == [
        (window_start + begin * MINUTE, window_start + finish * MINUTE) for begin, finish in expected_runs
    ]

    for _ in range(6):
        start_index = data.draw(st.integers(0, WINDOW_MINUTES * 2 // 3), label="start minute")
        start = window_start + start_index * MINUTE
        available = sums[-1] - sums[start_index]
        # Durations up to all the window holds, with the edges (0, all of it) drawn often.
        minutes = data.draw(
            st.one_of(st.sampled_from([0, 1, available]), st.integers(0, available)), label="duration"
        )
        expected_index = reference_add(flags, start_index, minutes)
        if expected_index is not None:
            assert business_add(calendar, start, minutes * MINUTE) == window_start + expected_index * MINUTE

        end_index = data.draw(st.integers(start_index, WINDOW_MINUTES), label="end minute")
        end = window_start + end_index * MINUTE
        expected_between = (sums[end_index] - sums[start_index]) * MINUTE
        assert business_between(calendar, start, end) == expected_between
        assert business_between(calendar, end, start) == -expected_between

        assert is_open(calendar, start) is flags[start_index]
        following_open = next((index for index in range(start_index, WINDOW_MINUTES) if flags[index]), None)
        if following_open is not None:
            assert next_open(calendar, start) == window_start + following_open * MINUTE


instants_2026 = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(drawn=calendars_around_dst(), start=instants_2026, first=durations, second=durations)
def test_add_and_between_are_inverse_and_additive_to_the_microsecond(drawn, start, first, second):
    """Exact properties at any precision (the reference above works in whole minutes):
    - business_between(s, business_add(s, d)) == d for every d >= 0;
    - business_add(s, d1 + d2) == business_add(business_add(s, d1), d2);
    - the due instant is the earliest: for d > 0 the calendar was open just before it;
    - business_add(s, business_between(s, e)) is at or before e, with no open time in between."""
    spec, _window_start = drawn
    calendar = build_or_reject(spec)
    assume(calendar.weekly_open_time or calendar.always_open)  # else it may never open again

    due = business_add(calendar, start, first)
    assert due >= start
    assert business_between(calendar, start, due) == first
    assert business_add(calendar, start, first + second) == business_add(calendar, due, second)
    if first:
        assert is_open(calendar, due - timedelta(microseconds=1))

    end = start + second
    back = business_add(calendar, start, business_between(calendar, start, end))
    assert start <= back <= end
    assert business_between(calendar, back, end) == timedelta(0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    drawn=calendars_around_dst(),
    start=instants_2026,
    duration=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=200)),
)
def test_long_spans_agree_with_walking_the_open_intervals(drawn, start, duration, span):
    """Over months (whole weeks skipped, several DST changes), business_add and business_between
    equal a walk over open_intervals, which goes day by day and is checked against the reference."""
    spec, _window_start = drawn
    calendar = build_or_reject(spec)
    assume(calendar.weekly_open_time >= timedelta(hours=1))

    end = start + span
    walked = sum((finish - begin for begin, finish in open_intervals(calendar, start, end)), timedelta())
    assert business_between(calendar, start, end) == walked

    remaining, due = duration, start
    for begin, finish in open_intervals(calendar, start, start + timedelta(days=2000)):
        if finish - begin >= remaining:
            due = begin + remaining
            break
        remaining -= finish - begin
    if duration:
        assert business_add(calendar, start, duration) == due


# -- Scenarios ----------------------------------------------------------------------------------


def test_friday_1755_with_one_business_hour_is_due_monday_0955():
    calendar = BusinessCalendar.build(timezone="Asia/Shanghai", weekly=WEEKDAYS_9_TO_18)
    created = local(SHANGHAI, 2026, 12, 4, 17, 55)  # a Friday

    due = business_add(calendar, created, HOUR)

    assert due == local(SHANGHAI, 2026, 12, 7, 9, 55)
    assert due.tzinfo is UTC
    assert business_between(calendar, created, due) == HOUR


def test_monday_holiday_moves_the_due_time_to_tuesday():
    calendar = BusinessCalendar.build(
        timezone="Asia/Shanghai", weekly=WEEKDAYS_9_TO_18, holidays=[date(2026, 12, 7)]
    )

    due = business_add(calendar, local(SHANGHAI, 2026, 12, 4, 17, 55), HOUR)

    assert due == local(SHANGHAI, 2026, 12, 8, 9, 55)


def test_a_target_that_runs_out_at_closing_time_is_due_at_closing_time():
    calendar = BusinessCalendar.build(timezone="Asia/Shanghai", weekly=WEEKDAYS_9_TO_18)

    assert business_add(calendar, local(SHANGHAI, 2026, 12, 4, 17), HOUR) == local(SHANGHAI, 2026, 12, 4, 18)


def test_zero_duration_is_due_at_once_even_when_closed():
    calendar = BusinessCalendar.build(timezone="Asia/Shanghai", weekly=WEEKDAYS_9_TO_18)
    saturday = local(SHANGHAI, 2026, 12, 5, 12)

    assert business_add(calendar, saturday, timedelta(0)) == saturday
    assert next_open(calendar, saturday) == local(SHANGHAI, 2026, 12, 7, 9)


def test_overnight_shift_belongs_to_the_day_it_starts():
    night_desk = {weekday: ["22:00-06:00"] for weekday in range(5)}  # Mon night … Fri night
    calendar = BusinessCalendar.build(timezone="Asia/Shanghai", weekly=night_desk)
    friday_late = local(SHANGHAI, 2026, 12, 4, 23)

    # 7 hours left in Friday's shift (until Saturday 06:00), the 8th on Monday night.
    assert business_add(calendar, friday_late, 8 * HOUR) == local(SHANGHAI, 2026, 12, 7, 23)
    assert is_open(calendar, local(SHANGHAI, 2026, 12, 5, 5, 59))
    assert not is_open(calendar, local(SHANGHAI, 2026, 12, 5, 6))
    # Monday morning belongs to Sunday's (absent) shift: closed.
    assert not is_open(calendar, local(SHANGHAI, 2026, 12, 7, 3))


def test_holiday_cancels_its_own_night_shift_but_not_the_one_running_into_it():
    night_desk = {weekday: ["22:00-06:00"] for weekday in range(7)}
    calendar = BusinessCalendar.build(
        timezone="Asia/Shanghai", weekly=night_desk, holidays=[date(2026, 12, 25)]
    )

    assert is_open(calendar, local(SHANGHAI, 2026, 12, 25, 5))  # the 24th's shift
    assert not is_open(calendar, local(SHANGHAI, 2026, 12, 25, 23))
    assert not is_open(calendar, local(SHANGHAI, 2026, 12, 26, 5))
    assert (
        business_between(calendar, local(SHANGHAI, 2026, 12, 24), local(SHANGHAI, 2026, 12, 27))
        == 6 * HOUR + 8 * HOUR + 2 * HOUR
    )  # the 23rd's night, the 24th's, the 26th's until midnight


def test_half_day_before_a_holiday():
    calendar = BusinessCalendar.build(
        timezone="Asia/Shanghai",
        weekly=WEEKDAYS_9_TO_18,
        special_days={date(2026, 12, 24): ["09:00-13:00"]},
        holidays=[date(2026, 12, 25)],
    )

    # One hour left on Thursday the 24th; Friday is a holiday; the second hour on Monday.
    assert business_add(calendar, local(SHANGHAI, 2026, 12, 24, 12), 2 * HOUR) == local(
        SHANGHAI, 2026, 12, 28, 10
    )
    assert (
        business_between(calendar, local(SHANGHAI, 2026, 12, 21), local(SHANGHAI, 2026, 12, 28))
        == 3 * 9 * HOUR + 4 * HOUR
    )


def test_weekend_make_up_workday_as_a_special_day():
    calendar = BusinessCalendar.build(
        timezone="Asia/Shanghai", weekly=WEEKDAYS_9_TO_18, special_days={date(2026, 1, 4): ["09:00-18:00"]}
    )

    # Saturday 3 January 17:00 + 1 hour: the make-up Sunday opens at 09:00.
    assert business_add(calendar, local(SHANGHAI, 2026, 1, 3, 17), HOUR) == local(SHANGHAI, 2026, 1, 4, 10)


def test_new_york_spring_forward_day():
    calendar = BusinessCalendar.build(timezone="America/New_York", weekly={6: ["01:00-03:00"]})
    sunday = date(2026, 3, 8)  # 02:00 EST jumps to 03:00 EDT (07:00 UTC)

    assert list(open_intervals(calendar, utc(2026, 3, 7), utc(2026, 3, 9))) == [
        (utc(2026, 3, 8, 6), utc(2026, 3, 8, 7))
    ]
    # A start inside the gap opens at the jump.
    gap_start = BusinessCalendar.build(timezone="America/New_York", weekly={6: ["02:30-04:00"]})
    assert next_open(gap_start, utc(2026, 3, 8)) == utc(2026, 3, 8, 7)
    assert business_between(gap_start, utc(2026, 3, 8), utc(2026, 3, 9)) == HOUR
    # A 9–18 day after the change is 9 real hours in EDT.
    office = BusinessCalendar.build(timezone="America/New_York", weekly=WEEKDAYS_9_TO_18)
    assert business_add(office, local(NEW_YORK, 2026, 3, 6, 17), 2 * HOUR) == utc(2026, 3, 9, 14)
    assert sunday.weekday() == 6


def test_new_york_fall_back_day():
    calendar = BusinessCalendar.build(timezone="America/New_York", weekly={6: ["01:00-03:00"]})
    # 02:00 EDT falls back to 01:00 EST (06:00 UTC): 01:00–03:00 lasts three real hours.
    assert list(open_intervals(calendar, utc(2026, 10, 31), utc(2026, 11, 2))) == [
        (utc(2026, 11, 1, 5), utc(2026, 11, 1, 8))
    ]
    # An end in the repeated hour is its first occurrence.
    early = BusinessCalendar.build(timezone="America/New_York", weekly={6: ["00:00-01:30"]})
    assert business_between(early, utc(2026, 10, 31), utc(2026, 11, 2)) == 90 * MINUTE
    # The whole day (00:00–24:00) is 25 hours long.
    whole_day = BusinessCalendar.build(timezone="America/New_York", weekly={6: ["00:00-24:00"]})
    assert business_between(whole_day, utc(2026, 10, 31), utc(2026, 11, 3)) == 25 * HOUR


def test_london_spring_forward_and_fall_back_days():
    # 2026-03-29: 01:00 GMT jumps to 02:00 BST; 2026-10-25: 02:00 BST falls back to 01:00 GMT.
    spring = BusinessCalendar.build(timezone="Europe/London", weekly={6: ["00:30-02:30"]})
    assert list(open_intervals(spring, utc(2026, 3, 28), utc(2026, 3, 30))) == [
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30))
    ]
    in_the_gap = BusinessCalendar.build(timezone="Europe/London", weekly={6: ["01:30-03:00"]})
    assert list(open_intervals(in_the_gap, utc(2026, 3, 28), utc(2026, 3, 30))) == [
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))
    ]
    autumn = BusinessCalendar.build(timezone="Europe/London", weekly={6: ["01:00-02:00"]})
    assert list(open_intervals(autumn, utc(2026, 10, 24), utc(2026, 10, 26))) == [
        (utc(2026, 10, 25, 0), utc(2026, 10, 25, 2))
    ]
    office = BusinessCalendar.build(timezone="Europe/London", weekly=WEEKDAYS_9_TO_18)
    # Friday 17:00 BST + 2 business hours: Monday 10:00 GMT.
    assert business_add(office, local(LONDON, 2026, 10, 23, 17), 2 * HOUR) == utc(2026, 10, 26, 10)


@pytest.mark.parametrize("timezone", ["America/New_York", "Europe/London", "Asia/Shanghai"])
def test_always_open_calendar_is_plain_elapsed_time(timezone):
    calendar = BusinessCalendar.build(timezone=timezone, always_open=True)
    start = utc(2026, 3, 1, 12, 34, 56)

    assert business_add(calendar, start, 1000 * HOUR) == start + 1000 * HOUR
    assert business_between(calendar, start, utc(2026, 11, 30)) == utc(2026, 11, 30) - start
    assert is_open(calendar, start)


@pytest.mark.parametrize("timezone", ["America/New_York", "Europe/London"])
def test_always_open_calendar_with_a_holiday_skips_the_holiday_across_dst(timezone):
    calendar = BusinessCalendar.build(timezone=timezone, always_open=True, holidays=[date(2026, 12, 25)])
    start = utc(2026, 1, 1)

    # The week-skipping path and the DST weeks: a year and a day later, less Christmas Day.
    assert business_between(calendar, start, utc(2027, 1, 1)) == timedelta(days=364)
    assert business_add(calendar, start, timedelta(days=364)) == utc(2027, 1, 1)


def test_a_thousand_business_hours_with_chinese_holidays_agree_with_counting_interval_by_interval():
    calendar = BusinessCalendar.build(
        timezone="Asia/Shanghai",
        weekly={weekday: ["09:00-12:00", "13:00-18:00"] for weekday in range(5)},
        holidays=holidays_for("CN", 2026),
        special_days={day: ["09:00-12:00", "13:00-18:00"] for day in weekend_workdays_for("CN", 2026)},
    )
    start = local(SHANGHAI, 2026, 1, 2, 10)

    due = business_add(calendar, start, 1000 * HOUR)

    counted = sum((end - begin for begin, end in open_intervals(calendar, start, due)), timedelta())
    assert counted == 1000 * HOUR
    assert is_open(calendar, due - MINUTE)
    assert business_between(calendar, start, due) == 1000 * HOUR


def test_calendar_that_never_opens_again():
    calendar = BusinessCalendar.build(timezone="UTC", special_days={date(2026, 1, 5): ["09:00-10:00"]})

    assert business_add(calendar, utc(2026, 1, 1), 30 * MINUTE) == utc(2026, 1, 5, 9, 30)
    assert next_open(calendar, utc(2026, 1, 6)) is None
    assert business_between(calendar, utc(2025, 1, 1), utc(2030, 1, 1)) == HOUR
    with pytest.raises(ValueError, match="no open time"):
        business_add(calendar, utc(2026, 1, 1), 2 * HOUR)


def test_negative_duration_and_naive_instants_are_refused():
    calendar = BusinessCalendar.build(timezone="UTC", always_open=True)
    with pytest.raises(ValueError, match="negative"):
        business_add(calendar, utc(2026, 1, 1), -MINUTE)
    with pytest.raises(ValueError, match="aware"):
        business_between(calendar, datetime(2026, 1, 1), utc(2026, 1, 2))


# -- Validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "Unknown time zone"),
        ({"timezone": "UTC", "weekly": {0: ["09:00-13:00", "12:00-18:00"]}}, "overlap"),
        ({"timezone": "UTC", "weekly": {4: ["22:00-06:00"], 5: ["05:00-09:00"]}}, "runs into"),
        ({"timezone": "UTC", "weekly": {6: ["22:00-06:00"], 0: ["05:00-09:00"]}}, "runs into"),
        ({"timezone": "UTC", "weekly": {0: ["09:00-09:00"]}}, "same time"),
        ({"timezone": "UTC", "weekly": {0: ["25:00-26:00"]}}, "valid time range"),
        ({"timezone": "UTC", "weekly": {0: ["nine to five"]}}, "is not a shift"),
        ({"timezone": "UTC", "weekly": {7: ["09:00-18:00"]}}, "0 \\(Monday\\) to 6"),
        ({"timezone": "UTC", "always_open": True, "weekly": {0: ["09:00-18:00"]}}, "24/7"),
        (
            {"timezone": "UTC", "holidays": [date(2026, 1, 1)], "special_days": {date(2026, 1, 1): []}},
            "both a holiday and a special day",
        ),
        (
            {
                "timezone": "UTC",
                "weekly": {3: ["20:00-04:00"]},
                "special_days": {date(2026, 1, 2): ["03:00-12:00"]},  # a Friday after Thursday night
            },
            "runs into",
        ),
    ],
)
def test_invalid_calendars_are_refused_with_a_clear_message(arguments, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.build(**arguments)


def test_shifts_that_touch_join_and_midnight_ends_mean_24_00():
    calendar = BusinessCalendar.build(
        timezone="UTC", weekly={0: ["09:00-12:00", "12:00-00:00"], 1: ["00:00-02:00"]}
    )

    assert calendar.weekly[0][1] == LocalInterval(12 * 60, 24 * 60)
    assert list(open_intervals(calendar, utc(2026, 1, 5), utc(2026, 1, 7))) == [
        (utc(2026, 1, 5, 9), utc(2026, 1, 6, 2))
    ]
    assert str(LocalInterval.parse("22:00–06:00")) == "22:00-06:00"
    assert LocalInterval.parse("22:00-06:00").is_overnight


# -- Public holidays ----------------------------------------------------------------------------


def test_chinese_holidays_2026():
    holidays = holidays_for("CN", 2026)

    assert holidays[date(2026, 10, 1)] == "National Day"
    assert "Spring Festival" in holidays[date(2026, 2, 17)]
    assert all(day.year == 2026 for day in holidays)
    assert date(2026, 1, 4) in weekend_workdays_for("CN", 2026)  # a make-up Sunday


@pytest.mark.parametrize(
    ("country", "day", "name_part"),
    [
        ("HK", date(2026, 7, 1), "Establishment Day"),
        ("HK", date(2026, 10, 1), "National Day"),
        ("TW", date(2026, 10, 10), "National Day"),
        ("US", date(2026, 7, 4), "Independence Day"),
        ("US", date(2026, 11, 26), "Thanksgiving"),
        ("GB", date(2026, 12, 25), "Christmas Day"),
        ("GB", date(2026, 4, 3), "Good Friday"),
    ],
)
def test_public_holidays_by_country(country, day, name_part):
    assert name_part in holidays_for(country, 2026)[day]


def test_holidays_by_region_and_unknown_countries():
    assert date(2026, 3, 31) in holidays_for("US", 2026, subdiv="CA")  # Cesar Chavez Day
    assert date(2026, 3, 31) not in holidays_for("US", 2026)
    with pytest.raises(ValueError, match="No public holidays"):
        holidays_for("XX", 2026)
    with pytest.raises(ValueError, match="region"):
        holidays_for("US", 2026, subdiv="ZZ")
