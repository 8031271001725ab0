"""Reads of the metrics (PRODUCT.md, "Metric definitions"): one implementation for the dashboards,
the API, the exports and the weekly report.

Where each figure comes from (docs/ARCHITECTURE.md, "Metrics"):

* counts, sums, rates and means from `TeamDailyRollup` (about 150 rows a day in the benchmark's
  data), or `DailyRollup` (about 1,000) when the agent is filtered or broken down;
* medians and p90 of the times exactly, with `percentile_cont` over `TicketFact`;
* with an organization filter everything from `TicketFact` (organizations are not a rollup key);
* CSAT, NPS and CES from `SurveyResponse`;
* the backlog now from the tickets, its daily trend from the facts.

Each measure is counted on the day of its event in the reporting time zone
(settings.HELPDESK_METRICS_TIME_ZONE): volume on the creation day, first response on the day of
the first public agent reply, solved / resolution / FCR / reopens on the first-solve day (merged
duplicates excluded), SLA targets on their due day, survey answers on the day they were given.

Shapes returned (the dashboards and the API code against these):

``metrics_summary(filters=)`` ->
    {"period": {"start": "YYYY-MM-DD", "end", "previous_start", "previous_end", "time_zone": str,
                "hours": "business"|"calendar"},
     "metrics": {NAME: {"value": int|float|None, "previous": int|float|None, "change": float|None,
                        "change_kind": "relative"|"difference", "unit": "count"|"seconds"|"ratio"|"score",
                        "sample": int}}}
    NAMES = SUMMARY_METRICS. "change" is relative ((value - previous) / previous, None when
    previous is 0 or None) for counts and seconds ("change_kind": "relative"), and the plain
    difference value - previous for ratios and scores ("change_kind": "difference": a CSAT going
    from 0.80 to 0.84 changed by 0.04, i.e. four percentage points). Ratios are 0..1; "nps" is a
    score -100..100, "ces" a score 1..7. "sample" is how many items the value is computed over
    (tickets, answers, SLA targets). "backlog" also has "by_age": [{"bucket": BACKLOG_AGE_BUCKETS
    item, "count": int}] and "as_of": ISO instant in UTC; its value is the number of unsolved tickets now
    when the period includes today, else at the end of its last day; "previous" is at the end of
    the previous period's last day (see `_BACKLOG_OPEN_AT_SQL` for how a past day is counted).

``metrics_timeseries(filters=)`` ->
    {"period": as in the summary, "days": ["YYYY-MM-DD", ...],
     "series": {"volume_by_channel": {channel code: [int, ...]}, "solved": [int, ...],
                "frt_median": [float|None, ...], "resolution_median": [float|None, ...],
                "csat": [float|None, ...], "nps": [float|None, ...], "ces": [float|None, ...],
                "backlog": [int, ...]}}
    One item per day; counts are 0 on a day without data, medians and survey figures None.
    "volume_by_channel" has every channel of the filter (all channels without one). "backlog" is
    the backlog at the end of each day, today's item the unsolved tickets now (as the summary).

``metrics_breakdown(filters=, by=)`` -> list of rows, most tickets first:
    {"key": int|str|None, "label": str, "volume": int, "solved": int, "frt_median", "frt_p90",
     "frt_mean", "resolution_median", "resolution_p90", "resolution_mean": float|None (seconds),
     "fcr_rate", "reopen_rate", "sla_compliance", "csat": float|None (0..1), "csat_count": int,
     "nps": float|None, "nps_count": int, "ces": float|None, "ces_count": int,
     "first_replied": int, "sla_due": int}
    A row for every key with any ticket, answer or SLA target in the period; key None is the
    tickets (answers) without team / agent / organization ("No team", "Unassigned", ...).

``metrics_drilldown(filters=, user=, metric=)`` -> QuerySet[Ticket] of the tickets behind a figure,
    only those `user` may see (nothing for customers and anonymous users).

Each read is a constant handful of queries (summary, timeseries: five; breakdown: four with the
labels; drill-down: one), whatever the filters and the amount of data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk import permissions
from metrics.models import SurveyKind, SurveyResponse, TicketFact
from tickets.models import Channel, Organization, Priority, Role, Team, Ticket, User
from tickets.models.ticket import UNSOLVED_STATUSES

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

PERIODS = ("today", "7d", "30d", "90d", "this_month", "last_month", "custom")
DEFAULT_PERIOD = "30d"
MAX_PERIOD_DAYS = 400
HOURS_CHOICES = ("business", "calendar")

SUMMARY_METRICS = (
    "volume", "solved", "frt_median", "frt_mean", "frt_p90", "resolution_median", "resolution_mean",
    "resolution_p90", "fcr_rate", "reopen_rate", "csat", "nps", "ces", "sla_compliance", "backlog",
)
METRIC_UNITS = {
    "volume": "count", "solved": "count", "backlog": "count",
    "frt_median": "seconds", "frt_mean": "seconds", "frt_p90": "seconds",
    "resolution_median": "seconds", "resolution_mean": "seconds", "resolution_p90": "seconds",
    "fcr_rate": "ratio", "reopen_rate": "ratio", "csat": "ratio", "sla_compliance": "ratio",
    "nps": "score", "ces": "score",
}
BACKLOG_AGE_BUCKETS = ("lt_1d", "1_3d", "3_7d", "7_30d", "gt_30d")
BREAKDOWN_DIMENSIONS = ("team", "agent", "channel", "priority", "organization")
DRILLDOWN_METRICS = ("volume", "solved", "frt", "resolution", "fcr", "reopened", "sla_missed", "sla", "backlog", "csat",
                     "nps", "ces")
# A CSAT answer of 4 or 5 is a satisfied customer; NPS promoters answer 9–10, detractors 0–6.
CSAT_SATISFIED_MIN = 4
NPS_PROMOTER_MIN = 9
NPS_DETRACTOR_MAX = 6


class InvalidMetricFilters(ValueError):  # noqa: N818 (the contract's name)
    """A filter from the request that is not allowed or not well formed; the message is shown to the user."""


def reporting_time_zone() -> ZoneInfo:
    return ZoneInfo(settings.HELPDESK_METRICS_TIME_ZONE)


def reporting_today() -> date:
    return timezone.localdate(timezone=reporting_time_zone())


def _values(params: Any, name: str) -> list[str]:
    """Every non-empty value of a query parameter, from a QueryDict or a plain mapping."""
    if hasattr(params, "getlist"):
        raw = params.getlist(name)
    else:
        value = params.get(name) if isinstance(params, Mapping) else None
        raw = [] if value is None else list(value) if isinstance(value, list | tuple) else [value]
    return [str(value).strip() for value in raw if str(value).strip()]


def _single(params: Any, name: str) -> str | None:
    values = _values(params, name)
    if len(values) > 1:
        raise InvalidMetricFilters(_("Give “%(name)s” only once.") % {"name": name})
    return values[0] if values else None


def _ids(params: Any, name: str) -> tuple[int, ...]:
    values = _values(params, name)
    if not all(value.isdigit() and len(value) < 19 for value in values):
        raise InvalidMetricFilters(_("“%(name)s” must be a number.") % {"name": name})
    return tuple(sorted({int(value) for value in values}))


_UNKNOWN_CODE = {"channel": _("Unknown channel “%(value)s”."), "priority": _("Unknown priority “%(value)s”.")}


def _codes(params: Any, name: str, allowed: Iterable[str]) -> tuple[str, ...]:
    values = _values(params, name)
    allowed = set(allowed)
    for value in values:
        if value not in allowed:
            raise InvalidMetricFilters(_UNKNOWN_CODE[name] % {"value": value[:40]})
    return tuple(sorted(set(values)))


def _day(params: Any, name: str) -> date:
    value = _single(params, name)
    if value is None:
        raise InvalidMetricFilters(_("A custom period needs a start and an end date."))
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidMetricFilters(
            _("“%(name)s” must be a date like 2026-11-30.") % {"name": name}
        ) from None


def _period_days(period: str, params: Any, today: date) -> tuple[date, date]:
    if period == "today":
        return today, today
    if period in ("7d", "30d", "90d"):
        return today - timedelta(days=int(period[:-1]) - 1), today
    if period == "this_month":
        return today.replace(day=1), today
    if period == "last_month":
        last_day = today.replace(day=1) - timedelta(days=1)
        return last_day.replace(day=1), last_day
    start, end = _day(params, "start"), _day(params, "end")
    if end < start:
        raise InvalidMetricFilters(_("The end date is before the start date."))
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidMetricFilters(
            _("A period can be at most %(days)s days long.") % {"days": MAX_PERIOD_DAYS}
        )
    return start, end


@dataclass(frozen=True)
class MetricFilters:
    """Which tickets and days a figure covers: inclusive reporting days and optional dimensions.

    An empty tuple means no restriction on that dimension. Build it from a request with
    `from_params`, which also applies the caller's role scope: never build one from request
    data directly.
    """

    start: date
    end: date
    team_ids: tuple[int, ...] = ()
    agent_ids: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    organization_ids: tuple[int, ...] = ()
    business_hours: bool = True

    @classmethod
    def from_params(cls, params: Any, *, user: User | AnonymousUser | None, today: date | None = None) -> MetricFilters:
        """The filters of a request's query parameters (see the module docstring), limited to what `user` may see.

        Customers and anonymous users get PermissionDenied; an agent sees only their own figures
        (asking for a colleague's is refused), a team lead those of the teams they lead (all of
        them unless some are asked for; asking for another team is refused), managers and admins
        anything. Malformed or unknown values raise InvalidMetricFilters.
        """
        if not isinstance(user, User) or not permissions.is_staff_member(user):
            raise PermissionDenied(_("Only support staff can see the metrics."))
        today = today or reporting_today()
        period = _single(params, "period") or DEFAULT_PERIOD
        if period not in PERIODS:
            raise InvalidMetricFilters(_("Unknown period “%(value)s”.") % {"value": period[:40]})
        start, end = _period_days(period, params, today)
        hours = _single(params, "hours") or "business"
        if hours not in HOURS_CHOICES:
            raise InvalidMetricFilters(_("Hours must be “business” or “calendar”."))
        filters = cls(
            start=start, end=end, team_ids=_ids(params, "team"), agent_ids=_ids(params, "agent"),
            channels=_codes(params, "channel", Channel.values), priorities=_codes(params, "priority", Priority.values),
            organization_ids=_ids(params, "organization"), business_hours=hours == "business",
        )
        filters._check_ids_exist()
        return filters._scoped_to(user)

    def _check_ids_exist(self) -> None:
        # Unknown ids would silently show zeros; a typo in a link deserves an error instead.
        if self.team_ids and Team.objects.filter(pk__in=self.team_ids).count() != len(self.team_ids):
            raise InvalidMetricFilters(_("Unknown team."))
        if self.agent_ids and User.objects.filter(
            pk__in=self.agent_ids, role__in=[Role.AGENT, Role.TEAM_LEAD, Role.MANAGER, Role.ADMIN]
        ).count() != len(self.agent_ids):
            raise InvalidMetricFilters(_("Unknown agent."))
        if self.organization_ids and Organization.objects.filter(
            pk__in=self.organization_ids
        ).count() != len(self.organization_ids):
            raise InvalidMetricFilters(_("Unknown organization."))

    def _scoped_to(self, user: User) -> MetricFilters:
        if user.reads_all_tickets:
            return self
        if user.role == Role.TEAM_LEAD:
            led = set(permissions.lead_team_ids_of(user)) or set(permissions.team_ids_of(user))
            if not led:
                raise PermissionDenied(_("You lead no team, so there are no team figures to show."))
            if not self.team_ids:
                return replace(self, team_ids=tuple(sorted(led)))
            if not set(self.team_ids) <= led:
                raise PermissionDenied(_("You can only see the figures of the teams you lead."))
            return self
        # A plain agent: their own figures only.
        if self.agent_ids and self.agent_ids != (user.pk,):
            raise PermissionDenied(_("You can only see your own figures."))
        return replace(self, agent_ids=(user.pk,))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> MetricFilters:
        """The same filters over the period of the same length just before this one."""
        previous_end = self.start - timedelta(days=1)
        return replace(self, start=previous_end - timedelta(days=self.days - 1), end=previous_end)

    def as_params(self) -> dict[str, list[str]]:
        """Query parameters that `from_params` turns back into these filters (for links and exports)."""
        params: dict[str, list[str]] = {
            "period": ["custom"], "start": [self.start.isoformat()], "end": [self.end.isoformat()],
            "hours": ["business" if self.business_hours else "calendar"],
        }
        for name, values in (("team", self.team_ids), ("agent", self.agent_ids), ("channel", self.channels),
                             ("priority", self.priorities), ("organization", self.organization_ids)):
            if values:
                params[name] = [str(value) for value in values]
        return params

    # --- helpers of the queries below -------------------------------------------------------
    def bounds(self) -> tuple[datetime, datetime]:
        """[start of the first day, start of the day after the last) in the reporting time zone."""
        zone = reporting_time_zone()
        return (datetime.combine(self.start, time.min, tzinfo=zone),
                datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone))

    @property
    def uses_facts(self) -> bool:
        """Whether counts and sums must come from the facts (organizations are not a rollup key)."""
        return bool(self.organization_ids)


# Columns of each table the dimension filters apply to.
_ROLLUP_COLUMNS = {"team": "team_id", "agent": "agent_id", "channel": "channel", "priority": "priority"}
_FACT_COLUMNS = {**_ROLLUP_COLUMNS, "organization": "organization_id"}
_SURVEY_COLUMNS = _FACT_COLUMNS
_TICKET_COLUMNS = {**_FACT_COLUMNS, "agent": "assignee_id"}


def _dimension_sql(filters: MetricFilters, columns: Mapping[str, str], alias: str, params: dict[str, Any]) -> str:
    """`AND …` conditions for the filters' dimensions on `alias`'s columns; values go into `params`."""
    conditions = []
    for name, values in (("team", filters.team_ids), ("agent", filters.agent_ids), ("channel", filters.channels),
                         ("priority", filters.priorities), ("organization", filters.organization_ids)):
        if not values:
            continue
        params[f"filter_{name}"] = list(values)
        conditions.append(f" AND {alias}.{columns[name]} = ANY(%(filter_{name})s)")
    return "".join(conditions)


def _fetch(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _hours(filters: MetricFilters) -> tuple[str, str]:
    """The fact columns of FRT and resolution for the filters' choice of hours."""
    if filters.business_hours:
        return "frt_business_seconds", "resolution_business_seconds"
    return "frt_seconds", "resolution_seconds"


