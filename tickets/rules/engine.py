"""The rule engine: triggers over a ticket change, previews of what a rule would do.

`triggers_run` is called by tickets.services.reactions inside the change's transaction, for every
ticket change that matters to triggers, so it is on the hot path: the active rules are read once
per process and kept until `rules_changed()` bumps a version in the shared cache (one Redis read
per pass), and conditions are compiled with them, so a trigger whose conditions do not hold costs
no query.

On a new ticket the "created" pass starts before the INSERT (`triggers_prestage`, called by
`ticket_create`): triggers that only change fields are applied to the unsaved ticket, so it is
inserted with their values and its SLA timers are started once; `triggers_run` then goes on after
the INSERT as if it had made those changes itself (see "Triggers on a new ticket" below).

Semantics (Zendesk's):
- the triggers for the event run in order (position, then id); each fires at most once per pass;
- after one fires, the triggers that have not fired yet are checked again from the top against the
  ticket as it now stands and every change of the pass (an earlier trigger's change is seen);
- a firing runs in a savepoint: if an action fails, what the firing did is undone, the run is
  logged as failed (RuleRun + a "rule_failed" event), and the change that started the pass stands;
- loop protection across passes: a rule that fired on the same ticket HELPDESK_RULE_MAX_RUNS_PER_TICKET
  times within the last hour is not run again that hour; the first time it is held back a
  "suppressed" RuleRun and event say so (two triggers that undo each other on every pass, or a
  webhook that updates the ticket it was called for, stop there).
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets import events
from tickets.models import ActorKind, Rule, RuleKind, RuleRun, RuleRunOutcome, Status, TriggerEvent
from tickets.rules.conditions import (
    CompiledConditions,
    Facts,
    actual_text,
    compile_conditions,
    holds,
    matches,
)

if TYPE_CHECKING:
    from tickets.models import Ticket
    from tickets.services.reactions import ChangeContext

logger = logging.getLogger(__name__)

# A pass never fires more rules than this, whatever the rule list: a guard should the list change
# under a running pass (each rule fires once per pass anyway).
MAX_FIRINGS_PER_PASS = 100
LOOP_WINDOW = timedelta(hours=1)
RULES_VERSION_KEY = "rules:version"


@dataclass(frozen=True)
class ConditionResult:
    condition: dict[str, Any]  # as stored: {"field", "operator", "value"}
    group: str  # "all" or "any"
    holds: bool
    # The ticket's value the condition looked at, as shown to a person ("pending", "3.5 h", …).
    actual: str


@dataclass(frozen=True)
class RulePreview:
    matches: bool
    conditions: list[ConditionResult] = field(default_factory=list)
    # One line per action, in order, saying what it would do to this ticket ("Add tags: vip").
    actions: list[str] = field(default_factory=list)
    # Why it would not run even though it matches (e.g. an automation that already fired for
    # this occurrence), empty otherwise.
    note: str = ""


@dataclass(frozen=True)
class CompiledRule:
    """A rule as the engine runs it: read once per process, conditions compiled."""

    id: int
    name: str
    kind: str
    position: int
    events: tuple[str, ...]
    conditions: CompiledConditions
    actions: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, rule: Rule) -> CompiledRule:
        return cls(id=rule.pk, name=rule.name, kind=rule.kind, position=rule.position, events=tuple(rule.events or ()),
                   conditions=compile_conditions(rule.conditions), actions=tuple(rule.actions or ()))


# -- The per-process rule cache -----------------------------------------------------------------


@dataclass
class _RuleCache:
    version: str | None = None
    # The list was read while the shared version was missing (a fresh or emptied Redis) and held
    # no active rule: while the version stays missing it is not read again (the test suite empties
    # Redis after every test; a pass should not pay a rule list query for that) until a version
    # appears, `rules_changed()` runs or a Rule is saved or deleted in this process. A list with
    # rules is read again: rules can vanish without any of these (a rolled-back transaction).
    loaded_while_missing: bool = False
    triggers: dict[str, tuple[CompiledRule, ...]] = field(default_factory=dict)
    automations: tuple[CompiledRule, ...] = ()

    @property
    def has_rules(self) -> bool:
        return bool(self.automations) or any(self.triggers.values())


_cache = _RuleCache()


def _forget_rule_list(**_kwargs: Any) -> None:
    _cache.version, _cache.loaded_while_missing = None, False


def rules_changed() -> None:
    """Call after any Rule or Webhook write commits: the engine's cached rule list is stale (in
    every process: they compare the shared version on their next pass)."""
    _forget_rule_list()  # this process at once, whatever the shared cache
    cache.set(RULES_VERSION_KEY, uuid.uuid4().hex, None)


def _current_version() -> tuple[str, bool]:
    """The shared version of the rule list, and whether it was missing (a new one was started);
    "" when the cache cannot be read (then the list is read from the database on every pass:
    slower, never stale, and the ticket change goes on)."""
    try:
        version = cache.get(RULES_VERSION_KEY)
        was_missing = version is None
        if was_missing:
            # The cache was emptied (or never set): start a new version, so every process reloads once.
            cache.add(RULES_VERSION_KEY, uuid.uuid4().hex, None)
            version = cache.get(RULES_VERSION_KEY) or ""
    except Exception:
        logger.warning("Rule cache version unreadable; reading the rules from the database", exc_info=True)
        return "", False
    return str(version), was_missing


def _load_rules() -> _RuleCache:
    version, was_missing = _current_version()
    if version and version == _cache.version:
        return _cache
    if version and was_missing and _cache.loaded_while_missing and not _cache.has_rules:
        # Missing again, and nothing told this process of a rule since it found none (see above).
        _cache.version = version
        return _cache
    rules = [CompiledRule.of(rule) for rule in Rule.objects.filter(is_active=True).order_by("position", "id")]
    triggers: dict[str, list[CompiledRule]] = {event: [] for event in TriggerEvent.values}
    for rule in rules:
        if rule.kind == RuleKind.TRIGGER:
            for event in rule.events:
                triggers.setdefault(event, []).append(rule)
    _cache.triggers = {event: tuple(listed) for event, listed in triggers.items()}
    _cache.automations = tuple(rule for rule in rules if rule.kind == RuleKind.AUTOMATION)
    _cache.version, _cache.loaded_while_missing = version, was_missing
    return _cache


# Saving or deleting a rule in this process (a test's fixture, a shell) makes its next pass read
# the list, even while the shared version is missing; the services also call rules_changed().
post_save.connect(_forget_rule_list, sender=Rule, dispatch_uid="rules_engine_rule_saved")
post_delete.connect(_forget_rule_list, sender=Rule, dispatch_uid="rules_engine_rule_deleted")


def active_triggers(event: str) -> tuple[CompiledRule, ...]:
    return _load_rules().triggers.get(event, ())


def active_automations() -> tuple[CompiledRule, ...]:
    return _load_rules().automations


# -- Loop protection ----------------------------------------------------------------------------


def max_runs_per_ticket() -> int:
    return int(getattr(settings, "HELPDESK_RULE_MAX_RUNS_PER_TICKET", 10))


class _RecentRuns:
    """How often each rule ran on the ticket in the last hour: one query, on the first firing of
    a pass that needs it (a new ticket has no history and skips it)."""

    def __init__(self, ticket_id: int, *, now: datetime, is_new_ticket: bool) -> None:
        self.ticket_id, self.now, self.is_new_ticket = ticket_id, now, is_new_ticket
        self._counts: dict[int, tuple[int, int]] | None = None

    def _load(self) -> dict[int, tuple[int, int]]:
        if self._counts is None:
            if self.is_new_ticket:
                self._counts = {}
            else:
                rows = (RuleRun.objects.filter(ticket_id=self.ticket_id, created_at__gte=self.now - LOOP_WINDOW,
                                               anchor__isnull=True)
                        .values("rule_id")
                        .annotate(ran=Count("id", filter=~Q(outcome=RuleRunOutcome.SUPPRESSED)),
                                  suppressed=Count("id", filter=Q(outcome=RuleRunOutcome.SUPPRESSED))))
                self._counts = {row["rule_id"]: (row["ran"], row["suppressed"]) for row in rows}
        return self._counts

    def is_over_limit(self, rule_id: int) -> tuple[bool, bool]:
        """(held back, already logged as held back within the hour)."""
        ran, suppressed = self._load().get(rule_id, (0, 0))
        return ran >= max_runs_per_ticket(), suppressed > 0


# -- Triggers -----------------------------------------------------------------------------------


@dataclass
class RunLog:
    """The execution log of a pass, written at its end in two statements (events, runs) and one
    count update after the commit, instead of three statements per firing."""

    ticket: Ticket
    event: str
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, *, rule: CompiledRule, outcome: str, results: list[dict[str, Any]], error: str = "",
            actions_outcome: Any = None) -> None:
        details = actions_outcome.event_details() if actions_outcome is not None else {}
        if error:
            details = {**details, "error": error[:500]}
        self.entries.append({"rule": rule, "outcome": outcome, "results": results, "error": error,
                             "details": details, "actions_outcome": actions_outcome})

    def write(self) -> None:
        if not self.entries:
            return
        entries, self.entries = self.entries, []
        audit = events.rules_ran(ticket=self.ticket, runs=[
            {"rule_id": entry["rule"].id, "name": entry["rule"].name, "rule_kind": entry["rule"].kind,
             "outcome": entry["outcome"], "details": entry["details"]} for entry in entries])
        RuleRun.objects.bulk_create([
            RuleRun(rule_id=entry["rule"].id, ticket_id=self.ticket.pk, event=self.event, outcome=entry["outcome"],
                    actions=entry["results"], error=entry["error"]) for entry in entries])
        for entry, event in zip(entries, audit, strict=True):
            if entry["actions_outcome"] is not None:
                entry["actions_outcome"].after_logged(event=event)
        _count_runs_after_commit([entry["rule"].id for entry in entries
                                  if entry["outcome"] != RuleRunOutcome.SUPPRESSED])


def rule_fire(
    *, rule: CompiledRule, ticket: Ticket, event: str, anchor: datetime | None = None, run: RuleRun | None = None,
    context: ChangeContext | None = None, log: RunLog | None = None, refresh_on_failure: bool = True,
) -> str:
    """Run the rule's actions on the ticket in a savepoint and log the run; returns the outcome.

    A failing action undoes the whole firing and is logged as failed; it never raises, so the
    change that started it stands. `log`: the pass's log (written at its end); without it the run
    is logged at once. `run`: the automation's RuleRun, inserted already (its anchor makes the
    firing once per occurrence), completed here.
    """
    from tickets.rules.actions import actions_run

    changes_before = dict(context.changes) if context is not None else None
    results: list[dict[str, Any]] = []
    own_log = log or RunLog(ticket=ticket, event=event)
    try:
        with transaction.atomic():
            outcome = actions_run(rule=rule, ticket=ticket, event=event, results=results)
            if log is None:
                audit = events.rule_run(ticket=ticket, rule_id=rule.id, name=rule.name, rule_kind=rule.kind,
                                        details=outcome.event_details())
                _complete_run(rule=rule, ticket=ticket, event=event, outcome=RuleRunOutcome.APPLIED, results=results,
                              anchor=anchor, run=run)
                outcome.after_logged(event=audit)
                _count_runs_after_commit([rule.id])
            else:
                log.add(rule=rule, outcome=RuleRunOutcome.APPLIED, results=results, actions_outcome=outcome)
        return RuleRunOutcome.APPLIED
    except Exception as error:
        logger.exception("Rule %s (%s) failed on ticket %s", rule.id, rule.name, ticket.pk)
        if context is not None and changes_before is not None:
            # The firing was rolled back: so are the changes it reported into the pass.
            context.changes.clear()
            context.changes.update(changes_before)
        if refresh_on_failure:
            # Our copy may hold values the rolled-back firing wrote.
            ticket.refresh_from_db()
        message = f"{type(error).__name__}: {error}"[:2000]
        if log is None and run is not None:
            events.rule_run(ticket=ticket, rule_id=rule.id, name=rule.name, rule_kind=rule.kind, outcome="failed",
                            details={"error": message[:500]})
            _complete_run(rule=rule, ticket=ticket, event=event, outcome=RuleRunOutcome.FAILED, results=results,
                          anchor=anchor, run=run, error=message)
            _count_runs_after_commit([rule.id])
        else:
            own_log.add(rule=rule, outcome=RuleRunOutcome.FAILED, results=results, error=message)
            if log is None:
                own_log.write()
        return RuleRunOutcome.FAILED


def _complete_run(
    *, rule: CompiledRule, ticket: Ticket, event: str, outcome: str, results: list[dict[str, Any]],
    anchor: datetime | None, run: RuleRun | None, error: str = "",
) -> RuleRun:
    if run is None:
        return RuleRun.objects.create(rule_id=rule.id, ticket_id=ticket.pk, event=event, outcome=outcome,
                                      actions=results, anchor=anchor, error=error)
    run.outcome, run.actions, run.error = outcome, results, error
    run.save(update_fields=["outcome", "actions", "error"])
    return run


# Run counts not written yet live in Redis (rule id → runs, rule id → last run), added after each
# change commits and written to the rules by `rule_run_counts_flush` (the minute beat task, and the
# rule list pages read them on top). A count per firing in the ticket's own transaction would lock
# the rule's row until commit, so every ticket firing a popular rule would queue behind the
# others; the execution log (RuleRun) is the record, these are the list's figures.
RUN_COUNTS_KEY = "helpdesk:rules:run-counts"
LAST_RUNS_KEY = "helpdesk:rules:last-runs"


def _count_runs_after_commit(rule_ids: list[int]) -> None:
    """Add to the rules' pending run counts and last runs once the change commits."""
    if not rule_ids:
        return

    def count() -> None:
        from helpdesk.heartbeat import redis_client

        now = timezone.now().isoformat()
        pipe = redis_client().pipeline(transaction=False)
        for rule_id in rule_ids:
            pipe.hincrby(RUN_COUNTS_KEY, str(rule_id), 1)
            pipe.hset(LAST_RUNS_KEY, str(rule_id), now)
        pipe.execute()

    # robust: Redis away must not fail the ticket change that already committed; a lost count is a figure.
    transaction.on_commit(count, robust=True)


