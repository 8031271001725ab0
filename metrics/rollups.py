"""The daily rollups (metrics.models.DailyRollup): a pure function of the fact table, kept current.

What a fact contributes (`fact_contribution`, and the same rule in SQL in `_CONTRIBUTIONS_SQL`):

* volume: 1 `created` on the day of `created_at` (merged duplicates included: they were tickets);
* first response: on the day of `first_public_agent_reply_at`, 1 `first_replied` and the FRT
  sums, unless the ticket is a merged duplicate (which has no FRT: counting it would pull the mean
  down with zeros);
* resolution: on the day of `first_solved_at`, merged duplicates excluded: 1 `solved`, the
  resolution sums, `fcr`, `reopened` (reopened at least once), `solved_by_customer` and the
  public agent replies;
* SLA: for each decided target of `sla_targets`, on the day it was due, 1 `sla_due` and 1
  `sla_met` if met.
Days are those of settings.HELPDESK_METRICS_TIME_ZONE; the key is the fact's team, agent,
channel and priority.

TeamDailyRollup holds the same measures without the agent (about 7× fewer rows, for the
dashboards' reads that neither filter nor break down by agent): `rollups_apply` adds the same
deltas summed over the agents, `rollups_rebuild` writes it from the DailyRollup rows it has just
recomputed, and `rollups_drift` compares each table with the facts on its own.

Why deltas rather than recomputing days: a ticket's change moves up to four days' counts (the
day it was created, first answered, first solved, its SLA targets' days), which may be months
apart, and recomputing a whole day for one ticket reads every fact of that day. Because a fact's
contribution depends on that fact row alone, the refresh (metrics.services.ticket_facts_refresh)
reads the old rows under a lock, subtracts what they contributed and adds what the new ones
contribute, in the same transaction as it writes them: the rollups change exactly when and as the
facts do. Rows that sum to nothing are deleted, so the table equals what `rollups_rebuild` would
write, row for row; `rollups_drift` checks that (nightly) and `rollups_rebuild` repairs it.

When it runs: the ticket services announce each change after commit, which adds the ticket to a
batch refreshed a couple of seconds later by one task on the metrics queue (metrics.services,
`metrics_refresh_schedule`); the minute refresh of tickets changed since their facts is the
safety net. Two refreshes of one ticket queue up on its fact row; whatever order they commit in,
each subtracts exactly what the stored row contributed, so the rollups always equal their facts.
What deltas cannot see is a fact row removed without a refresh (a ticket deleted, its fact
cascading): the nightly drift check reports it and `check_metrics_drift --repair` rebuilds.

Why no sketch for medians and p90: they are read exactly with percentile_cont from the fact table
(about 50 ms over 90 days of a million tickets, measured); merging stored histograms was slower.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

# The measures of a rollup row, in the order of every vector and statement here.
MEASURES = (
    "created",
    "first_replied", "frt_seconds_sum", "frt_business_seconds_sum",
    "solved", "resolution_seconds_sum", "resolution_business_seconds_sum", "fcr", "reopened",
    "solved_by_customer", "public_agent_replies_sum",
    "sla_due", "sla_met",
)
KEY_COLUMNS = ("day", "team_id", "agent_id", "channel", "priority")

RollupKey = tuple[date, int | None, int | None, str, str]


class FactLike(Protocol):
    """The fields of a TicketFact that its contribution reads (a TicketFact instance is one)."""

    created_at: datetime
    team_id: int | None
    agent_id: int | None
    channel: str
    priority: str
    first_public_agent_reply_at: datetime | None
    frt_seconds: int | None
    frt_business_seconds: int | None
    first_solved_at: datetime | None
    resolution_seconds: int | None
    resolution_business_seconds: int | None
    public_agent_replies: int
    reopen_count: int
    is_fcr: bool | None
    solved_by_customer: bool
    is_merged: bool
    sla_targets: list[dict[str, Any]]


def reporting_time_zone() -> ZoneInfo:
    return ZoneInfo(settings.HELPDESK_METRICS_TIME_ZONE)


def _vector(**values: int) -> list[int]:
    return [int(values.get(measure, 0)) for measure in MEASURES]


def fact_contribution(fact: FactLike, *, time_zone: ZoneInfo) -> dict[RollupKey, list[int]]:
    """What one fact adds to the rollups: measure vectors by rollup key. Depends on the row alone."""
    contribution: dict[RollupKey, list[int]] = defaultdict(lambda: [0] * len(MEASURES))

    def add(instant: datetime, vector: list[int]) -> None:
        key = (instant.astimezone(time_zone).date(), fact.team_id, fact.agent_id, fact.channel, fact.priority)
        row = contribution[key]
        for index, value in enumerate(vector):
            row[index] += value

    add(fact.created_at, _vector(created=1))
    if fact.first_public_agent_reply_at is not None and not fact.is_merged:
        add(fact.first_public_agent_reply_at, _vector(
            first_replied=1, frt_seconds_sum=fact.frt_seconds or 0,
            frt_business_seconds_sum=fact.frt_business_seconds or 0,
        ))
    if fact.first_solved_at is not None and not fact.is_merged:
        add(fact.first_solved_at, _vector(
            solved=1, resolution_seconds_sum=fact.resolution_seconds or 0,
            resolution_business_seconds_sum=fact.resolution_business_seconds or 0,
            fcr=fact.is_fcr is True, reopened=fact.reopen_count > 0, solved_by_customer=fact.solved_by_customer,
            public_agent_replies_sum=fact.public_agent_replies,
        ))
    for target in fact.sla_targets or ():
        add(datetime.fromisoformat(target["due"]), _vector(sla_due=1, sla_met=target["met"] is True))
    return dict(contribution)


def rollup_deltas(*, old: Iterable[FactLike], new: Iterable[FactLike],
                  time_zone: ZoneInfo | None = None) -> dict[RollupKey, list[int]]:
    """The change to the rollups when the facts `old` are replaced by `new`; keys that do not change are left out."""
    time_zone = time_zone or reporting_time_zone()
    deltas: dict[RollupKey, list[int]] = defaultdict(lambda: [0] * len(MEASURES))
    for facts, sign in ((old, -1), (new, 1)):
        for fact in facts:
            for key, vector in fact_contribution(fact, time_zone=time_zone).items():
                row = deltas[key]
                for index, value in enumerate(vector):
                    row[index] += sign * value
    return {key: vector for key, vector in deltas.items() if any(vector)}


def _key_order(key: RollupKey) -> tuple[Any, ...]:
    day, team_id, agent_id, channel, priority = key
    return (day, team_id is None, team_id or 0, agent_id is None, agent_id or 0, channel, priority)


_MEASURE_COLUMNS = ", ".join(MEASURES)
_APPLY_SQL = f"""
    INSERT INTO metrics_dailyrollup AS rollup ({", ".join(KEY_COLUMNS)}, {_MEASURE_COLUMNS})
    SELECT {", ".join(KEY_COLUMNS)}, {_MEASURE_COLUMNS}
    FROM unnest(%(day)s::date[], %(team_id)s::bigint[], %(agent_id)s::bigint[], %(channel)s::varchar[],
                %(priority)s::varchar[], {", ".join(f"%({measure})s::bigint[]" for measure in MEASURES)})
         WITH ORDINALITY AS delta({", ".join(KEY_COLUMNS)}, {_MEASURE_COLUMNS}, position)
    ORDER BY position
    ON CONFLICT (day, team_id, agent_id, channel, priority) DO UPDATE SET
        {", ".join(f"{measure} = rollup.{measure} + excluded.{measure}" for measure in MEASURES)}
    RETURNING rollup.id, {" AND ".join(f"rollup.{measure} = 0" for measure in MEASURES)}