def _ratio(part: Any, whole: Any) -> float | None:
    return float(part) / float(whole) if whole else None


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


# --- counts and sums ------------------------------------------------------------------------
# The measures every figure is made of, in this order, per group; from the rollups or the facts.
_TOTALS = ("created", "first_replied", "frt_sum", "solved", "resolution_sum", "fcr", "reopened",
           "solved_by_customer", "sla_due", "sla_met")

_ROLLUP_TOTALS_SQL = """
    SELECT {group}, coalesce(sum(created), 0), coalesce(sum(first_replied), 0), coalesce(sum({frt_sum}), 0),
           coalesce(sum(solved), 0), coalesce(sum({resolution_sum}), 0), coalesce(sum(fcr), 0),
           coalesce(sum(reopened), 0), coalesce(sum(solved_by_customer), 0), coalesce(sum(sla_due), 0),
           coalesce(sum(sla_met), 0)
    FROM {rollup_table} AS rollup
    WHERE rollup.day >= %(day_from)s AND rollup.day <= %(day_to)s {dimensions}
    GROUP BY 1
"""

# The same totals from the facts, with the rollups' day anchors (metrics.rollups): each anchor read
# through its own index. SLA targets are taken from facts created before the range ends (a target
# is due after its ticket was created): with an organization filter, that organization's facts.
_FACT_TOTALS_SQL = """
    WITH {source_cte} measures AS (
        SELECT {fact_group} AS group_key, 'created' AS anchor, fact.created_at AS at, NULL::bigint AS seconds,
               false AS flag, false AS flag2, false AS flag3
        FROM {source} AS fact
        WHERE fact.created_at >= %(from)s AND fact.created_at < %(to)s {dimensions}
        UNION ALL
        SELECT {fact_group}, 'replied', fact.first_public_agent_reply_at, coalesce(fact.{frt}, 0), false, false, false
        FROM {source} AS fact
        WHERE fact.first_public_agent_reply_at >= %(from)s AND fact.first_public_agent_reply_at < %(to)s
          AND NOT fact.is_merged {dimensions}
        UNION ALL
        SELECT {fact_group}, 'solved', fact.first_solved_at, coalesce(fact.{resolution}, 0), fact.is_fcr IS TRUE,
               fact.reopen_count > 0, fact.solved_by_customer
        FROM {source} AS fact
        WHERE fact.first_solved_at >= %(from)s AND fact.first_solved_at < %(to)s AND NOT fact.is_merged {dimensions}
        UNION ALL
        SELECT {fact_group}, 'sla', target.due, NULL, target.met, false, false
        FROM {source} AS fact
        CROSS JOIN LATERAL (
            SELECT (item ->> 'due')::timestamptz AS due, (item -> 'met') = 'true'::jsonb AS met
            FROM jsonb_array_elements(fact.sla_targets) AS item
        ) AS target
        WHERE fact.sla_targets <> '[]'::jsonb AND fact.created_at < %(to)s
          AND target.due >= %(from)s AND target.due < %(to)s {dimensions}
    )
    SELECT {measure_group}, count(*) FILTER (WHERE anchor = 'created'), count(*) FILTER (WHERE anchor = 'replied'),
           coalesce(sum(seconds) FILTER (WHERE anchor = 'replied'), 0), count(*) FILTER (WHERE anchor = 'solved'),
           coalesce(sum(seconds) FILTER (WHERE anchor = 'solved'), 0),
           count(*) FILTER (WHERE anchor = 'solved' AND flag), count(*) FILTER (WHERE anchor = 'solved' AND flag2),
           count(*) FILTER (WHERE anchor = 'solved' AND flag3), count(*) FILTER (WHERE anchor = 'sla'),
           count(*) FILTER (WHERE anchor = 'sla' AND flag)
    FROM measures
    GROUP BY 1
"""