def rule_run_counts_pending() -> dict[int, tuple[int, datetime | None]]:
    """Runs not written to the rules yet: rule id → (runs, last run)."""
    from helpdesk.heartbeat import redis_client

    client = redis_client()
    counts, last_runs = client.hgetall(RUN_COUNTS_KEY), client.hgetall(LAST_RUNS_KEY)
    pending = {}
    for key, runs in counts.items():
        last = last_runs.get(key)
        pending[int(key)] = (int(runs), datetime.fromisoformat(last.decode()) if last else None)
    return pending


def rule_run_counts_flush() -> int:
    """Write the pending run counts to the rules (one UPDATE per rule, outside any ticket's
    transaction); returns how many rules. Safe on several workers: the counts are taken from Redis
    atomically (renamed away first), so each run is added once."""
    from helpdesk.heartbeat import redis_client

    client = redis_client()
    suffix = uuid.uuid4().hex
    taken_counts, taken_last = f"{RUN_COUNTS_KEY}:flushing:{suffix}", f"{LAST_RUNS_KEY}:flushing:{suffix}"
    pipe = client.pipeline(transaction=True)
    pipe.exists(RUN_COUNTS_KEY)
    pipe.exists(LAST_RUNS_KEY)
    has_counts, has_last = pipe.execute()
    if not has_counts:
        return 0
    pipe = client.pipeline(transaction=True)
    pipe.rename(RUN_COUNTS_KEY, taken_counts)
    if has_last:
        pipe.rename(LAST_RUNS_KEY, taken_last)
    try:
        pipe.execute()
    except Exception:  # another worker took them between the check and the rename
        return 0
    counts, last_runs = client.hgetall(taken_counts), client.hgetall(taken_last)
    with transaction.atomic():
        for key, runs in counts.items():
            last = last_runs.get(key)
            last_run = datetime.fromisoformat(last.decode()) if last else timezone.now()
            Rule.objects.filter(pk=int(key)).update(
                run_count=F("run_count") + int(runs),
                last_run_at=Greatest(Coalesce(F("last_run_at"), Value(last_run)), Value(last_run)),
            )
    client.delete(taken_counts, taken_last)
    return len(counts)


