"""The demo's metrics history: the last ~90 days of a busy helpdesk, so the manager dashboard of
`make run` has every metric of PRODUCT.md to show.

About 22 tickets a day over every channel, team, agent, priority and organization, and unlike the
year of history with SLA timers: their met and missed targets are the ones production would have.
On top of tickets.demo.plan's stories: tickets never answered (some solved without a reply), solved
by the customer in the portal, reopened twice, merged duplicates, a backlog of every age, and
CSAT / CES / NPS answers (a few NPS answers without a ticket). Under a business-hours policy the
first answer comes within the calendar's hours.

Two writers, for speed (the services cost ~50 queries a ticket with SLA timers): most tickets are
copied (tickets.demo.bulk: the services' rows) with their SLA timers and `sla_*` events worked out
in memory (tickets.demo.sla_history; tests compare both with the services'); merges and tickets
given a tag an SLA policy looks at go through the ticket services under the
plan's clock, their steps in one time order so a duplicate is merged while its ticket is open.
Then the metrics are computed: the facts of every ticket, then the rollups.

Deterministic for (days, tickets, seed, now); written in one transaction with a marker row, so it
happens once per database, entirely or not at all.
"""

from __future__ import annotations

import heapq
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from tickets.demo import content
from tickets.demo.base import (
    Catalog,
    CustomerRef,
    catalog,
    customer_pool_size,
    ensure_customers,
    ensure_organizations,
)
from tickets.demo.bulk import STATE_TABLE, load_plans, reserve_numbers
from tickets.demo.plan import (
    ASSIGN,
    CUSTOMER,
    DAY,
    HOUR,
    MAIL_DOMAIN,
    MICRO,
    MINUTE,
    REPLY,
    STATUS,
    TicketPlan,
    Timeline,
    Weighted,
    moment,
    plan_ticket,
)
from tickets.demo.replay import Objects, apply_op, clock_at, create_ticket
from tickets.demo.sla_history import Policies, simulate_timers, timers_save
from tickets.models import Customer, Role, Ticket, User
from tickets.models.sla import Metric
from tickets.services import ticket_merge
from tickets.sla.calendar import business_add

DEFAULT_DAYS = 90
TICKETS_PER_DAY = 22
STATE_KEY = "metrics_history"
# (MERGE, at, agent_id, position of the target plan): the duplicate goes into the earlier ticket.
MERGE = "merge"
# How many customers of the pool have a portal login (and so can mark their request solved).
PORTAL_CUSTOMERS = 12

# tickets.demo.plan's stories, plus the ones the metrics have edge cases for.
STORY_WEIGHTS = {
    "quick": 30,
    "info": 24,
    "note_info": 10,
    "reopen": 7,
    "reopen_twice": 2.5,  # the customer comes back twice
    "customer_solved": 3.5,  # asked for details, the customer marks it solved in the portal
    "silent": 5,
    "on_hold": 4,
    "stale": 2,  # waiting on the customer for ever: backlog of every age
    "unanswered": 1.5,  # never answered, still new
    "solved_unanswered": 1.5,  # closed by an agent without a public reply (spam, already fixed)
}
STORY_CHOICE = Weighted(STORY_WEIGHTS)
# The share of answered tickets the customer opened a second time, by another channel, merged
# into the first by the agent.
DUPLICATE_SHARE = 0.02
# Surveys: a CSAT question after a first solve is answered this often, a CES question after it this
# often, and an NPS survey goes to a customer at most once in 90 days (answered this often).
CSAT_ANSWERED = 0.4
CES_AFTER_CSAT = 0.5
NPS_ANSWERED = 0.35
CSAT_COMMENTS = {
    content.EN: {
        "good": ("Quick and friendly, thank you!", "Solved in no time.", "Very clear explanation."),
        "bad": ("It took far too long to get an answer.", "I had to explain the problem twice.",
                "The first fix did not work."),
    },
    content.ZH_HANS: {
        "good": ("回复很快，谢谢！", "问题很快就解决了。", "解释得很清楚。"),
        "bad": ("等了太久才有回复。", "同一个问题我说了两遍。", "第一次的方法没有用。"),
    },
    content.ZH_HANT: {
        "good": ("回覆很快，謝謝！", "問題很快就解決了。", "說明得很清楚。"),
        "bad": ("等了太久才有回覆。", "同一個問題我說了兩次。", "第一次的方法沒有用。"),
    },
}