def _rollup_table(filters: MetricFilters, *, by: str | None) -> str:
    """TeamDailyRollup (the same sums without the agent, about 7× fewer rows) unless the agent is
    filtered or broken down."""
    return "metrics_dailyrollup" if filters.agent_ids or by == "agent" else "metrics_teamdailyrollup"


# With an organization filter the facts of those organizations (index (organization, created_at)),
# read once: scanning each anchor's day index for them would read every fact of the period.
_ORGANIZATION_TOTALS_CTE = """
    organization_fact AS MATERIALIZED (
        SELECT * FROM metrics_ticketfact AS fact WHERE fact.organization_id = ANY(%(filter_organization)s)
    ),
"""


def _totals(filters: MetricFilters, *, by: str | None, day_from: date, day_to: date) -> dict[Any, dict[str, int]]:
    """The counts and sums of `_TOTALS` per key of `by` (a dimension) or per period ("current" for
    days from filters.start on, "previous" before), over the days [day_from, day_to]. One query."""
    frt, resolution = _hours(filters)
    zone = reporting_time_zone()
    params: dict[str, Any] = {"day_from": day_from, "day_to": day_to, "start": filters.start,
                              "from": datetime.combine(day_from, time.min, tzinfo=zone),
                              "to": datetime.combine(day_to + timedelta(days=1), time.min, tzinfo=zone),
                              "current_from": datetime.combine(filters.start, time.min, tzinfo=zone)}
    if filters.uses_facts or by == "organization":
        group = f"fact.{_FACT_COLUMNS[by]}" if by else "NULL::integer"
        measure_group = ("CASE WHEN at >= %(current_from)s THEN 'current' ELSE 'previous' END"
                         if by is None else "group_key")
        source_cte, source = "", "metrics_ticketfact"
        if filters.organization_ids:
            source_cte, source = _ORGANIZATION_TOTALS_CTE, "organization_fact"
        sql = _FACT_TOTALS_SQL.format(
            source_cte=source_cte, source=source,
            dimensions=_dimension_sql(filters, _FACT_COLUMNS, "fact", params), fact_group=group,
            measure_group=measure_group, frt=frt, resolution=resolution,
        )
    else:
        group = (f"rollup.{_ROLLUP_COLUMNS[by]}" if by
                 else "CASE WHEN rollup.day >= %(start)s THEN 'current' ELSE 'previous' END")
        sql = _ROLLUP_TOTALS_SQL.format(
            group=group, frt_sum=f"{frt}_sum", resolution_sum=f"{resolution}_sum",
            rollup_table=_rollup_table(filters, by=by),
            dimensions=_dimension_sql(filters, _ROLLUP_COLUMNS, "rollup", params),
        )
    return {row[0]: dict(zip(_TOTALS, (int(value) for value in row[1:]), strict=True)) for row in _fetch(sql, params)}