"""  # noqa: S608 (column names from constants, values as parameters)


# TeamDailyRollup: the same measures without the agent.
TEAM_KEY_COLUMNS = ("day", "team_id", "channel", "priority")
TeamRollupKey = tuple[date, int | None, str, str]
_TEAM_APPLY_SQL = f"""
    INSERT INTO metrics_teamdailyrollup AS rollup ({", ".join(TEAM_KEY_COLUMNS)}, {_MEASURE_COLUMNS})
    SELECT {", ".join(TEAM_KEY_COLUMNS)}, {_MEASURE_COLUMNS}
    FROM unnest(%(day)s::date[], %(team_id)s::bigint[], %(channel)s::varchar[], %(priority)s::varchar[],
                {", ".join(f"%({measure})s::bigint[]" for measure in MEASURES)})
         WITH ORDINALITY AS delta({", ".join(TEAM_KEY_COLUMNS)}, {_MEASURE_COLUMNS}, position)
    ORDER BY position
    ON CONFLICT (day, team_id, channel, priority) DO UPDATE SET
        {", ".join(f"{measure} = rollup.{measure} + excluded.{measure}" for measure in MEASURES)}
    RETURNING rollup.id, {" AND ".join(f"rollup.{measure} = 0" for measure in MEASURES)}
