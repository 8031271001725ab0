"""The health score of a customer or an organization: 0 (at risk) to 100 (healthy).

The score is the sum of four components, each read over the last 90 days (WINDOW_DAYS) and worth
at most the points shown; a component with no data to judge gives its neutral points, so a quiet
customer is neither praised nor blamed for it (docs/HEALTH_SCORE.md explains the choices):

=====================  ======  =================================================================
component              max     points
=====================  ======  =================================================================
satisfaction           40      40 × (CSAT answers of 4 or 5) / (CSAT answers), over answers to the
                               subject's tickets given in the window; no answer: 30 (neutral)
open_tickets           25      25 − 5 per open ticket without a breach − 10 per open ticket with
                               a breached SLA target (any metric), never below 0; open = new, open,
                               pending or on hold now, whatever its age
reopens                15      15 × (1 − 2 × reopened / created), never below 0, over tickets
                               created in the window (a ticket reopened at least once counts once;
                               half of them reopened gives 0); no ticket: 15 (neutral)
contacts               20      20 × min(1, baseline / rate), where rate = tickets created in the
                               window per 30 days and baseline = CONTACT_BASELINE_PER_30_DAYS
                               (setting HELPDESK_HEALTH_CONTACT_BASELINE, default 2) per customer;
                               for an organization, the baseline times its customers who opened a
                               ticket in the window. Twice the baseline gives 10; no ticket: 20
                               (neutral)
=====================  ======  =================================================================

score = round(sum of the points), within 0..100. A customer with no data at all scores 90.

A customer's tickets are the tickets they requested; an organization's are the tickets filed under
it (Ticket.organization); CSAT answers count through their ticket (so a score is read through the
tickets' indexes, and answers follow the tickets when customers are merged). Tickets merged into another do
not count. The score describes the customer, not what a viewer may open: it is computed over all
of their tickets (the pages list only the tickets the viewer may see).

The formula is one SQL statement (`_score_sql`), used both for a few subjects on demand
(`health_scores`) and for every active subject at once (`health_snapshots_take`, a single
INSERT … SELECT … ON CONFLICT per kind of subject), so the page and the nightly trend agree and the
snapshot scales with the number of tickets, not with a query per customer.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from metrics.models import SurveyKind, SurveyResponse
from tickets.models import UNSOLVED_STATUSES, Customer, HealthSnapshot, Organization, SlaTimer, Ticket

WINDOW_DAYS = 90
CSAT_GOOD_MIN = 4

SATISFACTION_MAX, SATISFACTION_NEUTRAL = 40, 30
OPEN_MAX, OPEN_TICKET_PENALTY, BREACHED_TICKET_PENALTY = 25, 5, 10
REOPENS_MAX, REOPEN_RATE_FACTOR = 15, 2
CONTACTS_MAX = 20
CONTACT_BASELINE_PER_30_DAYS = 2.0

Subject = Literal["customer", "organization"]

COMPONENT_LABELS = {
    "satisfaction": _("Satisfaction (CSAT)"),
    "open_tickets": _("Open and breached tickets"),
    "reopens": _("Reopened tickets"),
    "contacts": _("Contact frequency"),
}


def contact_baseline() -> float:
    return float(getattr(settings, "HELPDESK_HEALTH_CONTACT_BASELINE", CONTACT_BASELINE_PER_30_DAYS))


@dataclass(frozen=True)
class HealthScore:
    score: int
    components: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def level(self) -> str:
        """A word for the badge colour: good (70+), fair (40–69) or poor."""
        if self.score >= 70:
            return "good"
        return "fair" if self.score >= 40 else "poor"

    def component_rows(self) -> list[dict[str, Any]]:
        """The components in the documented order, each with its label, for pages and the API."""
        return [{"key": key, "label": str(label), **self.components.get(key, {})}
                for key, label in COMPONENT_LABELS.items()]


def _score_sql(subject: Subject, *, only_ids: bool) -> str:
    """The formula as one SELECT of (subject_id, score, components).

    only_ids: score exactly the ids in %(ids)s (every one gets a row, the neutral one when it has no
    data); otherwise every subject with a ticket created or open, or a CSAT answer, in the window.
    """
    ticket = Ticket._meta.db_table
    timer = SlaTimer._meta.db_table
    survey = SurveyResponse._meta.db_table
    if subject == "customer":
        ticket_subject, survey_subject = "t.requester_id", "rt.requester_id"
        # One customer's baseline is the baseline itself.
        baseline = "%(baseline)s::numeric"
    else:
        ticket_subject, survey_subject = "t.organization_id", "rt.organization_id"
        baseline = "%(baseline)s::numeric * GREATEST(1, i.recent_requesters)"
    ticket_filter = f"AND {ticket_subject} = ANY(%(ids)s)" if only_ids else ""
    survey_filter = f"AND {survey_subject} = ANY(%(ids)s)" if only_ids else ""
    subjects = (
        "SELECT DISTINCT unnest(%(ids)s::bigint[]) AS subject_id" if only_ids
        else "SELECT subject_id FROM ticket_inputs UNION SELECT subject_id FROM survey_inputs"
    )
    return f"""
