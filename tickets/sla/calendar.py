"""Business-hours calendars and business-time arithmetic, in pure Python (no database).

A `BusinessCalendar` is a time zone, a weekly schedule of local opening intervals, and exceptions
by date (holidays, and special days such as half days). The functions below answer the questions
an SLA engine asks: when is a target due (`business_add`), how much open time lies between two
instants (`business_between`), which instants are open (`open_intervals`, `is_open`, `next_open`).
Instants go in and come out as aware datetimes in UTC.

Definitions (the tests' brute-force reference implements the same ones independently):

* A shift is a local wall-clock interval (minute precision) that belongs to the date it starts
  on. An end earlier than the start is an overnight shift that ends on the next day (Friday
  22:00–06:00 is Friday's shift, open until Saturday 06:00); an end of 00:00 or 24:00 is the
  midnight that ends the day, so 00:00–00:00 is the whole day.
* A holiday closes the shifts that start on that date; a special day replaces that date's weekly
  shifts with its own (possibly none). Either way an overnight shift of the day before still runs
  to its end: the Friday night shift is not cut short by a Saturday holiday.
* A shift is open from the instant the local clock first reaches its start until the instant it
  first reaches its end (half-open: open at the start, closed at the end). So across DST changes:
  - a wall time skipped by a spring-forward gap is reached at the jump: on 2026-03-08 in New York
    a 01:00–03:00 shift is one real hour (06:00–07:00 UTC), and a 02:30–04:00 shift opens at 03:00
    EDT;
  - a wall time repeated by a fall-back is reached at its first occurrence: on 2026-11-01 in New
    York a 01:00–03:00 shift is three real hours (05:00–08:00 UTC), and 00:00–01:30 ends at the
    first 01:30 (EDT).
* The calendar is open wherever at least one shift is open (shifts that touch or overlap simply
  join); `always_open` is a shift of 00:00–24:00 every day, so with no exceptions it is open all
  the time and business time equals elapsed time.

Cost: business time is counted per local date, except that a run of seven days without holidays,
special days or UTC-offset changes is skipped in O(1) with the precomputed weekly total. Adding
1,000 business hours to a 9–18 Monday–Friday calendar walks about 22 weeks (a few dozen steps plus
the days of each holiday or DST week), never minutes. Local-to-UTC conversions are memoized.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

MINUTES_PER_DAY = 24 * 60
DAYS_PER_WEEK = 7
ONE_DAY = timedelta(days=1)
ONE_WEEK = timedelta(days=DAYS_PER_WEEK)

_CLOCK_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


def _format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, order=True)
class LocalInterval:
    """One shift of a day: local wall-clock minutes since midnight, end exclusive.

    `end_minute` < `start_minute` is an overnight shift ending on the next day; an end of 0 is
    stored as 1440 (24:00), the midnight that ends the day.
    """

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < MINUTES_PER_DAY:
            raise ValueError(
                _("A shift must start between 00:00 and 23:59 (got %(start)s).")
                % {"start": _format_minute(self.start_minute)}
            )
        if not 0 <= self.end_minute <= MINUTES_PER_DAY:
            raise ValueError(
                _("A shift must end between 00:00 and 24:00 (got %(end)s).")
                % {"end": _format_minute(self.end_minute)}
            )
        if self.end_minute == 0:
            object.__setattr__(self, "end_minute", MINUTES_PER_DAY)
        if self.end_minute == self.start_minute:
            raise ValueError(
                _("The shift %(start)s–%(end)s starts and ends at the same time.")
                % {"start": _format_minute(self.start_minute), "end": _format_minute(self.end_minute)}
            )

    @classmethod
    def parse(cls, text: str) -> LocalInterval:
        """Read "HH:MM-HH:MM" (or with an en dash), e.g. "09:00-18:00", "22:00-06:00", "13:00-24:00"."""
        match = _CLOCK_RANGE.match(text)
        if match is None:
            raise ValueError(_("%(text)r is not a shift like 09:00-18:00.") % {"text": text})
        start_hour, start_min, end_hour, end_min = (int(group) for group in match.groups())
        if start_min > 59 or end_min > 59 or start_hour > 23 or end_hour > 24 or (end_hour == 24 and end_min):
            raise ValueError(_("%(text)r is not a valid time range.") % {"text": text})
        return cls(start_hour * 60 + start_min, end_hour * 60 + end_min)

    @classmethod
    def from_times(cls, start: time, end: time) -> LocalInterval:
        """From two `time`s (seconds ignored); an end of time(0) means 24:00."""
        return cls(start.hour * 60 + start.minute, end.hour * 60 + end.minute)

    @property
    def is_overnight(self) -> bool:
        return self.end_minute < self.start_minute

    @property
    def end_offset(self) -> int:
        """The end in minutes from the start date's midnight (beyond 1440 for an overnight shift)."""
        return self.end_minute + MINUTES_PER_DAY if self.is_overnight else self.end_minute

    @property
    def length(self) -> timedelta:
        """Nominal length on a day without a UTC-offset change."""
        return timedelta(minutes=self.end_offset - self.start_minute)

    def __str__(self) -> str:
        return f"{_format_minute(self.start_minute)}-{_format_minute(self.end_minute)}"