"""  # noqa: S608 (column names from constants, values as parameters)


def rollups_apply(deltas: dict[RollupKey, list[int]]) -> int:
    """Add these deltas to the rollup rows (creating missing rows, deleting rows left at zero);
    returns how many rows changed. Call inside the transaction that changed the facts.

    One upsert in key order, so two refreshes touching the same rows wait for each other instead
    of deadlocking.
    """
    if not deltas:
        return 0
    keys = sorted(deltas, key=_key_order)
    columns: dict[str, list[Any]] = {column: [key[index] for key in keys] for index, column in enumerate(KEY_COLUMNS)}
    for index, measure in enumerate(MEASURES):
        columns[measure] = [deltas[key][index] for key in keys]
    with connection.cursor() as cursor:
        cursor.execute(_APPLY_SQL, columns)
        emptied = [row_id for row_id, is_empty in cursor.fetchall() if is_empty]
        if emptied:
            cursor.execute("DELETE FROM metrics_dailyrollup WHERE id = ANY(%s)", [emptied])
        _team_rollups_apply(cursor, deltas)
    return len(keys)


def _team_rollups_apply(cursor: Any, deltas: dict[RollupKey, list[int]]) -> None:
    """The same deltas summed over the agents, added to TeamDailyRollup (after DailyRollup, in the
    same order, so concurrent refreshes still wait for each other rather than deadlock)."""
    team_deltas: dict[TeamRollupKey, list[int]] = defaultdict(lambda: [0] * len(MEASURES))
    for (day, team_id, _agent_id, channel, priority), vector in deltas.items():
        row = team_deltas[(day, team_id, channel, priority)]
        for index, value in enumerate(vector):
            row[index] += value
    keys = sorted((key for key, vector in team_deltas.items() if any(vector)),
                  key=lambda key: (key[0], key[1] is None, key[1] or 0, key[2], key[3]))
    if not keys:
        return
    columns: dict[str, list[Any]] = {
        column: [key[index] for key in keys] for index, column in enumerate(TEAM_KEY_COLUMNS)
    }
    for index, measure in enumerate(MEASURES):
        columns[measure] = [team_deltas[key][index] for key in keys]
    cursor.execute(_TEAM_APPLY_SQL, columns)
    emptied = [row_id for row_id, is_empty in cursor.fetchall() if is_empty]
    if emptied:
        cursor.execute("DELETE FROM metrics_teamdailyrollup WHERE id = ANY(%s)", [emptied])


# --- rebuilding from the facts -------------------------------------------------------------------

# Every fact's contributions in the instants [start, end), as rows (day, key…, measures…): the
# same rule as fact_contribution. The instant bounds let the indexes on the anchors do the
# reading; the exact days are then kept by the caller. Parameters: tz, start, end.
_CONTRIBUTIONS_SQL = f"""
    SELECT (fact.created_at AT TIME ZONE %(tz)s)::date AS day, fact.team_id, fact.agent_id, fact.channel,
           fact.priority, {", ".join("1" if measure == "created" else "0" for measure in MEASURES)}
    FROM metrics_ticketfact AS fact
    WHERE fact.created_at >= %(start)s AND fact.created_at < %(end)s
    UNION ALL
    SELECT (fact.first_public_agent_reply_at AT TIME ZONE %(tz)s)::date, fact.team_id, fact.agent_id, fact.channel,
           fact.priority, 0, 1, coalesce(fact.frt_seconds, 0), coalesce(fact.frt_business_seconds, 0),
           0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM metrics_ticketfact AS fact
    WHERE fact.first_public_agent_reply_at >= %(start)s AND fact.first_public_agent_reply_at < %(end)s
      AND NOT fact.is_merged
    UNION ALL
    SELECT (fact.first_solved_at AT TIME ZONE %(tz)s)::date, fact.team_id, fact.agent_id, fact.channel,
           fact.priority, 0, 0, 0, 0,
           1, coalesce(fact.resolution_seconds, 0), coalesce(fact.resolution_business_seconds, 0),
           (fact.is_fcr IS TRUE)::int, (fact.reopen_count > 0)::int, fact.solved_by_customer::int,
           fact.public_agent_replies, 0, 0
    FROM metrics_ticketfact AS fact
    WHERE fact.first_solved_at >= %(start)s AND fact.first_solved_at < %(end)s AND NOT fact.is_merged
    UNION ALL
    SELECT (target.due AT TIME ZONE %(tz)s)::date, fact.team_id, fact.agent_id, fact.channel, fact.priority,
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, (target.met IS TRUE)::int
    FROM metrics_ticketfact AS fact
    CROSS JOIN LATERAL (
        SELECT (item ->> 'due')::timestamptz AS due, (item -> 'met') = 'true'::jsonb AS met
        FROM jsonb_array_elements(fact.sla_targets) AS item
    ) AS target
    WHERE fact.sla_targets <> '[]'::jsonb AND target.due >= %(start)s AND target.due < %(end)s