WITH relevant AS MATERIALIZED (
    -- The tickets that count, read once (one sequential scan in bulk, the subject's index for a few):
    -- aggregating them by walking the subject's index would visit a million rows in random order.
    SELECT t.id, t.requester_id, t.organization_id, t.created_at, t.status, t.reopen_count
      FROM {ticket} t
     WHERE t.merged_into_id IS NULL AND {ticket_subject} IS NOT NULL
       AND (t.created_at >= %(since)s OR t.status = ANY(%(unsolved)s))
       {ticket_filter}
),
ticket_inputs AS (
    SELECT {ticket_subject} AS subject_id,
           count(*) FILTER (WHERE t.created_at >= %(since)s) AS recent_tickets,
           count(*) FILTER (WHERE t.created_at >= %(since)s AND t.reopen_count > 0) AS reopened_tickets,
           count(DISTINCT t.requester_id) FILTER (WHERE t.created_at >= %(since)s) AS recent_requesters,
           count(*) FILTER (WHERE t.status = ANY(%(unsolved)s)) AS open_tickets,
           count(*) FILTER (WHERE t.status = ANY(%(unsolved)s) AND EXISTS (
               SELECT 1 FROM {timer} s WHERE s.ticket_id = t.id AND s.breached_at IS NOT NULL
           )) AS open_breached
      FROM relevant t
     GROUP BY 1
),
survey_inputs AS (
    SELECT {survey_subject} AS subject_id,
           count(*) AS answered,
           count(*) FILTER (WHERE r.score >= %(good_min)s) AS good
      FROM {survey} r JOIN {ticket} rt ON rt.id = r.ticket_id
     WHERE r.kind = %(csat)s AND r.responded_at >= %(since)s AND {survey_subject} IS NOT NULL
       {survey_filter}
     GROUP BY 1
),
subjects AS ({subjects}),
inputs AS (
    SELECT s.subject_id,
           COALESCE(ti.recent_tickets, 0) AS recent_tickets,
           COALESCE(ti.reopened_tickets, 0) AS reopened_tickets,
           COALESCE(ti.recent_requesters, 0) AS recent_requesters,
           COALESCE(ti.open_tickets, 0) AS open_tickets,
           COALESCE(ti.open_breached, 0) AS open_breached,
           COALESCE(si.answered, 0) AS answered,
           COALESCE(si.good, 0) AS good
      FROM subjects s
      LEFT JOIN ticket_inputs ti ON ti.subject_id = s.subject_id
      LEFT JOIN survey_inputs si ON si.subject_id = s.subject_id
),
points AS (
    SELECT i.*,
           {baseline} AS baseline,
           round(i.recent_tickets * 30.0 / %(window_days)s, 2) AS per_30_days,
           CASE WHEN i.answered = 0 THEN %(satisfaction_neutral)s::numeric
                ELSE %(satisfaction_max)s::numeric * i.good / i.answered END AS satisfaction_points,
           GREATEST(0, %(open_max)s::numeric - %(open_penalty)s * (i.open_tickets - i.open_breached)
                       - %(breached_penalty)s * i.open_breached) AS open_points,
           CASE WHEN i.recent_tickets = 0 THEN %(reopens_max)s::numeric
                ELSE %(reopens_max)s::numeric
                     * GREATEST(0, 1 - %(reopen_factor)s::numeric * i.reopened_tickets / i.recent_tickets)
           END AS reopen_points,
           CASE WHEN i.recent_tickets = 0 THEN %(contacts_max)s::numeric
                ELSE %(contacts_max)s::numeric
                     * LEAST(1, {baseline} / (i.recent_tickets * 30.0 / %(window_days)s))
           END AS contact_points
      FROM inputs i
)
SELECT p.subject_id,
       LEAST(100, GREATEST(0, round(p.satisfaction_points + p.open_points + p.reopen_points
                                    + p.contact_points)))::smallint AS score,
       jsonb_build_object(
           'window_days', %(window_days)s,
           'satisfaction', jsonb_build_object(
               'points', round(p.satisfaction_points, 1), 'max', %(satisfaction_max)s,
               'neutral', p.answered = 0, 'answered', p.answered, 'good', p.good),
           'open_tickets', jsonb_build_object(
               'points', round(p.open_points, 1), 'max', %(open_max)s, 'neutral', false,
               'open', p.open_tickets, 'breached', p.open_breached),
           'reopens', jsonb_build_object(
               'points', round(p.reopen_points, 1), 'max', %(reopens_max)s,
               'neutral', p.recent_tickets = 0, 'tickets', p.recent_tickets, 'reopened', p.reopened_tickets),
           'contacts', jsonb_build_object(
               'points', round(p.contact_points, 1), 'max', %(contacts_max)s,
               'neutral', p.recent_tickets = 0, 'tickets', p.recent_tickets,
               'per_30_days', p.per_30_days, 'baseline', round(p.baseline, 2))
       ) AS components
  FROM points p
"""  # noqa: S608 (table and column names from the models, values as parameters)


def _params(*, now: datetime.datetime, ids: Iterable[int] = ()) -> dict[str, Any]:
    return {
        "since": now - datetime.timedelta(days=WINDOW_DAYS),
        "ids": list(ids),
        "unsolved": [str(status) for status in UNSOLVED_STATUSES],
        "csat": SurveyKind.CSAT.value,
        "good_min": CSAT_GOOD_MIN,
        "window_days": WINDOW_DAYS,
        "baseline": contact_baseline(),
        "satisfaction_max": SATISFACTION_MAX,
        "satisfaction_neutral": SATISFACTION_NEUTRAL,
        "open_max": OPEN_MAX,
        "open_penalty": OPEN_TICKET_PENALTY,
        "breached_penalty": BREACHED_TICKET_PENALTY,
        "reopens_max": REOPENS_MAX,
        "reopen_factor": REOPEN_RATE_FACTOR,
        "contacts_max": CONTACTS_MAX,
    }


def _loads(components: Any) -> dict[str, Any]:
    if isinstance(components, str):
        import json

        return json.loads(components)
    return dict(components)


def health_scores(*, subject: Subject, ids: Iterable[int], now: datetime.datetime | None = None
                  ) -> dict[int, HealthScore]:
    """Today's score of each customer (or organization) in `ids`, computed now: one query for all."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_score_sql(subject, only_ids=True), _params(now=now, ids=ids))
        rows = cursor.fetchall()
    return {subject_id: HealthScore(score=score, components=_loads(components))
            for subject_id, score, components in rows}


def health_score(*, customer: Customer | None = None, organization: Organization | None = None,
                 now: datetime.datetime | None = None) -> HealthScore:
    """The score of one customer or one organization, computed now."""
    if (customer is None) == (organization is None):
        raise ValueError("Give a customer or an organization.")
    if customer is not None:
        return health_scores(subject="customer", ids=[customer.pk], now=now)[customer.pk]
    assert organization is not None
    return health_scores(subject="organization", ids=[organization.pk], now=now)[organization.pk]


def health_snapshots_take(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Store today's snapshot of every customer and organization active in the last WINDOW_DAYS.

    Set-based: one INSERT … SELECT per kind of subject. Idempotent: running it again the same day
    replaces that day's snapshots with fresh scores. Returns how many rows each kind wrote.
    """
    now = now or timezone.now()
    day = timezone.localdate(now)
    table = HealthSnapshot._meta.db_table
    written: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        # Grouping half a million tickets by customer sorts or hashes more than the default 4 MB
        # allows; for this transaction only, so it does not spill to disk.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        for subject, column in (("customer", "customer_id"), ("organization", "organization_id")):
            # ON CONFLICT names the partial unique index's predicate, so the row of the day is updated.
            cursor.execute(
                f"""
                INSERT INTO {table} ({column}, day, score, components)
                SELECT subject_id, %(day)s, score, components FROM ({_score_sql(subject, only_ids=False)}) scored
                ON CONFLICT ({column}, day) WHERE {column} IS NOT NULL
                DO UPDATE SET score = EXCLUDED.score, components = EXCLUDED.components
                """,  # noqa: S608 (table and column names from the models, values as parameters)
                {**_params(now=now), "day": day},
            )
            written[subject] = cursor.rowcount
    return written


def health_trend(*, customer: Customer | None = None, organization: Organization | None = None,
                 today: HealthScore | None = None, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """The daily scores of the last WINDOW_DAYS (the snapshots), today's replaced by `today` if given."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    snapshots = HealthSnapshot.objects.filter(day__gt=day - datetime.timedelta(days=WINDOW_DAYS))
    if customer is not None:
        snapshots = snapshots.filter(customer=customer)
    else:
        snapshots = snapshots.filter(organization=organization)
    points = [{"day": snapshot_day.isoformat(), "score": score}
              for snapshot_day, score in snapshots.order_by("day").values_list("day", "score") if snapshot_day != day]
    if today is not None:
        points.append({"day": day.isoformat(), "score": today.score})
    return points