class _StagedChanges:
    """Field changes of the pass's field-only triggers, made on our copy of the ticket at once (so
    the next triggers see them) and written by one `ticket_update` when the pass needs the database
    to be current (a trigger with other actions) or ends: one lock, one save, one SLA sync and one
    realtime event for all of them instead of one each. If that update is refused, each staged
    trigger is run again on its own, so exactly the one that cannot apply is logged as failed."""

    FIELDS = ("status", "priority", "type", "team_id", "assignee_id", "tags", "custom_fields")

    def __init__(self, *, ticket: Ticket, context: ChangeContext, log: RunLog, facts: Facts) -> None:
        self.ticket, self.context, self.log, self.facts, self.now = ticket, context, log, facts, facts.now
        self.rules: list[tuple[CompiledRule, list[dict[str, Any]]]] = []
        self.snapshot: dict[str, Any] = {}
        self.changes_before: dict[str, Any] = {}

    def stage(self, rule: CompiledRule) -> bool:
        """Stage the rule's changes; False (and logged as failed) when they cannot apply."""
        from tickets.rules.actions import simulate_field_actions

        before = {name: _copy(getattr(self.ticket, name)) for name in (*self.FIELDS, "status_changed_at")}
        changes_before = dict(self.context.changes)
        if not self.rules:
            self.snapshot, self.changes_before = before, changes_before
        try:
            simulate_field_actions(rule.actions, ticket=self.ticket, changes=self.context.changes, now=self.now)
        except Exception as error:
            logger.warning("Rule %s (%s) cannot apply to ticket %s: %s", rule.id, rule.name, self.ticket.pk, error)
            # Nothing of it stays: our copy and the pass's changes as they were.
            for name, value in before.items():
                setattr(self.ticket, name, value)
            self.context.changes.clear()
            self.context.changes.update(changes_before)
            self.log.add(rule=rule, outcome=RuleRunOutcome.FAILED, results=[],
                         error=f"{type(error).__name__}: {error}"[:2000])
            return False
        for key in set(self.context.changes) - set(changes_before):
            # "changed from" of a staged change: the value before it (no audit event exists yet).
            self.facts.note_previous(key, before.get(CHANGE_KEY_ATTRIBUTES.get(key, key)))
        self.rules.append((rule, [{"type": action.get("type"), "result": "done"} for action in rule.actions]))
        return True

    def flush(self) -> None:
        from tickets.services import ticket_update

        if not self.rules:
            return
        staged, self.rules = self.rules, []
        update: dict[str, Any] = {}
        ticket = self.ticket
        for name in self.FIELDS:
            if getattr(ticket, name) != self.snapshot[name]:
                key = {"type": "ticket_type", "team_id": "team", "assignee_id": "assignee"}.get(name, name)
                update[key] = getattr(ticket, key if key in ("team", "assignee") else name)
        try:
            if update:
                updated = ticket_update(ticket=ticket, actor=None, actor_kind=ActorKind.AUTOMATION,
                                        via=_via_of([rule for rule, _results in staged]), **update)
                adopt(ticket, updated)
        except Exception:
            logger.info("Staged trigger changes refused on ticket %s; running the triggers one by one",
                        ticket.pk, exc_info=True)
            ticket.refresh_from_db()
            self.context.changes.clear()
            self.context.changes.update(self.changes_before)
            for rule, _results in staged:
                rule_fire(rule=rule, ticket=ticket, event=self.context.event, context=self.context, log=self.log)
            return
        for rule, results in staged:
            self.log.add(rule=rule, outcome=RuleRunOutcome.APPLIED, results=results)