# --- medians and p90 ------------------------------------------------------------------------
# With an organization filter the facts of those organizations are few (index (organization,
# created_at)): read them once rather than scanning every fact of the period by its day index.
_ORGANIZATION_FACTS_SQL = """
    WITH fact AS MATERIALIZED (
        SELECT fact.first_public_agent_reply_at, fact.first_solved_at, fact.frt_seconds, fact.frt_business_seconds,
               fact.resolution_seconds, fact.resolution_business_seconds, fact.is_merged, fact.team_id,
               fact.agent_id, fact.channel, fact.priority, fact.organization_id
        FROM metrics_ticketfact AS fact WHERE fact.organization_id = ANY(%(filter_organization)s)
    )
"""


def _fact_source(filters: MetricFilters) -> tuple[str, str]:
    """(WITH clause, table) the percentile statements read the facts from."""
    if filters.organization_ids:
        return _ORGANIZATION_FACTS_SQL, "fact"
    return "", "metrics_ticketfact"


def _percentiles(filters: MetricFilters, *, group: str, day_from: date, day_to: date,
                 period_split: bool = False) -> dict[Any, dict[str, Any]]:
    """Exact median and p90 of FRT (on the first-reply day) and resolution (on the first-solve
    day, merged excluded: their durations are NULL) per `group` (an SQL expression over `fact`).
    With `period_split` the groups are "current" and "previous" (before filters.start). One query.

    Each measure (and period) is its own range scan of its anchor's covering index, an index-only
    scan, rather than one scan of the rows in either range (the OR made PostgreSQL read the whole
    table); as a UNION ALL the parts can run in parallel workers. One sort per part gives both the
    median and p90 (the array form of percentile_cont). A group is any key with a fact in either
    range, merged or not, as the single-scan statement had it.
    """
    frt, resolution = _hours(filters)
    zone = reporting_time_zone()
    params: dict[str, Any] = {"from": datetime.combine(day_from, time.min, tzinfo=zone),
                              "to": datetime.combine(day_to + timedelta(days=1), time.min, tzinfo=zone),
                              "current_from": datetime.combine(filters.start, time.min, tzinfo=zone)}
    dimensions = _dimension_sql(filters, _FACT_COLUMNS, "fact", params)
    periods = ((("current", "%(current_from)s", "%(to)s"), ("previous", "%(from)s", "%(current_from)s"))
               if period_split else ((None, "%(from)s", "%(to)s"),))
    # Without groups the merged duplicates can be left out by the scan itself; with groups they
    # stay, so that their key still has a row (as in the breakdown's other parts).
    merged_where = "AND NOT fact.is_merged" if period_split else ""
    merged_filter = "" if period_split else "FILTER (WHERE NOT fact.is_merged)"
    group_sql = "NULL" if period_split else group
    group_by = "" if period_split else "GROUP BY 3"
    with_clause, source = _fact_source(filters)
    parts = []
    for period, low, high in periods:
        label = "NULL" if period is None else f"'{period}'"
        parts.append(
            f"SELECT 'frt', {label}, {group_sql}, "  # noqa: S608 (names from constants, values as parameters)
            f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY fact.{frt}), count(fact.{frt}) "
            f"FROM {source} AS fact WHERE fact.first_public_agent_reply_at >= {low} "
            f"AND fact.first_public_agent_reply_at < {high} {dimensions} {group_by}"
        )
        parts.append(
            f"SELECT 'resolution', {label}, {group_sql}, "  # noqa: S608 (names from constants, values as parameters)
            f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY fact.{resolution}) {merged_filter}, "
            f"count(fact.{resolution}) {merged_filter} "
            f"FROM {source} AS fact WHERE fact.first_solved_at >= {low} AND fact.first_solved_at < {high} "
            f"{merged_where} {dimensions} {group_by}"
        )
    sql = with_clause + " UNION ALL ".join(parts)
    found: dict[Any, dict[str, Any]] = {}
    for measure, period, key, values, count in _fetch(sql, params):
        figures = found.setdefault(period if period_split else key, {
            "frt_median": None, "frt_p90": None, "frt_count": 0,
            "resolution_median": None, "resolution_p90": None, "resolution_count": 0,
        })
        figures[f"{measure}_median"] = values[0] if values else None
        figures[f"{measure}_p90"] = values[1] if values else None
        figures[f"{measure}_count"] = count
    if period_split:
        return {period: found.get(period, {}) for period in ("current", "previous")}
    return found


# --- surveys --------------------------------------------------------------------------------
_SURVEYS = ("csat_count", "csat_satisfied", "nps_count", "nps_promoters", "nps_detractors", "ces_count", "ces_sum")

_SURVEY_SQL = """
    SELECT {group},
           count(*) FILTER (WHERE answer.kind = 'csat'),
           count(*) FILTER (WHERE answer.kind = 'csat' AND answer.score >= %(csat_min)s),
           count(*) FILTER (WHERE answer.kind = 'nps'),
           count(*) FILTER (WHERE answer.kind = 'nps' AND answer.score >= %(promoter_min)s),
           count(*) FILTER (WHERE answer.kind = 'nps' AND answer.score <= %(detractor_max)s),
           count(*) FILTER (WHERE answer.kind = 'ces'),
           coalesce(sum(answer.score) FILTER (WHERE answer.kind = 'ces'), 0)
    FROM metrics_surveyresponse AS answer
    WHERE answer.kind IN ('csat', 'nps', 'ces') AND answer.responded_at >= %(from)s AND answer.responded_at < %(to)s
          {dimensions}
    GROUP BY 1
"""


def _surveys(filters: MetricFilters, *, group: str, day_from: date, day_to: date) -> dict[Any, dict[str, int]]:
    """Survey answer counts per `group` (an SQL expression over `answer`, may use %(current_from)s). One query."""
    zone = reporting_time_zone()
    params: dict[str, Any] = {
        "from": datetime.combine(day_from, time.min, tzinfo=zone),
        "to": datetime.combine(day_to + timedelta(days=1), time.min, tzinfo=zone),
        "current_from": datetime.combine(filters.start, time.min, tzinfo=zone), "zone": zone.key,
        "csat_min": CSAT_SATISFIED_MIN, "promoter_min": NPS_PROMOTER_MIN, "detractor_max": NPS_DETRACTOR_MAX,
    }
    sql = _SURVEY_SQL.format(group=group, dimensions=_dimension_sql(filters, _SURVEY_COLUMNS, "answer", params))
    return {row[0]: dict(zip(_SURVEYS, (int(value) for value in row[1:]), strict=True)) for row in _fetch(sql, params)}