"""  # noqa: S608 (column names from constants, values as parameters)

# The rollup rows of the days [day_from, day_to] recomputed from the facts.
_RECOMPUTED_SQL = f"""
    SELECT day, team_id, agent_id, channel, priority,
           {", ".join(f"sum({measure})::bigint AS {measure}" for measure in MEASURES)}
    FROM ({_CONTRIBUTIONS_SQL}) AS contribution ({", ".join(KEY_COLUMNS)}, {_MEASURE_COLUMNS})
    WHERE day >= %(day_from)s AND day <= %(day_to)s
    GROUP BY day, team_id, agent_id, channel, priority
"""  # noqa: S608 (column names from constants, values as parameters)


_TEAM_REBUILD_SQL = f"""
    INSERT INTO metrics_teamdailyrollup ({", ".join(TEAM_KEY_COLUMNS)}, {_MEASURE_COLUMNS})
    SELECT {", ".join(TEAM_KEY_COLUMNS)}, {", ".join(f"sum({measure})" for measure in MEASURES)}
    FROM metrics_dailyrollup WHERE day >= %(day_from)s AND day <= %(day_to)s
    GROUP BY {", ".join(TEAM_KEY_COLUMNS)}
"""  # noqa: S608 (column names from constants, values as parameters)


@dataclass(frozen=True)
class DayRange:
    day_from: date
    day_to: date

    def params(self, time_zone: ZoneInfo) -> dict[str, Any]:
        # A day of slack each side of the instants: days are cut exactly by `day`, this only has
        # to contain them (whatever a time zone's transitions do to midnight).
        start = datetime.combine(self.day_from - timedelta(days=1), time(), tzinfo=time_zone)
        end = datetime.combine(self.day_to + timedelta(days=2), time(), tzinfo=time_zone)
        return {"tz": time_zone.key, "start": start, "end": end, "day_from": self.day_from, "day_to": self.day_to}


def _day_range(day_from: date | None, day_to: date | None) -> DayRange:
    # Open ends: every day the facts can have (date's range, with room for the slack above).
    return DayRange(day_from=day_from or date(1900, 1, 1), day_to=day_to or date(9000, 1, 1))


def rollups_rebuild(*, day_from: date | None = None, day_to: date | None = None) -> int:
    """Replace the rollup rows of the reporting days [day_from, day_to] (open ends: all) by a
    recomputation from the facts; returns how many rows were written.

    The table is locked against the refreshes' writes (not against reads) while it is rebuilt, so
    a refresh either finished before (and the rebuild reads its facts) or applies its deltas after
    (to rows that reflect its old facts): no change is lost or counted twice.
    """
    days = _day_range(day_from, day_to)
    params = days.params(reporting_time_zone())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE metrics_dailyrollup, metrics_teamdailyrollup IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("DELETE FROM metrics_dailyrollup WHERE day >= %(day_from)s AND day <= %(day_to)s", params)
        cursor.execute(
            f"INSERT INTO metrics_dailyrollup ({', '.join(KEY_COLUMNS)}, {_MEASURE_COLUMNS}) {_RECOMPUTED_SQL}",
            params,
        )
        rows = cursor.rowcount
        # The team rollups of those days: the rows just written, summed over the agents.
        cursor.execute("DELETE FROM metrics_teamdailyrollup WHERE day >= %(day_from)s AND day <= %(day_to)s", params)
        cursor.execute(_TEAM_REBUILD_SQL, params)
        return rows


# --- drift ----------------------------------------------------------------------------------------

_DRIFT_SQL = f"""
    WITH recomputed AS ({_RECOMPUTED_SQL}),
    stored AS (
        SELECT {", ".join(KEY_COLUMNS)}, {_MEASURE_COLUMNS} FROM metrics_dailyrollup
        WHERE day >= %(day_from)s AND day <= %(day_to)s
    )
    SELECT {", ".join(f"coalesce(stored.{column}, recomputed.{column})" for column in KEY_COLUMNS)},
           {", ".join(f"stored.{measure}" for measure in MEASURES)},
           {", ".join(f"recomputed.{measure}" for measure in MEASURES)}
    -- Ids are positive: 0 stands for "none" so the join stays a hash join (FULL JOIN needs one).
    FROM stored FULL JOIN recomputed ON stored.day = recomputed.day
        AND coalesce(stored.team_id, 0) = coalesce(recomputed.team_id, 0)
        AND coalesce(stored.agent_id, 0) = coalesce(recomputed.agent_id, 0)
        AND stored.channel = recomputed.channel AND stored.priority = recomputed.priority
    WHERE {" OR ".join(f"stored.{measure} IS DISTINCT FROM recomputed.{measure}" for measure in MEASURES)}
    ORDER BY 1, 2 NULLS FIRST, 3 NULLS FIRST, 4, 5