@dataclass
class HistoryResult:
    tickets: int
    merged: int
    surveys: int
    facts: int
    rollups: bool
    seconds: float
    skipped: bool = False


# --- plans --------------------------------------------------------------------------------------

def _solved_at(op: tuple) -> bool:
    return (op[0] == REPLY and op[4] == "solved") or (op[0] == STATUS and op[3] == "solved")


def _is_auto_close(op: tuple) -> bool:
    return op[0] == STATUS and op[3] == "closed" and op[4] == "auto_close"


def _finish(plan: TicketPlan, ops: list[tuple], rng: random.Random, demo: Catalog) -> None:
    """Set the plan's operations: strictly increasing times, the automatic close after the last
    solve (as the workers close a solved ticket), nothing after `now`."""
    ops = [op for op in ops if not _is_auto_close(op)]
    ordered: list[tuple] = []
    clock = plan.created_at
    for op in ops:
        at = max(op[1], clock + MICRO)
        ordered.append((op[0], at, *op[2:]))
        clock = at
    if ordered and _solved_at(ordered[-1]):
        close_at = ordered[-1][1] + int((demo.auto_close_days * DAY + HOUR * rng.random()) * MICRO)
        ordered.append((STATUS, close_at, None, "closed", "auto_close"))
    now = int(demo.now * MICRO)
    plan.ops = [op for op in ordered if op[1] <= now]


def _agent_of(plan: TicketPlan) -> int | None:
    for op in plan.ops:
        if op[0] == ASSIGN:
            return op[3]
        if op[0] == REPLY:
            return op[2]
    return plan.assignee_id


def _reopen_again(plan: TicketPlan, rng: random.Random, demo: Catalog, requester: CustomerRef, language: str) -> None:
    """A reopened ticket the customer reopens once more after the second solve."""
    ops = [op for op in plan.ops if not _is_auto_close(op)]
    solves = [op for op in ops if op[0] == REPLY and op[4] == "solved"]
    if len(solves) < 2:
        return
    last = solves[-1]
    customer_at = last[1] + int((0.2 + 2.5 * rng.random()) * DAY * MICRO)
    text = rng.choice(content.REOPENINGS[language])
    sign_off = rng.choice(content.CUSTOMER_SIGN_OFFS[language]).format(name=requester.greeting_name)
    ops.append((CUSTOMER, customer_at, f"{text}\n\n{sign_off}", ""))
    answer_at = customer_at + int((20 * MINUTE + 6 * HOUR * rng.random()) * MICRO)
    # The agent writes the same follow-up again, with what else was found.
    ops.append((REPLY, answer_at, last[2], last[3], "solved"))
    _finish(plan, ops, rng, demo)


def _customer_solves(plan: TicketPlan, rng: random.Random, demo: Catalog) -> None:
    """The agent asked for details; the customer found the answer and marks the request solved."""
    ops = [op for op in plan.ops if not _is_auto_close(op)]
    for position, op in enumerate(ops):
        if op[0] == STATUS and op[3] == "solved":
            asked_at = ops[position - 1][1] if position else plan.created_at
            at = asked_at + int((1 * HOUR + 30 * HOUR * rng.random()) * MICRO)
            ops[position] = (STATUS, at, plan.requester_user_id, "solved", "web")
            break
    _finish(plan, ops, rng, demo)


def _solve_without_reply(plan: TicketPlan, rng: random.Random, demo: Catalog) -> None:
    agent = _agent_of(plan) or demo.team_agents[plan.team_id][0]
    assigned_at = plan.created_at + int((10 * MINUTE + 4 * HOUR * rng.random()) * MICRO)
    solved_at = assigned_at + int((5 * MINUTE + 2 * HOUR * rng.random()) * MICRO)
    ops = [(ASSIGN, assigned_at, agent, agent), (STATUS, solved_at, agent, "solved", "web")]
    if plan.assignee_id:  # logged by the agent on the phone: already theirs
        ops = ops[1:]
    _finish(plan, ops, rng, demo)