def _survey_figures(counts: Mapping[str, int] | None) -> dict[str, float | None]:
    counts = counts or dict.fromkeys(_SURVEYS, 0)
    nps = None
    if counts["nps_count"]:
        nps = 100.0 * (counts["nps_promoters"] - counts["nps_detractors"]) / counts["nps_count"]
    return {
        "csat": _ratio(counts["csat_satisfied"], counts["csat_count"]), "nps": nps,
        "ces": _ratio(counts["ces_sum"], counts["ces_count"]),
    }


# --- backlog --------------------------------------------------------------------------------
_BACKLOG_NOW_SQL = """
    SELECT count(*) FILTER (WHERE ticket.created_at > %(now)s - interval '1 day'),
           count(*) FILTER (WHERE ticket.created_at <= %(now)s - interval '1 day'
                            AND ticket.created_at > %(now)s - interval '3 days'),
           count(*) FILTER (WHERE ticket.created_at <= %(now)s - interval '3 days'
                            AND ticket.created_at > %(now)s - interval '7 days'),
           count(*) FILTER (WHERE ticket.created_at <= %(now)s - interval '7 days'
                            AND ticket.created_at > %(now)s - interval '30 days'),
           count(*) FILTER (WHERE ticket.created_at <= %(now)s - interval '30 days')
    FROM tickets_ticket AS ticket
    WHERE ticket.status = ANY(%(unsolved)s) AND ticket.merged_into_id IS NULL {dimensions}
"""

# The backlog at the end of each day from %(day_from)s to %(day_to)s: tickets created by then and
# not yet first solved, merged duplicates left out. A ticket is never closed unsolved (closing
# needs a solve or a merge: tickets.transitions), so "never solved" is "unsolved now". A ticket
# reopened after its first solve is not counted again (the facts keep the first solve only), so a
# past day can count a little less than the tickets open then; today's figure is read from the
# tickets instead.
#
# Counted backwards from the range's end so that only the range's rows are read, not every fact
# created before it: the backlog at the end of the last day (`_BACKLOG_OPEN_AT_SQL`: the never
# solved, through their partial index, and those solved after it), then for each earlier day d,
# plus the first solves after d and minus the unmerged creations after d, within the range, taken
# from the rollups (a ticket is first solved on or after the day it was created, so one created and
# solved after d cancels).
_BACKLOG_OPEN_AT_SQL = """
    SELECT fact.created_at FROM metrics_ticketfact AS fact
    WHERE fact.first_solved_at IS NULL AND NOT fact.is_merged AND fact.created_at < %(at)s {dimensions}
    UNION ALL
    SELECT fact.created_at FROM metrics_ticketfact AS fact
    WHERE fact.first_solved_at >= %(at)s AND NOT fact.is_merged AND fact.created_at < %(at)s {dimensions}
"""
# Merged duplicates created per day: the rollups' volume counts them, the backlog does not.
_MERGED_CREATED_SQL = """
    SELECT (fact.created_at AT TIME ZONE %(zone)s)::date, count(*)
    FROM metrics_ticketfact AS fact
    WHERE fact.is_merged AND fact.created_at >= %(from)s AND fact.created_at < %(to)s {dimensions}
    GROUP BY 1
"""
_BACKLOG_OPEN_COUNT_SQL = (
    "SELECT NULL::date, count(*) FROM ("  # noqa: S608 (constant SQL)
    + _BACKLOG_OPEN_AT_SQL.replace("%(at)s", "%(to)s") + ") AS open_then"
)


def _backlog_now(filters: MetricFilters, now: datetime) -> list[int]:
    params: dict[str, Any] = {"now": now, "unsolved": list(UNSOLVED_STATUSES)}
    sql = _BACKLOG_NOW_SQL.format(dimensions=_dimension_sql(filters, _TICKET_COLUMNS, "ticket", params))
    (row,) = _fetch(sql, params)
    return [int(count) for count in row]


def _backlog_trend(filters: MetricFilters, *, day_from: date, day_to: date,
                   volume: Mapping[date, tuple[int, int]]) -> dict[date, int]:
    """The backlog at the end of each day of [day_from, day_to] (see `_BACKLOG_OPEN_AT_SQL`). One
    query. `volume` is {day: (created, first solved)} of the filters from the rollups (or the facts'
    equivalent); of the period's facts only its merged duplicates are read."""
    zone = reporting_time_zone()
    params: dict[str, Any] = {
        "zone": zone.key, "to": datetime.combine(day_to + timedelta(days=1), time.min, tzinfo=zone),
        # Only the days after day_from change anything.
        "from": datetime.combine(day_from + timedelta(days=1), time.min, tzinfo=zone),
    }
    dimensions = _dimension_sql(filters, _FACT_COLUMNS, "fact", params)
    parts = [_BACKLOG_OPEN_COUNT_SQL]
    if day_from < day_to:
        parts.append(_MERGED_CREATED_SQL)
    open_at_end = 0
    changes: dict[date, int] = {}
    for day, count in _fetch(" UNION ALL ".join(parts).format(dimensions=dimensions), params):
        if day is None:
            open_at_end = int(count)
        else:
            changes[day] = int(count)
    # The first solves of a day were open the day before, its (unmerged) creations not yet.
    changes = {day: solved - created + changes.get(day, 0) for day, (created, solved) in volume.items()}
    trend = {}
    count = open_at_end
    day = day_to
    while day >= day_from:
        trend[day] = count
        # The day before: the first solves of this day were still open, its creations not yet there.
        count += changes.get(day, 0)
        day -= timedelta(days=1)
    return dict(sorted(trend.items()))


def _backlog_before(*, open_at_end: int, totals: Mapping[str, int] | None, merged: int) -> int:
    """The backlog at the end of the day before the period, from the one at its end: plus the
    period's first solves, minus its creations that were not merged (see `_BACKLOG_OPEN_AT_SQL`)."""
    totals = totals or dict.fromkeys(_TOTALS, 0)
    return open_at_end + totals["solved"] - (totals["created"] - merged)


# --- the read API ---------------------------------------------------------------------------
def _change(value: float | None, previous: float | None, unit: str) -> float | None:
    if value is None or previous is None:
        return None
    if unit in ("ratio", "score"):
        return float(value) - float(previous)
    return (float(value) - float(previous)) / float(previous) if previous else None


def _figures(totals: Mapping[str, int] | None, percentiles: Mapping[str, Any] | None,
             surveys: Mapping[str, int] | None) -> dict[str, tuple[Any, int]]:
    """(value, sample) of each summary metric but the backlog, from one period's parts."""
    totals = totals or dict.fromkeys(_TOTALS, 0)
    percentiles = percentiles or {}
    surveys = surveys or dict.fromkeys(_SURVEYS, 0)
    survey = _survey_figures(surveys)
    solved, replied = totals["solved"], totals["first_replied"]
    return {
        "volume": (totals["created"], totals["created"]),
        "solved": (solved, solved),
        "frt_median": (_number(percentiles.get("frt_median")), int(percentiles.get("frt_count") or 0)),
        "frt_p90": (_number(percentiles.get("frt_p90")), int(percentiles.get("frt_count") or 0)),
        "frt_mean": (_ratio(totals["frt_sum"], replied), replied),
        "resolution_median": (_number(percentiles.get("resolution_median")),
                              int(percentiles.get("resolution_count") or 0)),
        "resolution_p90": (_number(percentiles.get("resolution_p90")), int(percentiles.get("resolution_count") or 0)),
        "resolution_mean": (_ratio(totals["resolution_sum"], solved), solved),
        "fcr_rate": (_ratio(totals["fcr"], solved), solved),
        "reopen_rate": (_ratio(totals["reopened"], solved), solved),
        "csat": (survey["csat"], surveys["csat_count"]),
        "nps": (survey["nps"], surveys["nps_count"]),
        "ces": (survey["ces"], surveys["ces_count"]),
        "sla_compliance": (_ratio(totals["sla_met"], totals["sla_due"]), totals["sla_due"]),
    }


