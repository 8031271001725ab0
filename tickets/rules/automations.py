"""Time-based automations: "pending for 3 days → remind the requester", "solved for 4 days → close".

Each run (Celery beat, every HELPDESK_AUTOMATIONS_INTERVAL_SECONDS) goes over the active
automations in order. For each, the database finds the candidate tickets with what SQL can decide
from the "all" conditions (statuses, priorities, teams, tags, "hours since …" as timestamp
comparisons), leaving out closed and merged tickets and those the automation already fired on
for the current occurrence; the rest of the conditions are checked in Python on the locked row.

Once per ticket per occurrence: the occurrence is the *anchor*, the moment the automation's time
conditions count from (the latest of them: the status change for "pending for 3 days", the solve
for "solved for 4 days"; the ticket's creation without one). The RuleRun is inserted with its
anchor before the actions run, and a unique constraint on (rule, ticket, anchor) makes a second
firing for the same occurrence impossible, even by two workers at once. When the clock starts over
(the ticket left pending and came back), the anchor is new and the automation fires again.

Work is bounded: batches of AUTOMATION_BATCH_SIZE tickets, each locked with SKIP LOCKED and
committed on its own, at most AUTOMATION_MAX_TICKETS_PER_RUN tickets per automation and run (the
next run takes the rest).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from tickets.models import RuleRun, RuleRunOutcome, Status, Ticket
from tickets.rules.conditions import TIME_FIELDS, CompiledConditions, Facts, matches
from tickets.rules.engine import CompiledRule, active_automations, rule_fire

logger = logging.getLogger(__name__)

AUTOMATION_BATCH_SIZE = 100
AUTOMATION_MAX_TICKETS_PER_RUN = 2000
SCHEDULE_EVENT = "schedule"

_CHOICE_COLUMNS = {"ticket.status": "status", "ticket.priority": "priority", "ticket.type": "type",
                   "ticket.channel": "channel"}
_ID_COLUMNS = {"ticket.team": "team", "ticket.assignee": "assignee", "ticket.organization": "organization"}
_NUMBER_COLUMNS = {"ticket.escalation_level": "escalation_level", "ticket.reopen_count": "reopen_count"}
_NUMBER_LOOKUPS = {"eq": "exact", "lt": "lt", "gt": "gt", "lte": "lte", "gte": "gte"}


def _time_expression(key: str) -> Any:
    attribute = TIME_FIELDS[key]
    if attribute == "status_changed_at":
        return Coalesce(F("status_changed_at"), F("created_at"))  # None: not changed since created
    return F(attribute)


def _time_keys(conditions: CompiledConditions) -> list[str]:
    return list(dict.fromkeys(c.field for c in conditions.all if c.field in TIME_FIELDS))


def anchor_expression(conditions: CompiledConditions) -> Any:
    """The anchor in SQL (see the module): the latest moment the "all" time conditions count from."""
    expressions = [_time_expression(key) for key in _time_keys(conditions)]
    if not expressions:
        return F("created_at")
    return expressions[0] if len(expressions) == 1 else Greatest(*expressions)


def anchor_of(conditions: CompiledConditions, facts: Facts) -> datetime:
    """The same anchor computed in Python (previews)."""
    from tickets.rules.conditions import time_moment

    moments = [moment for key in _time_keys(conditions) if (moment := time_moment(facts, key)) is not None]
    return max(moments) if moments else facts.ticket.created_at


def _id_q(column: str, value: Any) -> Q:
    return Q(**{f"{column}__isnull": True}) if value in (None, "") else Q(**{f"{column}_id": int(value)})


def prefilter(conditions: CompiledConditions, *, now: datetime) -> Q:
    """What SQL can decide of the "all" conditions (the rest is checked in Python afterwards)."""
    query = Q()
    for condition in conditions.all:
        key, operator, value = condition.field, condition.operator, condition.value
        if key in _CHOICE_COLUMNS:
            column = _CHOICE_COLUMNS[key]
            if operator == "is":
                query &= Q(**{column: value})
            elif operator == "is_not":
                query &= ~Q(**{column: value})
            elif operator == "in":
                query &= Q(**{f"{column}__in": list(value or [])})
            elif operator == "not_in":
                query &= ~Q(**{f"{column}__in": list(value or [])})
        elif key in _ID_COLUMNS and all(str(v).isdigit() or v in (None, "") for v in
                                        (value if isinstance(value, list) else [value])):
            column = _ID_COLUMNS[key]
            if operator in ("is", "is_not"):
                match = _id_q(column, value)
                query &= match if operator == "is" else ~match
            elif operator in ("in", "not_in"):
                match = Q(pk__in=[])
                for part in value or []:
                    match |= _id_q(column, part)
                query &= match if operator == "in" else ~match
        elif key == "ticket.tags":
            tags = [str(tag).strip().lower() for tag in value or []]
            if operator == "includes_any":
                query &= Q(tags__overlap=tags)
            elif operator == "includes_all":
                query &= Q(tags__contains=tags)
            elif operator == "includes_none":
                query &= ~Q(tags__overlap=tags)
        elif key in _NUMBER_COLUMNS and operator in _NUMBER_LOOKUPS:
            query &= Q(**{f"{_NUMBER_COLUMNS[key]}__{_NUMBER_LOOKUPS[operator]}": float(value)})
        elif key in TIME_FIELDS and operator in ("gt", "lt"):
            # "more than N hours ago": the moment is before now − N hours.
            cutoff = now - timedelta(hours=float(value))
            alias = f"rule_time_{TIME_FIELDS[key]}"
            query &= Q(**{f"{alias}__lt" if operator == "gt" else f"{alias}__gt": cutoff})
    return query


def candidates(rule: CompiledRule, *, now: datetime) -> Any:
    """The tickets the automation may fire on now, as far as SQL can tell, with their anchors."""
    annotations = {f"rule_time_{TIME_FIELDS[key]}": _time_expression(key) for key in TIME_FIELDS}
    already = RuleRun.objects.filter(rule_id=rule.id, ticket_id=OuterRef("pk"), anchor=OuterRef("rule_anchor"))
    return (
        Ticket.objects.exclude(status=Status.CLOSED).filter(merged_into__isnull=True)
        .alias(**annotations)
        .annotate(rule_anchor=anchor_expression(rule.conditions))
        .filter(prefilter(rule.conditions, now=now))
        .filter(~Exists(already))
    )


def automation_run(
    *, rule: CompiledRule, now: datetime, batch_size: int = AUTOMATION_BATCH_SIZE,
    max_tickets: int = AUTOMATION_MAX_TICKETS_PER_RUN,
) -> int:
    """Fire one automation on the tickets it matches now, once per occurrence; returns how many."""
    fired, seen, last_pk = 0, 0, 0
    queryset = candidates(rule, now=now)
    while seen < max_tickets:
        with transaction.atomic():
            batch = list(
                queryset.filter(pk__gt=last_pk).select_for_update(skip_locked=True, of=("self",))
                .select_related("requester", "team", "assignee").order_by("pk")[:min(batch_size, max_tickets - seen)]
            )
            for ticket in batch:
                if not matches(rule.conditions, Facts(ticket=ticket, now=now)):
                    continue
                anchor = ticket.rule_anchor  # type: ignore[attr-defined]
                try:
                    with transaction.atomic():
                        run = RuleRun.objects.create(rule_id=rule.id, ticket_id=ticket.pk, event=SCHEDULE_EVENT,
                                                     outcome=RuleRunOutcome.APPLIED, anchor=anchor)
                except IntegrityError:
                    continue  # fired for this occurrence already (another worker, just now)
                rule_fire(rule=rule, ticket=ticket, event=SCHEDULE_EVENT, anchor=anchor, run=run)
                fired += 1
        if not batch:
            break
        seen += len(batch)
        last_pk = batch[-1].pk
        if len(batch) < batch_size:
            break
    return fired


def automations_run(*, now: datetime | None = None, batch_size: int = AUTOMATION_BATCH_SIZE,
                    max_tickets: int = AUTOMATION_MAX_TICKETS_PER_RUN) -> int:
    """Run every active automation once over the tickets it matches now; returns the firings.
    An automation that breaks (a bad stored condition) is logged and the others still run."""
    now = now or timezone.now()
    fired = 0
    for rule in active_automations():
        try:
            fired += automation_run(rule=rule, now=now, batch_size=batch_size, max_tickets=max_tickets)
        except Exception:
            logger.exception("Automation %s (%s) could not run", rule.id, rule.name)
    return fired