def _duplicate(plan: TicketPlan, position: int, rng: random.Random, demo: Catalog, index: int) -> TicketPlan | None:
    """The same request sent again a little later by another channel, merged into `plan` by its
    agent while `plan` is still open; None when it would be solved by then."""
    agent = _agent_of(plan)
    if agent is None or not plan.ops:
        return None
    created_at = plan.created_at + int((5 * MINUTE + 85 * MINUTE * rng.random()) * MICRO)
    merge_at = created_at + int((10 * MINUTE + 3 * HOUR * rng.random()) * MICRO)
    first_solve = next((op[1] for op in plan.ops if _solved_at(op)), None)
    if first_solve is None or merge_at >= first_solve - MICRO or merge_at > int(demo.now * MICRO):
        return None
    channel = rng.choice([c for c in ("email", "web", "chat") if c != plan.channel])
    if plan.requester_user_id:
        channel = "email" if plan.channel != "email" else "chat"
    external_id = f"<{demo.run_token}.d{index}.0@{MAIL_DOMAIN}>" if channel == "email" else ""
    return TicketPlan(
        index=index, created_at=created_at, requester_id=plan.requester_id, requester_user_id=plan.requester_user_id,
        organization_id=plan.organization_id, subject=plan.subject, body=plan.body, channel=channel,
        team_id=plan.team_id, priority=plan.priority, ticket_type=plan.ticket_type, tags=list(plan.tags),
        custom_fields=dict(plan.custom_fields), creator_id=None, assignee_id=None, external_id=external_id,
        ops=[(MERGE, merge_at, agent, position)],
    )


def _answer_in_business_hours(plan: TicketPlan, policies: Policies, tier: str, now: int) -> None:
    """Under a business-hours policy the team answers within its hours: a ticket that came in at
    night is taken up after the opening (its steps move later, the planned delay counted in
    business time), so business-hours FRT is the planned delay and calendar FRT the longer wait."""
    policy = policies.policy_for(plan, tier=tier)
    if policy is None or not policy.is_business_hours(Metric.FIRST_RESPONSE):
        return
    first = next((op for op in plan.ops if op[0] in (REPLY, ASSIGN, STATUS)), None)
    if first is None:
        return
    created, answered = moment(plan.created_at), moment(first[1])
    opened = business_add(policies.calendar_of(policy), created, answered - created)
    shift = int((opened - answered).total_seconds()) * MICRO
    if shift > 0:
        plan.ops = [(op[0], op[1] + shift, *op[2:]) for op in plan.ops if op[1] + shift <= now]


def plan_history(demo: Catalog, *, days: int, tickets: int, seed: int, portal_customers: list[CustomerRef],
                 policies: Policies, tiers: dict[int, str]) -> list[TicketPlan]:
    """The history's plans (duplicates after the tickets they are merged into), deterministic."""
    rng = random.Random(f"history:{seed}:{days}:{tickets}")
    timeline = Timeline(demo.now, days=days)
    customers = demo.customers
    plans: list[TicketPlan] = []
    duplicates: list[TicketPlan] = []
    for index in range(tickets):
        created_at = timeline.at((index + 0.5) / tickets)
        story = STORY_CHOICE.pick(rng.random())
        if story == "customer_solved" and portal_customers:
            requester = rng.choice(portal_customers)
        else:
            requester = customers[int(len(customers) * rng.random() ** 1.5)]
        base_story = {"reopen_twice": "reopen", "customer_solved": "silent", "solved_unanswered": "unanswered"}.get(
            story, story
        )
        plan = plan_ticket(rng, demo, index=index, created_at=created_at, requester=requester, story=base_story)
        language = requester.language if requester.language in content.LANGUAGES else content.EN
        if story == "reopen_twice":
            _reopen_again(plan, rng, demo, requester, language)
        elif story == "customer_solved" and requester.user_id:
            _customer_solves(plan, rng, demo)
        elif story == "solved_unanswered":
            _solve_without_reply(plan, rng, demo)
        _answer_in_business_hours(plan, policies, tiers.get(plan.requester_id, ""), int(demo.now * MICRO))
        plans.append(plan)
        if story not in ("unanswered", "solved_unanswered", "stale") and rng.random() < DUPLICATE_SHARE:
            duplicate = _duplicate(plan, len(plans) - 1, rng, demo, index)
            if duplicate is not None:
                duplicates.append(duplicate)
    return plans + duplicates