IntervalLike = LocalInterval | str


def _intervals(values: Iterable[IntervalLike]) -> tuple[LocalInterval, ...]:
    parsed = (value if isinstance(value, LocalInterval) else LocalInterval.parse(value) for value in values)
    return tuple(sorted(parsed))


def _check_day(intervals: tuple[LocalInterval, ...], where: str) -> None:
    """Sorted shifts of one day must not overlap (touching is fine: they join)."""
    for earlier, later in zip(intervals, intervals[1:], strict=False):
        if later.start_minute < earlier.end_offset:
            raise ValueError(
                _("%(where)s: the shifts %(first)s and %(second)s overlap.")
                % {"where": where, "first": earlier, "second": later}
            )


def _check_spill(
    day_before: tuple[LocalInterval, ...], day_after: tuple[LocalInterval, ...], where: str
) -> None:
    """An overnight shift must end before the next day's first shift starts."""
    if not day_before or not day_after or not day_before[-1].is_overnight:
        return
    overnight, first = day_before[-1], day_after[0]
    if first.start_minute < overnight.end_minute:
        raise ValueError(
            _("%(where)s: the overnight shift %(overnight)s runs into the next day's shift %(next)s.")
            % {"where": where, "overnight": overnight, "next": first}
        )


def _weekday_name(weekday: int) -> str:
    return str(WEEKDAYS[weekday])  # Django's translated names, Monday = 0


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class BusinessCalendar:
    """An immutable business-hours calendar; build it with `BusinessCalendar.build(...)`.

    `weekly` holds seven tuples of shifts, Monday first. `special_days` maps a date to the shifts
    that replace its weekly ones (a half day, a Saturday make-up workday); `holidays` are dates
    whose shifts are cancelled. Construction validates everything and raises ValueError with a
    message fit for a form.
    """

    timezone: str
    weekly: tuple[tuple[LocalInterval, ...], ...] = ((),) * DAYS_PER_WEEK
    always_open: bool = False
    holidays: frozenset[date] = frozenset()
    special_days: tuple[tuple[date, tuple[LocalInterval, ...]], ...] = ()
    _special: dict[date, tuple[LocalInterval, ...]] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )

    @classmethod
    def build(
        cls,
        *,
        timezone: str,
        weekly: Mapping[int, Iterable[IntervalLike]] | Sequence[Iterable[IntervalLike]] = (),
        always_open: bool = False,
        holidays: Iterable[date] = (),
        special_days: Mapping[date, Iterable[IntervalLike]] | None = None,
    ) -> BusinessCalendar:
        """Friendly constructor: `weekly={0: ["09:00-18:00"], ...}` (0 = Monday) or a list of seven."""
        if isinstance(weekly, Mapping):
            unknown = [day for day in weekly if day not in range(DAYS_PER_WEEK)]
            if unknown:
                raise ValueError(_("Weekdays are numbered 0 (Monday) to 6 (Sunday)."))
            days = tuple(_intervals(weekly.get(day, ())) for day in range(DAYS_PER_WEEK))
        else:
            days = tuple(_intervals(day) for day in weekly) or ((),) * DAYS_PER_WEEK
        specials = tuple(sorted((day, _intervals(shifts)) for day, shifts in (special_days or {}).items()))
        return cls(
            timezone=timezone,
            weekly=days,
            always_open=always_open,
            holidays=frozenset(holidays),
            special_days=specials,
        )

    def __post_init__(self) -> None:
        try:
            _zone(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(_("Unknown time zone: %(zone)r.") % {"zone": self.timezone}) from None
        if len(self.weekly) != DAYS_PER_WEEK:
            raise ValueError(_("A weekly schedule has seven days."))
        object.__setattr__(self, "weekly", tuple(tuple(sorted(day)) for day in self.weekly))
        if self.always_open and any(self.weekly):
            raise ValueError(_("A calendar open 24/7 has no weekly schedule."))
        for weekday, shifts in enumerate(self.weekly):
            _check_day(shifts, _weekday_name(weekday))
        for weekday, shifts in enumerate(self.weekly):
            following = self.weekly[(weekday + 1) % DAYS_PER_WEEK]
            _check_spill(shifts, following, _weekday_name(weekday))
        special = {day: tuple(sorted(shifts)) for day, shifts in self.special_days}
        if len(special) != len(self.special_days):
            raise ValueError(_("A date can have only one special schedule."))
        object.__setattr__(self, "special_days", tuple(sorted(special.items())))
        object.__setattr__(self, "_special", special)
        both = sorted(self.holidays & special.keys())
        if both:
            raise ValueError(
                _("%(date)s is both a holiday and a special day.") % {"date": both[0].isoformat()}
            )
        for day, shifts in special.items():
            _check_day(shifts, day.isoformat())
            _check_spill(self.shifts_on(day - ONE_DAY), shifts, (day - ONE_DAY).isoformat())
            _check_spill(shifts, self.shifts_on(day + ONE_DAY), day.isoformat())

    # -- Derived data (cached on the instance: the calendar never changes) -------------------

    @functools.cached_property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    @functools.cached_property
    def _effective_weekly(self) -> tuple[tuple[LocalInterval, ...], ...]:
        if self.always_open:
            return ((LocalInterval(0, MINUTES_PER_DAY),),) * DAYS_PER_WEEK
        return self.weekly

    @functools.cached_property
    def _exception_dates(self) -> tuple[date, ...]:
        return tuple(sorted(self.holidays | self._special.keys()))

    @functools.cached_property
    def _last_special_date(self) -> date:
        return self.special_days[-1][0] if self.special_days else date.min

    @functools.cached_property
    def weekly_open_time(self) -> timedelta:
        """Open time of a week without exceptions or UTC-offset changes."""
        return sum((shift.length for day in self._effective_weekly for shift in day), timedelta())

    @functools.cached_property
    def _week_bounds(self) -> tuple[tuple[timedelta, timedelta] | None, ...]:
        """Per first weekday: the earliest start and latest end of a 7-day run's shifts, from its
        first midnight (valid while the UTC offset does not change)."""
        bounds: list[tuple[timedelta, timedelta] | None] = []
        for first_weekday in range(DAYS_PER_WEEK):
            starts, ends = [], []
            for offset in range(DAYS_PER_WEEK):
                for shift in self._effective_weekly[(first_weekday + offset) % DAYS_PER_WEEK]:
                    starts.append(offset * MINUTES_PER_DAY + shift.start_minute)
                    ends.append(offset * MINUTES_PER_DAY + shift.end_offset)
            bounds.append((timedelta(minutes=min(starts)), timedelta(minutes=max(ends))) if starts else None)
        return tuple(bounds)

    def shifts_on(self, day: date) -> tuple[LocalInterval, ...]:
        """The shifts that start on a local date, exceptions applied."""
        if day in self.holidays:
            return ()
        special = self._special.get(day)
        if special is not None:
            return special
        return self._effective_weekly[day.weekday()]

    @property
    def _is_all_time(self) -> bool:
        return self.always_open and not self.holidays and not self.special_days


# -- Local wall clock to UTC --------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _wall_to_utc(zone_name: str, day: date, minute: int) -> datetime:
    """The instant the local clock first reaches `day` + `minute` minutes (see module docstring)."""
    zone = _zone(zone_name)
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first of a repeated time
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # `wall` falls in a spring-forward gap: fold=0 read it with the old offset (after the jump),
    # fold=1 with the new one (before it). The clock reaches it at the jump, found by bisection.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    offset_after = instant.astimezone(zone).utcoffset()
    low, high = before, instant
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
        if middle.astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return high


def _day_intervals(calendar: BusinessCalendar, day: date) -> list[tuple[datetime, datetime]]:
    """UTC intervals of the shifts starting on `day`, sorted by start (empty ones dropped)."""
    intervals = []
    for shift in calendar.shifts_on(day):
        start = _wall_to_utc(calendar.timezone, day, shift.start_minute)
        end = _wall_to_utc(calendar.timezone, day, shift.end_offset)
        if end > start:
            intervals.append((start, end))
    return intervals


def _midnight(calendar: BusinessCalendar, day: date) -> datetime:
    return _wall_to_utc(calendar.timezone, day, 0)


def _regular_week(calendar: BusinessCalendar, day: date) -> datetime | None:
    """The UTC midnight starting `day` if the seven days from `day` have no holiday or special
    day and the UTC offset is the same from that midnight to the one after their overnight shifts
    end (day + 8); None otherwise. Such a run holds exactly `weekly_open_time`."""
    exceptions = calendar._exception_dates
    index = bisect.bisect_left(exceptions, day)
    if index < len(exceptions) and exceptions[index] < day + ONE_WEEK:
        return None
    midnight = _midnight(calendar, day)
    # One probe per midnight: an offset change shows as a day that is not 24 hours long.
    for offset in range(1, DAYS_PER_WEEK + 2):
        if _midnight(calendar, day + timedelta(days=offset)) - midnight != timedelta(days=offset):
            return None
    return midnight


def _as_utc(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {instant!r}")
    return instant.astimezone(UTC)


def _local_date(calendar: BusinessCalendar, instant: datetime) -> date:
    return instant.astimezone(calendar.zone).date()


# -- Public arithmetic --------------------------------------------------------------------------


def business_add(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The earliest instant (UTC) by which `duration` of open time has elapsed since `start`.

    A target that runs out exactly at closing time is due at closing time (Friday 17:00 + 1 hour
    on a 9–18 calendar is Friday 18:00), not at the next opening. A zero duration returns `start`
    itself even when the calendar is closed then (as Zendesk does: "due now"). Raises ValueError
    for a negative duration, or when the calendar never opens again (no weekly hours and no
    special day left).
    """
    start = _as_utc(start, "start")
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    if not duration:
        return start
    if calendar._is_all_time:
        return start + duration
    week_open = calendar.weekly_open_time
    remaining, position = duration, start
    day = _local_date(calendar, start) - ONE_DAY  # the day before: its overnight shift may be running
    while True:
        if not week_open and day > calendar._last_special_date:
            raise ValueError("the calendar has no open time after this instant")
        if remaining > week_open:
            midnight = _regular_week(calendar, day)
            bounds = calendar._week_bounds[day.weekday()]
            if midnight is not None and (bounds is None or position <= midnight + bounds[0]):
                # The whole run is open after `position` and the target lies beyond it.
                remaining -= week_open
                if bounds is not None:
                    position = max(position, midnight + bounds[1])
                day += ONE_WEEK
                continue
        for interval_start, interval_end in _day_intervals(calendar, day):
            # Intervals come sorted by start, so clipping at `position` counts their union once.
            open_from = max(interval_start, position)
            if interval_end <= open_from:
                continue
            if interval_end - open_from >= remaining:
                return open_from + remaining
            remaining -= interval_end - open_from
            position = interval_end
        day += ONE_DAY


def business_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Open time between two instants: within [start, end) if start <= end.

    Antisymmetric: business_between(c, a, b) == -business_between(c, b, a), so "time left until a
    due date" turns negative once it is overdue.
    """
    start, end = _as_utc(start, "start"), _as_utc(end, "end")
    if end < start:
        return -business_between(calendar, end, start)
    if calendar._is_all_time:
        return end - start
    week_open = calendar.weekly_open_time
    total, position = timedelta(0), start
    day = _local_date(calendar, start) - ONE_DAY
    while _midnight(calendar, day) < end:
        if not week_open and day > calendar._last_special_date:
            break
        midnight = _regular_week(calendar, day)
        bounds = calendar._week_bounds[day.weekday()]
        if midnight is not None and (
            bounds is None or (position <= midnight + bounds[0] and midnight + bounds[1] <= end)
        ):
            total += week_open
            if bounds is not None:
                position = max(position, midnight + bounds[1])
            day += ONE_WEEK
            continue
        for interval_start, interval_end in _day_intervals(calendar, day):
            open_from, open_until = max(interval_start, position), min(interval_end, end)
            if open_until > open_from:
                total += open_until - open_from
                position = open_until
        day += ONE_DAY
    return total


def open_intervals(
    calendar: BusinessCalendar, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The open intervals within [start, end), clipped to it, as maximal (joined) UTC pairs."""
    start, end = _as_utc(start, "start"), _as_utc(end, "end")
    if end <= start:
        return
    if calendar._is_all_time:
        yield start, end
        return
    current: tuple[datetime, datetime] | None = None
    day = _local_date(calendar, start) - ONE_DAY
    while _midnight(calendar, day) < end:
        if not calendar.weekly_open_time and day > calendar._last_special_date:
            break
        for interval_start, interval_end in _day_intervals(calendar, day):
            open_from, open_until = max(interval_start, start), min(interval_end, end)
            if open_until <= open_from:
                continue
            if current is not None and open_from <= current[1]:
                current = (current[0], max(current[1], open_until))
            else:
                if current is not None:
                    yield current
                current = (open_from, open_until)
        day += ONE_DAY
    if current is not None:
        yield current


def is_open(calendar: BusinessCalendar, instant: datetime) -> bool:
    """Whether the calendar is open at `instant` (open at a shift's start, closed at its end)."""
    instant = _as_utc(instant, "instant")
    if calendar._is_all_time:
        return True
    local_day = _local_date(calendar, instant)
    # The day after too: where a fall-back repeats the hour before midnight, that day's first
    # shift may already have started although the local date still reads the day before.
    return any(
        interval_start <= instant < interval_end
        for day in (local_day - ONE_DAY, local_day, local_day + ONE_DAY)
        for interval_start, interval_end in _day_intervals(calendar, day)
    )


def next_open(calendar: BusinessCalendar, instant: datetime) -> datetime | None:
    """`instant` if the calendar is open then, else the next instant it opens; None if never."""
    instant = _as_utc(instant, "instant")
    if calendar._is_all_time:
        return instant
    day = _local_date(calendar, instant) - ONE_DAY
    while calendar.weekly_open_time or day <= calendar._last_special_date:
        for interval_start, interval_end in _day_intervals(calendar, day):
            if interval_end > instant:
                return max(interval_start, instant)
        day += ONE_DAY
    return None


# -- Public holidays ----------------------------------------------------------------------------


def _holiday_calendar(country: str, year: int, subdiv: str | None):  # -> holidays.HolidayBase
    import holidays  # imported when used: the package is large and only calendar admin needs it

    try:
        entity = holidays.country_holidays(country, subdiv=subdiv)
    except NotImplementedError:
        if subdiv:
            raise ValueError(
                _("No public holidays are known for %(country)s, region %(subdiv)s.")
                % {"country": country, "subdiv": subdiv}
            ) from None
        raise ValueError(_("No public holidays are known for %(country)s.") % {"country": country}) from None
    # English names where the country offers them (CN, HK, TW default to Chinese).
    default = entity.default_language
    language = None
    if default is not None and not default.startswith("en"):
        english = [code for code in entity.supported_languages or () if code.startswith("en")]
        language = "en_US" if "en_US" in english else next(iter(english), None)
    return holidays.country_holidays(country, subdiv=subdiv, years=year, language=language)


def holidays_for(country: str, year: int, subdiv: str | None = None) -> dict[date, str]:
    """A country's public holidays in a year (English names where available), from the `holidays`
    package: e.g. holidays_for("CN", 2026)[date(2026, 10, 1)] == "National Day". Dates with two
    holidays have both names joined by "; ". Raises ValueError for an unknown country or region."""
    entity = _holiday_calendar(country, year, subdiv)
    return {day: name for day, name in sorted(entity.items()) if day.year == year}


def weekend_workdays_for(country: str, year: int, subdiv: str | None = None) -> set[date]:
    """Weekend dates that are official working days in a year (China's make-up workdays around
    long holidays, e.g. Sunday 2026-01-04): a calendar should give them weekday hours as special
    days. Empty for countries without such days."""
    entity = _holiday_calendar(country, year, subdiv)
    return {day for day in getattr(entity, "weekend_workdays", ()) if day.year == year}