"""  # noqa: S608 (column names from constants, values as parameters)


# The same for TeamDailyRollup, against the facts directly (not against DailyRollup, which may
# be the one that drifted).
_TEAM_DRIFT_SQL = f"""
    WITH recomputed AS (
        SELECT {", ".join(TEAM_KEY_COLUMNS)}, {", ".join(f"sum({measure})::bigint AS {measure}" for measure in MEASURES)}
        FROM ({_CONTRIBUTIONS_SQL}) AS contribution ({", ".join(KEY_COLUMNS)}, {_MEASURE_COLUMNS})
        WHERE day >= %(day_from)s AND day <= %(day_to)s
        GROUP BY {", ".join(TEAM_KEY_COLUMNS)}
    ),
    stored AS (
        SELECT {", ".join(TEAM_KEY_COLUMNS)}, {_MEASURE_COLUMNS} FROM metrics_teamdailyrollup
        WHERE day >= %(day_from)s AND day <= %(day_to)s
    )
    SELECT coalesce(stored.day, recomputed.day), coalesce(stored.team_id, recomputed.team_id), NULL::bigint,
           coalesce(stored.channel, recomputed.channel), coalesce(stored.priority, recomputed.priority),
           {", ".join(f"stored.{measure}" for measure in MEASURES)},
           {", ".join(f"recomputed.{measure}" for measure in MEASURES)}
    FROM stored FULL JOIN recomputed ON stored.day = recomputed.day
        AND coalesce(stored.team_id, 0) = coalesce(recomputed.team_id, 0)
        AND stored.channel = recomputed.channel AND stored.priority = recomputed.priority
    WHERE {" OR ".join(f"stored.{measure} IS DISTINCT FROM recomputed.{measure}" for measure in MEASURES)}
    ORDER BY 1, 2 NULLS FIRST, 4, 5