# --- writing ------------------------------------------------------------------------------------

def write_through_services(plans: list[TicketPlan]) -> dict[int, Ticket]:
    """Every plan's steps through the services in one time order (ticket numbers follow creation);
    returns the tickets by plan position. MERGE steps name their target by position in `plans`."""
    objects = Objects()
    steps = [(plan.created_at, position, -1) for position, plan in enumerate(plans)]
    heapq.heapify(steps)
    tickets: dict[int, Ticket] = {}
    while steps:
        _at, position, step = heapq.heappop(steps)
        plan = plans[position]
        if step < 0:
            tickets[position] = create_ticket(plan, objects)
        else:
            op = plan.ops[step]
            if op[0] == MERGE:
                actor = objects.user(op[2])
                assert actor is not None
                with clock_at(moment(op[1])):
                    ticket_merge(source=tickets[position], target=tickets[op[3]], actor=actor)
            else:
                tickets[position] = apply_op(tickets[position], plan, op, objects)
        if step + 1 < len(plan.ops):
            heapq.heappush(steps, (plan.ops[step + 1][1], position, step + 1))
    return tickets


def write_with_copy(plans: list[TicketPlan], policies: Policies) -> int:
    """The plans with COPY (the rows the services write, see tickets.demo.bulk) and their SLA timers
    worked out in memory (tickets.demo.sla_history); returns how many timers."""
    plans = sorted(plans, key=lambda plan: plan.created_at)
    numbers = reserve_numbers(len(plans))
    load_plans(plans, numbers, skip_constraint_checks=False)
    tickets = {
        number: (pk, tier) for number, pk, tier in
        Ticket.objects.filter(number__in=numbers).values_list("number", "pk", "requester__tier")
    }
    ticket_ids, simulated = [], []
    for plan, number in zip(plans, numbers, strict=True):
        pk, tier = tickets[number]
        ticket_ids.append(pk)
        simulated.append(simulate_timers(plan, policies=policies, tier=tier))
    count = timers_save(ticket_ids, simulated)
    due = [Ticket(pk=pk, sla_due_at=result.sla_due_at) for pk, result in zip(ticket_ids, simulated, strict=True)
           if result.sla_due_at is not None]
    Ticket.objects.bulk_update(due, ["sla_due_at"], batch_size=2000)
    return count


def split_plans(plans: list[TicketPlan], policies: Policies) -> tuple[list[TicketPlan], list[TicketPlan]]:
    """(through the services, with COPY): merges (both tickets) and tickets given a tag an SLA policy
    looks at need the services; the rest is copied. MERGE steps are renumbered to positions in the
    first list."""
    merge_targets = {op[3] for plan in plans for op in plan.ops if op[0] == MERGE}
    services, positions = [], {}
    copied = []
    for position, plan in enumerate(plans):
        special = (
            position in merge_targets
            or any(op[0] == MERGE for op in plan.ops)
            or not policies.can_simulate(plan)
        )
        if special:
            positions[position] = len(services)
            services.append(plan)
        else:
            copied.append(plan)
    for plan in services:
        plan.ops = [(MERGE, op[1], op[2], positions[op[3]]) if op[0] == MERGE else op for op in plan.ops]
    return services, copied