def metrics_summary(*, filters: MetricFilters) -> dict[str, Any]:
    """The headline figures of the period and of the period before it (shape: module docstring). Five queries."""
    previous = filters.previous()
    span = {"day_from": previous.start, "day_to": filters.end}
    totals = _totals(filters, by=None, **span)
    percentiles = _percentiles(filters, group="", period_split=True, **span)
    surveys = _surveys(filters, group="CASE WHEN answer.responded_at >= %(current_from)s THEN 'current' "
                                       "ELSE 'previous' END", **span)
    current_figures = _figures(totals.get("current"), percentiles["current"], surveys.get("current"))
    previous_figures = _figures(totals.get("previous"), percentiles["previous"], surveys.get("previous"))
    metrics: dict[str, dict[str, Any]] = {}
    for name in SUMMARY_METRICS[:-1]:
        value, sample = current_figures[name]
        previous_value = previous_figures[name][0]
        unit = METRIC_UNITS[name]
        metrics[name] = {"value": value, "previous": previous_value, "change": _change(value, previous_value, unit),
                         "change_kind": "difference" if unit in ("ratio", "score") else "relative",
                         "unit": unit, "sample": sample}
    metrics["backlog"] = _backlog_summary(filters, totals.get("current"))
    return {"period": metrics_period(filters), "metrics": metrics}


def metrics_period(filters: MetricFilters) -> dict[str, str]:
    """The "period" item of the results: the days, the previous period's, the time zone and hours."""
    previous = filters.previous()
    return {"start": filters.start.isoformat(), "end": filters.end.isoformat(),
            "previous_start": previous.start.isoformat(), "previous_end": previous.end.isoformat(),
            "time_zone": reporting_time_zone().key, "hours": "business" if filters.business_hours else "calendar"}


def _backlog_summary(filters: MetricFilters, totals: Mapping[str, int] | None) -> dict[str, Any]:
    """The backlog card; `totals` are the period's (`_totals`), from which the previous period's
    end is counted back."""
    now = timezone.now()
    start_at, end_at = filters.bounds()
    if end_at > now:
        # The period includes today: the tickets as they are now. Two queries.
        as_of = now
        by_age = _backlog_now(filters, now)
        value = sum(by_age)
        open_at_end, merged = _backlog_open_at(filters, end_at, merged_from=start_at)
    else:
        # A past period: its last day's end, and the previous period's, from the facts. One query.
        as_of = end_at
        by_age, merged = _backlog_by_age_at(filters, end_at, merged_from=start_at)
        value = open_at_end = sum(by_age)
    previous_value = _backlog_before(open_at_end=open_at_end, totals=totals, merged=merged)
    return {"value": value, "previous": previous_value, "change": _change(value, previous_value, "count"),
            "change_kind": "relative", "unit": "count", "sample": value, "as_of": as_of.astimezone(UTC).isoformat(),
            "by_age": [{"bucket": bucket, "count": count} for bucket, count in zip(BACKLOG_AGE_BUCKETS, by_age, strict=True)]}


_BACKLOG_AT_SQL = """
    SELECT count(*) FILTER (WHERE open_then.created_at > %(at)s - interval '1 day'),
           count(*) FILTER (WHERE open_then.created_at <= %(at)s - interval '1 day'
                            AND open_then.created_at > %(at)s - interval '3 days'),
           count(*) FILTER (WHERE open_then.created_at <= %(at)s - interval '3 days'
                            AND open_then.created_at > %(at)s - interval '7 days'),
           count(*) FILTER (WHERE open_then.created_at <= %(at)s - interval '7 days'
                            AND open_then.created_at > %(at)s - interval '30 days'),
           count(*) FILTER (WHERE open_then.created_at <= %(at)s - interval '30 days')
           , (SELECT count(*) FROM metrics_ticketfact AS fact
              WHERE fact.is_merged AND fact.created_at >= %(merged_from)s AND fact.created_at < %(at)s {dimensions})
    FROM ({open_at}) AS open_then
"""


def _backlog_by_age_at(filters: MetricFilters, at: datetime, *, merged_from: datetime) -> tuple[list[int], int]:
    """The backlog at a past instant by age bucket, counted like `_backlog_trend`, and how many
    merged duplicates were created from `merged_from` to then. One query."""
    params: dict[str, Any] = {"at": at, "merged_from": merged_from}
    dimensions = _dimension_sql(filters, _FACT_COLUMNS, "fact", params)
    sql = _BACKLOG_AT_SQL.format(open_at=_BACKLOG_OPEN_AT_SQL.format(dimensions=dimensions), dimensions=dimensions)
    (row,) = _fetch(sql, params)
    return [int(count) for count in row[:5]], int(row[5])


def _backlog_open_at(filters: MetricFilters, at: datetime, *, merged_from: datetime) -> tuple[int, int]:
    """The backlog at an instant counted like `_backlog_trend` (not by age), and how many merged
    duplicates were created from `merged_from` to then. One query."""
    by_age, merged = _backlog_by_age_at(filters, at, merged_from=merged_from)
    return sum(by_age), merged


def _days(filters: MetricFilters) -> list[date]:
    return [filters.start + timedelta(days=offset) for offset in range(filters.days)]


_VOLUME_SOLVED_ROLLUP_SQL = """
    SELECT rollup.day, rollup.channel, coalesce(sum(rollup.created), 0), coalesce(sum(rollup.solved), 0)
    FROM {rollup_table} AS rollup
    WHERE rollup.day >= %(day_from)s AND rollup.day <= %(day_to)s {dimensions}
    GROUP BY 1, 2
"""
_VOLUME_SOLVED_FACT_SQL = """
    {with_clause}
    SELECT day, channel, count(*) FILTER (WHERE anchor = 'created'), count(*) FILTER (WHERE anchor = 'solved')
    FROM (
        SELECT (fact.created_at AT TIME ZONE %(zone)s)::date AS day, fact.channel, 'created' AS anchor
        FROM {source} AS fact WHERE fact.created_at >= %(from)s AND fact.created_at < %(to)s {dimensions}
        UNION ALL
        SELECT (fact.first_solved_at AT TIME ZONE %(zone)s)::date, fact.channel, 'solved'
        FROM {source} AS fact
        WHERE fact.first_solved_at >= %(from)s AND fact.first_solved_at < %(to)s AND NOT fact.is_merged {dimensions}
    ) AS measures
    GROUP BY 1, 2
"""