# A change key of the pass (ChangeContext.changes) → the ticket attribute holding its value.
CHANGE_KEY_ATTRIBUTES = {"team": "team_id", "assignee": "assignee_id"}


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value


def _via_of(rules: list[CompiledRule]) -> str:
    """Event.via of a change several rules made together: "rule:<id>,<id>…" (as many ids as fit
    its 32 characters; the rules' own events name them all)."""
    via = f"rule:{rules[0].id}"
    for rule in rules[1:]:
        if len(via) + len(str(rule.id)) + 1 > 32:
            break
        via += f",{rule.id}"
    return via


def adopt(ticket: Ticket, updated: Ticket) -> None:
    """Make our copy of the ticket what a service saved (its own locked copy), without a query."""
    for model_field in type(ticket)._meta.concrete_fields:
        setattr(ticket, model_field.attname, getattr(updated, model_field.attname))
    for name in ("requester", "team", "assignee"):
        relation: Any = type(ticket)._meta.get_field(name)
        if relation.is_cached(updated):
            setattr(ticket, name, getattr(updated, name))


def triggers_run(*, ticket: Ticket, context: ChangeContext) -> None:
    """Run the active triggers for `context.event` over the ticket, in order (see the module).

    On a new ticket, the triggers `triggers_prestage` ran before its INSERT count as fired in this
    pass: they are logged, the deferred ones' actions run now, and the pass goes on from there."""
    from tickets.rules.actions import is_field_only, needs_saved_ticket

    prestaged: PrestagedTriggers | None = ticket.__dict__.pop(PRESTAGED_ATTRIBUTE, None)
    if context.event != TriggerEvent.CREATED:
        prestaged = None
    # The list the pass began with before the INSERT, microseconds ago in this transaction (not
    # another round trip to the shared cache for its version).
    rules = prestaged.rules if prestaged is not None else active_triggers(context.event)
    if not rules:
        return
    now = timezone.now()
    facts = Facts(ticket=ticket, now=now, changes=context.changes, message_id=context.message_id,
                  first_message_if_none=context.event == TriggerEvent.CREATED)
    log = RunLog(ticket=ticket, event=context.event)
    if prestaged is not None:
        _prestaged_log_and_run(prestaged, ticket=ticket, context=context, log=log, facts=facts)
        if prestaged.is_complete:
            # Every trigger was checked against the ticket as it stands (same fields, changes and
            # message); checking them again would find the same.
            log.write()
            return
    if any(rule.conditions.needs_previous for rule in rules):
        facts.remember_watermark()
    recent = _RecentRuns(ticket.pk, now=now, is_new_ticket=context.event == TriggerEvent.CREATED)
    staged = _StagedChanges(ticket=ticket, context=context, log=log, facts=facts)
    firings = 0
    while firings < MAX_FIRINGS_PER_PASS:
        fired = None
        for rule in rules:
            if rule.id in context.fired_rule_ids or not _matches_safely(rule, ticket=ticket, facts=facts,
                                                                        context=context):
                continue
            context.fired_rule_ids.add(rule.id)
            held_back, logged = recent.is_over_limit(rule.id)
            if held_back:
                if not logged:
                    _suppress(rule=rule, ticket=ticket, event=context.event, log=log)
                continue
            fired = rule
            break
        if fired is None:
            break
        firings += 1
        if is_field_only(fired.actions):
            staged.stage(fired)
        elif needs_saved_ticket(fired.actions):
            staged.flush()  # the services must see the ticket as the earlier triggers left it
            rule_fire(rule=fired, ticket=ticket, event=context.event, context=context, log=log)
        else:
            # Notes, mails, webhooks: they read our copy (staged changes included) and leave it as it is.
            rule_fire(rule=fired, ticket=ticket, event=context.event, context=context, log=log,
                      refresh_on_failure=False)
        facts.refresh()
    else:
        logger.warning("Ticket %s: stopped after %s trigger firings in one pass", ticket.pk, firings)
    staged.flush()
    log.write()