def ensure_portal_customers(customers: list[CustomerRef], count: int) -> int:
    """Give up to `count` customers of the pool with an organization a portal login (unusable
    password: nobody signs in as them); returns how many logins were added."""
    if sum(1 for customer in customers if customer.user_id) >= count:
        return 0
    picked = [customer.id for customer in customers if customer.organization_id and not customer.user_id][::7][:count]
    password = make_password(None)
    added = 0
    for customer in Customer.objects.filter(pk__in=picked).order_by("pk"):
        user, _ = User.objects.get_or_create(
            username=customer.email.lower(),
            defaults={"email": customer.email, "password": password, "role": Role.CUSTOMER,
                      "first_name": customer.name, "language": customer.language or content.EN,
                      "timezone": customer.timezone or "UTC"},
        )
        customer.user = user
        customer.save(update_fields=["user"])
        added += 1
    return added


# --- surveys ------------------------------------------------------------------------------------

def _csat_score(rng: random.Random, *, reopened: bool, slow: bool, by_customer: bool) -> int:
    unhappy = 0.08 + (0.3 if reopened else 0) + (0.15 if slow else 0) - (0.04 if by_customer else 0)
    if rng.random() < unhappy:
        return rng.choice((1, 2, 2, 3, 3, 3))
    return 5 if rng.random() < 0.62 else 4


def seed_surveys(*, seed: int, now: float, nps_period_days: int = 90) -> int:
    """CSAT, CES and NPS answers for the solved history, dimensions copied from the ticket's facts."""
    from metrics.models import SurveyKind, SurveyResponse, SurveySource, TicketFact

    rng = random.Random(f"surveys:{seed}")
    facts = (
        TicketFact.objects.filter(first_solved_at__isnull=False, is_merged=False)
        .select_related("ticket__requester").order_by("first_solved_at", "ticket_id")
    )
    now_at = moment(int(now * MICRO))
    rows: list[SurveyResponse] = []
    last_nps: dict[int, object] = {}

    def answer(kind: str, score: int, fact: TicketFact | None, customer: Customer, at: object, source: str,
               comment: str = "") -> None:
        rows.append(SurveyResponse(
            kind=kind, score=score, comment=comment, source=source, ticket_id=fact.ticket_id if fact else None,
            customer=customer, team_id=fact.team_id if fact else None, agent_id=fact.agent_id if fact else None,
            channel=fact.channel if fact else "", priority=fact.priority if fact else "",
            organization_id=fact.organization_id if fact else customer.organization_id,
            language=customer.language or content.EN, responded_at=at,
        ))

    for fact in facts:
        customer = fact.ticket.requester
        language = customer.language if customer.language in CSAT_COMMENTS else content.EN
        source = SurveySource.CHAT if fact.channel == "chat" else (
            SurveySource.PORTAL if customer.user_id else SurveySource.EMAIL)
        assert fact.first_solved_at is not None
        if rng.random() < CSAT_ANSWERED:
            at = fact.first_solved_at + timedelta(minutes=1 if source == SurveySource.CHAT else 20 + 1400 * rng.random())
            if at <= now_at:
                slow = (fact.frt_business_seconds or 0) > 4 * 3600
                score = _csat_score(rng, reopened=fact.reopen_count > 0, slow=slow, by_customer=fact.solved_by_customer)
                comment = ""
                if rng.random() < 0.3:
                    comment = rng.choice(CSAT_COMMENTS[language]["good" if score >= 4 else "bad"])
                answer(SurveyKind.CSAT, score, fact, customer, at, source, comment)
                if rng.random() < CES_AFTER_CSAT:
                    effort = rng.choice((5, 6, 6, 7, 7)) if score >= 4 else rng.choice((1, 2, 3, 3, 4, 5))
                    answer(SurveyKind.CES, effort, fact, customer, at + timedelta(seconds=15 + 60 * rng.random()),
                           source)
        previous = last_nps.get(customer.pk)
        if previous is not None and fact.first_solved_at - previous < timedelta(days=nps_period_days):  # type: ignore[operator]
            continue
        if rng.random() < NPS_ANSWERED:
            at = fact.first_solved_at + timedelta(hours=2 + 70 * rng.random())
            if at <= now_at:
                last_nps[customer.pk] = fact.first_solved_at
                score = rng.choices(range(11), weights=(1, 1, 1, 1, 2, 3, 4, 8, 14, 18, 16))[0]
                # A few answered the customer survey in the portal, about the service, not a ticket.
                answer(SurveyKind.NPS, score, None if rng.random() < 0.15 else fact, customer, at,
                       SurveySource.PORTAL if rng.random() < 0.15 else SurveySource.EMAIL)
    SurveyResponse.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