def metrics_timeseries(*, filters: MetricFilters) -> dict[str, Any]:
    """One value per day of the period for the trend charts (shape: module docstring). Four queries."""
    days = _days(filters)
    index = {day: position for position, day in enumerate(days)}
    zone = reporting_time_zone()
    params: dict[str, Any] = {"day_from": filters.start, "day_to": filters.end, "zone": zone.key}
    params["from"], params["to"] = filters.bounds()
    if filters.uses_facts:
        # Only with an organization filter (uses_facts): those organizations' facts, read once.
        sql = _VOLUME_SOLVED_FACT_SQL.format(
            dimensions=_dimension_sql(filters, _FACT_COLUMNS, "fact", params), source="organization_fact",
            with_clause=f"WITH {_ORGANIZATION_TOTALS_CTE.rstrip().rstrip(',')}",
        )
    else:
        sql = _VOLUME_SOLVED_ROLLUP_SQL.format(dimensions=_dimension_sql(filters, _ROLLUP_COLUMNS, "rollup", params),
                                               rollup_table=_rollup_table(filters, by=None))
    channels = filters.channels or tuple(Channel.values)
    volume_by_channel = {channel: [0] * len(days) for channel in channels}
    solved = [0] * len(days)
    created_all = [0] * len(days)
    for day, channel, created, solved_count in _fetch(sql, params):
        if day not in index:
            continue
        volume_by_channel.setdefault(channel, [0] * len(days))[index[day]] += int(created)
        created_all[index[day]] += int(created)
        solved[index[day]] += int(solved_count)

    frt_median: list[float | None] = [None] * len(days)
    resolution_median: list[float | None] = [None] * len(days)
    frt, resolution = _hours(filters)
    percentile_params: dict[str, Any] = {"zone": zone.key, "day_from": filters.start, "day_to": filters.end}
    dimensions = _dimension_sql(filters, _FACT_COLUMNS, "fact", percentile_params)
    if filters.organization_ids:
        # Those organizations' facts, few: grouped by day in one pass.
        percentile_params["from"], percentile_params["to"] = filters.bounds()
        percentile_sql = _ORGANIZATION_FACTS_SQL + f"""
            SELECT 'frt', (fact.first_public_agent_reply_at AT TIME ZONE %(zone)s)::date,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY fact.{frt})
            FROM fact
            WHERE fact.first_public_agent_reply_at >= %(from)s AND fact.first_public_agent_reply_at < %(to)s
                  AND fact.{frt} IS NOT NULL {dimensions}
            GROUP BY 2
            UNION ALL
            SELECT 'resolution', (fact.first_solved_at AT TIME ZONE %(zone)s)::date,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY fact.{resolution})
            FROM fact
            WHERE fact.first_solved_at >= %(from)s AND fact.first_solved_at < %(to)s AND NOT fact.is_merged
                  AND fact.{resolution} IS NOT NULL {dimensions}
            GROUP BY 2
        """  # noqa: S608 (column names from constants, values as parameters)
    else:
        # One small range scan and sort per day (LATERAL over the days) rather than one scan of
        # the period sorted by day and then by value: about half the time over 90 days at 1M tickets.
        day_start = "(day.day::date::timestamp AT TIME ZONE %(zone)s)"
        next_day_start = "((day.day::date + 1)::timestamp AT TIME ZONE %(zone)s)"
        percentile_sql = f"""
            SELECT 'frt', day.day::date, measure.median
            FROM generate_series(%(day_from)s::date, %(day_to)s::date, interval '1 day') AS day(day)
            CROSS JOIN LATERAL (
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY fact.{frt}) AS median
                FROM metrics_ticketfact AS fact
                WHERE fact.first_public_agent_reply_at >= {day_start}
                      AND fact.first_public_agent_reply_at < {next_day_start} AND fact.{frt} IS NOT NULL {dimensions}
            ) AS measure
            UNION ALL
            SELECT 'resolution', day.day::date, measure.median
            FROM generate_series(%(day_from)s::date, %(day_to)s::date, interval '1 day') AS day(day)
            CROSS JOIN LATERAL (
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY fact.{resolution}) AS median
                FROM metrics_ticketfact AS fact
                WHERE fact.first_solved_at >= {day_start} AND fact.first_solved_at < {next_day_start}
                      AND NOT fact.is_merged AND fact.{resolution} IS NOT NULL {dimensions}
            ) AS measure
        """  # noqa: S608 (column names from constants, values as parameters)
    for measure, day, median in _fetch(percentile_sql, percentile_params):
        if day in index and median is not None:
            (frt_median if measure == "frt" else resolution_median)[index[day]] = float(median)

    csat: list[float | None] = [None] * len(days)
    nps: list[float | None] = [None] * len(days)
    ces: list[float | None] = [None] * len(days)
    survey_days = _surveys(filters, group="(answer.responded_at AT TIME ZONE %(zone)s)::date",
                           day_from=filters.start, day_to=filters.end)
    for day, counts in survey_days.items():
        if day in index:
            figures = _survey_figures(counts)
            csat[index[day]], nps[index[day]], ces[index[day]] = figures["csat"], figures["nps"], figures["ces"]

    trend = _backlog_trend(filters, day_from=filters.start, day_to=filters.end,
                           volume={day: (created_all[position], solved[position]) for day, position in index.items()})
    today = reporting_today()
    backlog = [trend.get(day, 0) for day in days]
    if filters.start <= today <= filters.end:
        # Today's point is the tickets now, as the headline card shows it.
        backlog[index[today]] = sum(_backlog_now(filters, timezone.now()))
    return {
        "period": metrics_period(filters),
        "days": [day.isoformat() for day in days],
        "series": {"volume_by_channel": volume_by_channel, "solved": solved, "frt_median": frt_median,
                   "resolution_median": resolution_median, "csat": csat, "nps": nps, "ces": ces, "backlog": backlog},
    }


def _labels(by: str, keys: Iterable[Any]) -> dict[Any, str]:
    """Display names of the breakdown keys, in the active language. At most one query."""
    ids = [key for key in keys if key is not None]
    if by == "team":
        names = dict(Team.objects.filter(pk__in=ids).values_list("pk", "name"))
        empty = _("No team")
    elif by == "agent":
        names = {user.pk: user.name for user in User.objects.filter(pk__in=ids).only(
            "pk", "display_name", "first_name", "last_name", "username")}
        empty = _("Unassigned")
    elif by == "organization":
        names = dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name"))
        empty = _("No organization")
    elif by == "channel":
        names = {key: str(Channel(key).label) for key in ids if key in Channel.values}
        empty = _("No channel")
    else:
        names = {key: str(Priority(key).label) for key in ids if key in Priority.values}
        empty = _("No priority")
    labels: dict[Any, str] = {None: str(empty)}
    for key in ids:
        labels[key] = names.get(key) or str(_("Deleted (#%(id)s)") % {"id": key})
    return labels