"""  # noqa: S608 (column names from constants, values as parameters)


@dataclass(frozen=True)
class RollupDrift:
    """One rollup row that differs from the recomputation: the stored and recomputed values of
    the differing measures (None for a row missing on that side)."""

    key: RollupKey
    stored: dict[str, int | None]
    recomputed: dict[str, int | None]
    # A TeamDailyRollup row (its key's agent is None) rather than a DailyRollup row.
    team_rollup: bool = False

    def describe(self) -> str:
        day, team_id, agent_id, channel, priority = self.key
        changes = ", ".join(
            f"{measure} {self.stored[measure]} != {self.recomputed[measure]}" for measure in self.stored
        )
        if self.team_rollup:
            return f"{day.isoformat()} team={team_id} all agents {channel}/{priority}: {changes}"
        return f"{day.isoformat()} team={team_id} agent={agent_id} {channel}/{priority}: {changes}"


def rollups_drift(*, day_from: date, day_to: date) -> list[RollupDrift]:
    """The rollup rows of [day_from, day_to] that differ from a recomputation from the facts.

    One statement, hence one snapshot: a refresh commits its facts and its deltas together, so it
    is seen entirely or not at all, and a busy system shows no false drift.
    """
    params = DayRange(day_from=day_from, day_to=day_to).params(reporting_time_zone())
    with connection.cursor() as cursor:
        # DailyRollup's rows first, then TeamDailyRollup's, each in key order.
        cursor.execute(
            f"SELECT false, * FROM ({_DRIFT_SQL}) AS drift UNION ALL "  # noqa: S608 (constant SQL)
            f"SELECT true, * FROM ({_TEAM_DRIFT_SQL}) AS team_drift ORDER BY 1, 2, 3 NULLS FIRST, 4 NULLS FIRST, 5, 6",
            params,
        )
        rows = cursor.fetchall()
    drifts = []
    count = len(MEASURES)
    for team_rollup, *row in rows:
        key, stored, recomputed = row[:5], row[5:5 + count], row[5 + count:]
        differing = [index for index in range(count) if stored[index] != recomputed[index]]
        drifts.append(RollupDrift(
            key=tuple(key),  # type: ignore[arg-type]
            stored={MEASURES[index]: stored[index] for index in differing},
            recomputed={MEASURES[index]: recomputed[index] for index in differing},
            team_rollup=team_rollup,
        ))
    return drifts


def rollups_drift_check(*, days: int = 35, today: date | None = None, repair: bool = False) -> list[RollupDrift]:
    """Compare the rollups of the last `days` reporting days (today included) with a
    recomputation from the facts; log an error listing every differing row and measure. With
    `repair`, the days that drifted are rebuilt. Returns the drift found (before any repair)."""
    today = today or datetime.now(tz=reporting_time_zone()).date()
    day_from = today - timedelta(days=days - 1)
    drifts = rollups_drift(day_from=day_from, day_to=today)
    if drifts:
        logger.error(
            "metrics rollups drift from their facts in %d rows (%s to %s):\n%s", len(drifts), day_from, today,
            "\n".join(drift.describe() for drift in drifts),
            extra={"drift_rows": len(drifts), "repair": repair},
        )
        if repair:
            rollups_rebuild(day_from=min(drift.key[0] for drift in drifts), day_to=max(drift.key[0] for drift in drifts))
    return drifts