# --- metrics ------------------------------------------------------------------------------------

def compute_metrics(progress: Callable[[str], None] = lambda _m: None) -> tuple[int, bool]:
    """Facts of every ticket, then the rollups (when metrics.rollups exists); returns (facts, rolled up)."""
    from metrics.models import TicketFact
    from metrics.services import ticket_facts_refresh_created_between

    ticket_facts_refresh_created_between()
    facts = TicketFact.objects.count()
    try:
        from metrics.rollups import rollups_rebuild  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        progress("Metrics: rollups not available yet; facts only.")
        return facts, False
    rollups_rebuild()
    return facts, True


# --- the whole step -------------------------------------------------------------------------------

def _marker() -> dict | None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (key text PRIMARY KEY, value jsonb NOT NULL)")
        cursor.execute(f"SELECT value FROM {STATE_TABLE} WHERE key = %s", [STATE_KEY])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])


def history_present() -> bool:
    """Whether this database has the demo metrics history (`make run` adds it to older demo data)."""
    return _marker() is not None


def seed_metrics_history(
    *, days: int = DEFAULT_DAYS, tickets: int | None = None, seed_value: int = 0, now: float | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> HistoryResult:
    """Write the metrics history once per database (skipped when present), then compute the metrics.

    Needs the demo base data (tickets.demo.base.ensure_base_data). `tickets` defaults to
    TICKETS_PER_DAY × days.
    """
    started = time.monotonic()
    if days <= 0:
        return HistoryResult(0, 0, 0, 0, False, 0.0, skipped=True)
    if _marker() is not None:
        return HistoryResult(0, 0, 0, 0, False, time.monotonic() - started, skipped=True)
    count = tickets if tickets is not None else TICKETS_PER_DAY * days
    now_value = now if now is not None else timezone.now().timestamp()
    pool = customer_pool_size(count)
    # Realtime, mail and notifications stay off until after the commit: their callbacks run then.
    with override_settings(CHANNEL_LAYERS={}, HELPDESK_EMAIL_REPLIES=False, HELPDESK_AGENT_NOTIFICATIONS=False,
                           HELPDESK_SLA_TIMERS=True), transaction.atomic():
        ensure_customers(pool, ensure_organizations())
        demo = catalog(tickets=count, now=now_value)
        if ensure_portal_customers(demo.customers, PORTAL_CUSTOMERS):
            demo = catalog(tickets=count, now=now_value)
        # Its own message ids for email (the year of history's are `<token>.<index>...` too).
        demo = replace(demo, run_token=f"h{demo.run_token}")
        portal = [customer for customer in demo.customers if customer.user_id]
        policies = Policies()
        tiers = dict(Customer.objects.filter(pk__in=[c.id for c in demo.customers]).values_list("pk", "tier"))
        plans = plan_history(demo, days=days, tickets=count, seed=seed_value, portal_customers=portal,
                             policies=policies, tiers=tiers)
        progress(f"Metrics history: writing {len(plans):,} tickets of the last {days} days.")
        through_services, copied = split_plans(plans, policies)
        timers = write_with_copy(copied, policies)
        progress(f"Metrics history: {len(copied):,} tickets copied with {timers:,} SLA timers "
                 f"({time.monotonic() - started:.1f} s).")
        write_through_services(through_services)
        written = time.monotonic() - started
        progress(f"Metrics history: tickets written in {written:.1f} s; computing the metrics.")
        facts, rolled_up = compute_metrics(progress)
        surveys = seed_surveys(seed=seed_value, now=now_value)
        merged = sum(1 for plan in plans if plan.ops and plan.ops[-1][0] == MERGE)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {STATE_TABLE} (key, value) VALUES (%s, %s)",  # noqa: S608
                [STATE_KEY, json.dumps({"days": days, "tickets": len(plans), "seed": seed_value, "now": now_value})],
            )
    return HistoryResult(len(plans), merged, surveys, facts, rolled_up, time.monotonic() - started)