# -- Triggers on a new ticket, before its INSERT ------------------------------------------------
#
# A new ticket's "created" triggers are checked on the ticket before it is inserted (as Zendesk
# does), so it is inserted with their field changes: one INSERT, one SLA sync, one realtime event,
# instead of a second `ticket_update` (lock, UPDATE, SLA sync again) right after. This runs the
# beginning of the very pass `triggers_run` would run after the INSERT, in the same order, and
# stops (leaving the rest to that pass) at the first trigger it cannot do exactly as that pass:
# one whose conditions read what only a saved ticket has (SLA timers, calendar, moments), one with
# actions that need the saved ticket (a macro, escalation, routing, field changes mixed with other
# actions: a failing action must undo its field changes too), or a field change `ticket_update`
# might refuse or widen (a team change that could unassign, solving or closing).

PRESTAGED_ATTRIBUTE = "_rules_prestaged"  # on the new ticket, read (and removed) by triggers_run


@dataclass
class _PrestagedFiring:
    rule: CompiledRule
    # True: its field changes are in the ticket as inserted. False: its actions (notes, mails,
    # webhooks only) run after the INSERT, seeing the ticket's fields as they were at its turn.
    is_staged: bool
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class PrestagedTriggers:
    """What the "created" triggers did to a new ticket before its INSERT (`triggers_prestage`)."""

    before: dict[str, Any]  # the ticket's fields before any trigger (_StagedChanges.FIELDS)
    changes: dict[str, Any]  # the pass's changes so far (ChangeContext.changes keys)
    previous: dict[str, Any]  # change key → value before it (for "changed from")
    firings: list[_PrestagedFiring]
    message_text: str  # the description: the pass after the INSERT need not read it back
    # The rule list it ran, and whether it ran to the end (no trigger left that matches): then the
    # pass after the INSERT has nothing to check again (the deferred actions change no field).
    rules: tuple[CompiledRule, ...] = ()
    is_complete: bool = False

    def initial_view(self, ticket: Ticket) -> Ticket:
        """A copy of the ticket as it was before the triggers: what its "created" event records
        (the triggers' changes follow as their own events, as when they were saved after it)."""
        initial = copy.copy(ticket)
        for name in _StagedChanges.FIELDS:
            if getattr(initial, name) != self.before[name]:
                setattr(initial, name, self.before[name])
        return initial

    def write_events(self, ticket: Ticket, *, leading: list[Any] | None = None) -> None:
        """The audit events of the staged field changes, exactly as the one `ticket_update` that
        saved them after the INSERT wrote them (fields in its order, actor the automation, via
        "rule:<ids>"), after the `leading` unsaved events (the ticket's "created"), in one statement."""
        from tickets import events
        from tickets.models import Event

        staged = [firing.rule for firing in self.firings if firing.is_staged]
        if not staged:
            if leading:
                events.record_many(leading)
            return

        via = _via_of(staged)
        # The rows `events.field_changed` writes (kind, actor, via, field, values) and their
        # notifications, in one statement instead of one per field.
        changed = [
            Event(ticket=ticket, kind=f"{key}_changed", actor_kind=ActorKind.AUTOMATION, actor_user=None, via=via,
                  field=key, from_value=_copy(self.before[name]), to_value=_copy(getattr(ticket, name)))
            for name, key in (("priority", "priority"), ("type", "type"), ("team_id", "team"),
                              ("assignee_id", "assignee"), ("tags", "tags"), ("custom_fields", "custom_fields"),
                              ("status", "status"))
            if self.before[name] != getattr(ticket, name)
        ]
        events.record_many([*(leading or []), *changed])