BREAKDOWN_FIELDS = (
    "volume", "solved", "first_replied", "frt_median", "frt_p90", "frt_mean", "resolution_median", "resolution_p90",
    "resolution_mean", "fcr_rate", "reopen_rate", "sla_due", "sla_compliance", "csat", "csat_count", "nps",
    "nps_count", "ces", "ces_count",
)


def metrics_breakdown(*, filters: MetricFilters, by: str) -> list[dict[str, Any]]:
    """One row of figures per team, agent, channel, priority or organization (shape: module
    docstring), most tickets first. Four queries (three and the labels)."""
    if by not in BREAKDOWN_DIMENSIONS:
        raise InvalidMetricFilters(_("Unknown breakdown “%(value)s”.") % {"value": str(by)[:40]})
    totals = _totals(filters, by=by, day_from=filters.start, day_to=filters.end)
    percentiles = _percentiles(filters, group=f"fact.{_FACT_COLUMNS[by]}", day_from=filters.start,
                               day_to=filters.end)
    # Answers without a ticket have an empty channel and priority: the "none" row.
    survey_group = f"nullif(answer.{_SURVEY_COLUMNS[by]}, '')" if by in ("channel", "priority") \
        else f"answer.{_SURVEY_COLUMNS[by]}"
    surveys = _surveys(filters, group=survey_group, day_from=filters.start, day_to=filters.end)
    keys = set(totals) | set(percentiles) | set(surveys)
    labels = _labels(by, keys)
    rows = []
    for key in keys:
        if key is None and not any((totals.get(key) or {}).values()) and not any((surveys.get(key) or {}).values()):
            # "No team" (or channel …) with nothing in the period: a row of zeros and dashes says nothing.
            continue
        figures = _figures(totals.get(key), percentiles.get(key), surveys.get(key))
        part_totals = totals.get(key) or dict.fromkeys(_TOTALS, 0)
        survey_counts = surveys.get(key) or dict.fromkeys(_SURVEYS, 0)
        row: dict[str, Any] = {"key": key, "label": labels[key]}
        row.update({name: figures[name][0] for name in figures})
        row.update(first_replied=part_totals["first_replied"], sla_due=part_totals["sla_due"],
                   csat_count=survey_counts["csat_count"], nps_count=survey_counts["nps_count"],
                   ces_count=survey_counts["ces_count"])
        rows.append({"key": key, "label": row["label"], **{name: row[name] for name in BREAKDOWN_FIELDS}})
    rows.sort(key=lambda row: (-row["volume"], -row["solved"], row["key"] is None, row["label"].casefold()))
    return rows


def metrics_drilldown(*, filters: MetricFilters, user: User | AnonymousUser | None, metric: str) -> QuerySet[Ticket]:
    """The tickets behind a figure of `metric` (DRILLDOWN_METRICS) under `filters`, only those `user`
    may see (none for anyone but staff).

    volume: created in the period; solved: first solved in it (merged excluded); frt: first
    answered in it; resolution: solved with a resolution time; fcr: solved at first contact;
    reopened: solved and reopened; sla / sla_missed: with an SLA target due in it (missed);
    backlog: unsolved now if the period includes today, else at the end of its last day (as the
    summary counts it); csat, nps, ces: with such a survey answer in the period (answers without a
    ticket count in the figures but have no ticket to list).
    """
    if metric not in DRILLDOWN_METRICS:
        raise InvalidMetricFilters(_("Unknown metric “%(value)s”.") % {"value": str(metric)[:40]})
    if not permissions.is_staff_member(user):
        # Customers see their own tickets elsewhere, never as a metric's drill-down.
        return Ticket.objects.none()
    tickets = permissions.visible_tickets(user)
    start_at, end_at = filters.bounds()
    dimensions = _orm_dimensions(filters, prefix="")
    if metric == "backlog":
        if end_at > timezone.now():
            return tickets.filter(status__in=UNSOLVED_STATUSES, merged_into__isnull=True).filter(
                _orm_dimensions(filters, prefix="", agent_field="assignee_id"))
        # A past period: the backlog at the end of its last day, counted as the summary counts it.
        open_then = TicketFact.objects.filter(dimensions, created_at__lt=end_at, is_merged=False).filter(
            Q(first_solved_at__gte=end_at) | Q(first_solved_at__isnull=True)
        )
        return tickets.filter(pk__in=open_then.values("ticket_id"))
    if metric in ("csat", "nps", "ces"):
        answers = SurveyResponse.objects.filter(
            ticket=OuterRef("pk"), kind=SurveyKind(metric), responded_at__gte=start_at, responded_at__lt=end_at,
        ).filter(dimensions)
        return tickets.filter(Exists(answers))
    frt, resolution = _hours(filters)
    facts = TicketFact.objects.filter(dimensions)
    if metric == "volume":
        facts = facts.filter(created_at__gte=start_at, created_at__lt=end_at)
    elif metric == "frt":
        facts = facts.filter(first_public_agent_reply_at__gte=start_at, first_public_agent_reply_at__lt=end_at,
                             **{f"{frt}__isnull": False})
    elif metric in ("sla", "sla_missed"):
        facts = facts.filter(pk__in=_sla_ticket_ids(filters, missed_only=metric == "sla_missed"))
    else:
        facts = facts.filter(first_solved_at__gte=start_at, first_solved_at__lt=end_at, is_merged=False)
        if metric == "resolution":
            facts = facts.filter(**{f"{resolution}__isnull": False})
        elif metric == "fcr":
            facts = facts.filter(is_fcr=True)
        elif metric == "reopened":
            facts = facts.filter(reopen_count__gt=0)
    return tickets.filter(pk__in=facts.values("ticket_id"))


def _orm_dimensions(filters: MetricFilters, *, prefix: str, agent_field: str = "agent_id") -> Q:
    condition = Q()
    for field, values in ((f"{prefix}team_id", filters.team_ids), (f"{prefix}{agent_field}", filters.agent_ids),
                          (f"{prefix}channel", filters.channels), (f"{prefix}priority", filters.priorities),
                          (f"{prefix}organization_id", filters.organization_ids)):
        if values:
            condition &= Q(**{f"{field}__in": values})
    return condition


def _sla_ticket_ids(filters: MetricFilters, *, missed_only: bool) -> Any:
    """A subquery of the ids of facts with an SLA target due in the period (missed ones only)."""
    from django.db.models.expressions import RawSQL

    start_at, end_at = filters.bounds()
    missed = " AND NOT (target ->> 'met')::boolean" if missed_only else ""
    return RawSQL(  # noqa: S611 (constant SQL, values as parameters)
        "SELECT fact.ticket_id FROM metrics_ticketfact AS fact "  # noqa: S608 (constant SQL, values as parameters)
        "CROSS JOIN LATERAL jsonb_array_elements(fact.sla_targets) AS target "
        "WHERE fact.sla_targets <> '[]'::jsonb AND fact.created_at < %s "
        "AND (target ->> 'due')::timestamptz >= %s AND (target ->> 'due')::timestamptz < %s" + missed,
        (end_at, start_at, end_at),
    )