def triggers_prestage(*, ticket: Ticket, message_text: str, now: datetime | None = None) -> PrestagedTriggers:
    """Run the start of the "created" pass on a ticket not inserted yet (see above): field
    changes are made on it, notes/mails/webhooks wait for the INSERT. Attach the result to the saved ticket (`PRESTAGED_ATTRIBUTE`) and write its `write_events`."""
    from tickets.rules.actions import is_field_only, leaves_fields_alone

    rules = active_triggers(TriggerEvent.CREATED)
    if not rules:
        # Still attached: the pass after the INSERT then knows there is nothing to run without
        # asking the shared cache again.
        return PrestagedTriggers(before={}, changes={}, previous={}, firings=[], message_text=message_text,
                                 rules=rules, is_complete=True)
    now = now or timezone.now()
    changes: dict[str, Any] = {}
    facts = Facts(ticket=ticket, now=now, changes=changes, first_message_if_none=True)
    facts.know_new_ticket(message_text=message_text)
    before = {name: _copy(getattr(ticket, name)) for name in _StagedChanges.FIELDS}
    firings: list[_PrestagedFiring] = []
    fired: set[int] = set()
    is_complete = False
    while len(firings) < MAX_FIRINGS_PER_PASS:
        candidate, is_complete = _prestage_candidate(rules, fired=fired, facts=facts)
        if candidate is None:
            break
        if is_field_only(candidate.actions):
            if not _prestage_fields(candidate, ticket=ticket, changes=changes, facts=facts, now=now):
                break
            firings.append(_PrestagedFiring(rule=candidate, is_staged=True))
        elif leaves_fields_alone(candidate.actions):
            firings.append(_PrestagedFiring(rule=candidate, is_staged=False, values={
                name: _copy(getattr(ticket, name)) for name in _StagedChanges.FIELDS}))
        else:
            break
        fired.add(candidate.id)
        facts.refresh()
    return PrestagedTriggers(before=before, changes=changes, previous=dict(facts.noted_previous), firings=firings,
                             message_text=message_text, rules=rules, is_complete=is_complete)


def _prestage_candidate(rules: tuple[CompiledRule, ...], *, fired: set[int],
                        facts: Facts) -> tuple[CompiledRule | None, bool]:
    """(The next trigger that fires before the INSERT, whether every trigger was checked): no
    trigger when none matches (checked: True) or the next one in line cannot be checked before
    the INSERT (False: the pass after it takes over there)."""
    for rule in rules:
        if rule.id in fired:
            continue
        if rule.conditions.needs_saved_ticket:
            return None, False
        try:
            if matches(rule.conditions, facts):
                return rule, False
        except Exception:  # the pass after the INSERT checks it again and logs the failure
            return None, False
    return None, True


def _prestage_fields(rule: CompiledRule, *, ticket: Ticket, changes: dict[str, Any], facts: Facts,
                     now: datetime) -> bool:
    """Make the rule's field changes on the unsaved ticket; False (nothing changed) when they
    cannot apply or `ticket_update` would do more than set them."""
    from tickets.rules.actions import simulate_field_actions

    before = {name: _copy(getattr(ticket, name)) for name in (*_StagedChanges.FIELDS, "status_changed_at")}
    changes_before = dict(changes)
    try:
        simulate_field_actions(rule.actions, ticket=ticket, changes=changes, now=now)
        # ticket_update unassigns an assignee outside a new team; a solved ticket schedules surveys.
        refused = ((ticket.team_id != before["team_id"] and ticket.assignee_id is not None)
                   or (ticket.status != before["status"] and ticket.status in (Status.SOLVED, Status.CLOSED)))
    except Exception:
        refused = True
    if refused:
        for name, value in before.items():
            if getattr(ticket, name) != value:
                setattr(ticket, name, value)
        changes.clear()
        changes.update(changes_before)
        return False
    for key in set(changes) - set(changes_before):
        facts.note_previous(key, before.get(CHANGE_KEY_ATTRIBUTES.get(key, key)))
    return True


def _prestaged_log_and_run(prestaged: PrestagedTriggers, *, ticket: Ticket, context: ChangeContext, log: RunLog,
                           facts: Facts) -> None:
    """The pass after the INSERT takes over what ran before it: the triggers are fired in this
    pass, their changes are the pass's, and the deferred ones' notes, mails and webhooks run now."""
    facts.know_message_text(prestaged.message_text)
    context.changes.update(prestaged.changes)
    for key, value in prestaged.previous.items():
        facts.note_previous(key, value)
    for firing in prestaged.firings:
        context.fired_rule_ids.add(firing.rule.id)
        if firing.is_staged:
            log.add(rule=firing.rule, outcome=RuleRunOutcome.APPLIED,
                    results=[{"type": action.get("type"), "result": "done"} for action in firing.rule.actions])
        else:
            with _fields_as(ticket, firing.values):
                rule_fire(rule=firing.rule, ticket=ticket, event=context.event, context=context, log=log,
                          refresh_on_failure=False)
    facts.refresh()


@contextmanager
def _fields_as(ticket: Ticket, values: dict[str, Any]) -> Iterator[None]:
    """Our copy of the ticket shows `values` meanwhile (a deferred trigger's placeholders and
    webhook payload see the ticket as it was at its turn, not as later triggers left it)."""
    current = {name: getattr(ticket, name) for name in values if getattr(ticket, name) != values[name]}
    related = dict(ticket._state.fields_cache)  # setting team_id/assignee_id forgets the loaded team/assignee
    for name in current:
        setattr(ticket, name, values[name])
    try:
        yield
    finally:
        for name, value in current.items():
            setattr(ticket, name, value)
        ticket._state.fields_cache = related


def _matches_safely(rule: CompiledRule, *, ticket: Ticket, facts: Facts, context: ChangeContext) -> bool:
    """Whether the rule matches; a condition that cannot be evaluated (a bug, bad stored data) is
    logged as a failed run of that rule instead of failing the ticket change. A database error
    cannot be contained without a savepoint per rule (too dear on this path) and is raised."""
    try:
        return matches(rule.conditions, facts)
    except DatabaseError:
        raise
    except Exception as error:
        logger.exception("Rule %s (%s): conditions could not be evaluated on ticket %s", rule.id, rule.name, ticket.pk)
        context.fired_rule_ids.add(rule.id)
        RuleRun.objects.create(rule_id=rule.id, ticket_id=ticket.pk, event=context.event,
                               outcome=RuleRunOutcome.FAILED, error=f"{type(error).__name__}: {error}"[:2000])
        return False


def _suppress(*, rule: CompiledRule, ticket: Ticket, event: str, log: RunLog) -> None:
    logger.warning(
        "Loop protection: rule %s (%s) fired %s times on ticket %s within %s; not run again now",
        rule.id, rule.name, max_runs_per_ticket(), ticket.pk, LOOP_WINDOW,
    )
    log.add(rule=rule, outcome=RuleRunOutcome.SUPPRESSED, results=[],
            error=_("Fired %(count)s times on this ticket within an hour: held back (loop protection).")
            % {"count": max_runs_per_ticket()})


# -- Previews -----------------------------------------------------------------------------------


def rule_preview(
    *, kind: str, events: list[str], conditions: dict[str, Any], actions: list[dict[str, Any]], ticket: Ticket,
    now: datetime | None = None, event: str | None = None, rule_id: int | None = None,
) -> RulePreview:
    """What the rule (saved or being edited) would do to `ticket` now, changing nothing.

    `event`: for a trigger, the event to imagine (default: its first event; change operators then
    see no change). The message conditions read is the ticket's latest public message. `rule_id`:
    the saved rule, so an automation that already fired for this occurrence says so.
    """
    from tickets.rules.actions import describe_actions
    from tickets.rules.automations import anchor_of

    now = now or timezone.now()
    compiled = compile_conditions(conditions)
    facts = Facts(ticket=ticket, now=now, latest_message_if_none=True)
    results = [
        ConditionResult(condition=dict(condition.stored), group=condition.group, holds=holds(condition, facts),
                        actual=actual_text(condition, facts))
        for condition in compiled.conditions
    ]
    does_match = matches(compiled, facts)
    note = ""
    if kind == RuleKind.TRIGGER:
        event = event or (events[0] if events else None)
        if event is None:
            note = _("This trigger runs on no event.")
        elif events and event not in events:
            note = _("This trigger does not run when: %(event)s.") % {"event": TriggerEvent(event).label}
    elif kind == RuleKind.AUTOMATION and does_match:
        from tickets.models import Status

        anchor = anchor_of(compiled, facts)
        if ticket.status == Status.CLOSED or ticket.merged_into_id is not None:
            note = _("Automations do not run on closed or merged tickets.")
        elif rule_id is not None and RuleRun.objects.filter(rule_id=rule_id, ticket_id=ticket.pk,
                                                            anchor=anchor).exists():
            note = _("Already ran on this ticket for this occurrence; it runs again when the time condition "
                     "starts over.")
    return RulePreview(matches=does_match, conditions=results, actions=describe_actions(actions, ticket=ticket),
                       note=note)
