"""The ticket generator: the history of each demo ticket as a plan of timed operations.

A plan says what happened to a ticket and when (created by whom, assigned, replies, notes, status
changes, the automatic close), never how it is stored. Two writers replay plans: `replay` through
the ticket services (small demos), `bulk` with COPY (millions of tickets), so both produce the same
rows. Plans are deterministic for a (catalog, seed, start, count).

Tickets are spread over the year before `catalog.now` with more on weekdays and working hours and a
growing volume; operations that would happen after `now` have not happened yet, which is what
leaves recent tickets new, open or pending and old ones solved or closed.
"""

from __future__ import annotations

import math
import random
import time
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any

from tickets.demo import content
from tickets.demo.base import Catalog, CustomerRef
from tickets.demo.content import EN, ZH_HANS

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

# Operations: tuples whose first two items are the kind and the time (epoch microseconds).
ASSIGN = "assign"  # (ASSIGN, at, actor_id, assignee_id)
REPLY = "reply"  # (REPLY, at, agent_id, text, status_or_None): a public agent reply
CUSTOMER = "customer"  # (CUSTOMER, at, text, external_id): a public reply from the requester
NOTE = "note"  # (NOTE, at, agent_id, text): an internal note
STATUS = "status"  # (STATUS, at, actor_id_or_None, status, via): a status change without a message
PRIORITY = "priority"  # (PRIORITY, at, agent_id, priority)
TAG = "tag"  # (TAG, at, agent_id, tag)

CHANNEL_WEIGHTS = {"email": 40, "web": 30, "chat": 15, "phone": 8, "api": 7}
PRIORITY_WEIGHTS = {"low": 15, "normal": 60, "high": 20, "urgent": 5}
# Median first-response delay by priority, in seconds.
FIRST_RESPONSE_MEDIAN = {"urgent": 15 * MINUTE, "high": 45 * MINUTE, "normal": 150 * MINUTE, "low": 6 * HOUR}
STORY_WEIGHTS = {
    "quick": 34,  # answered and solved in one reply
    "info": 30,  # the agent asks, the customer answers, the agent solves
    "note_info": 14,  # the same with an internal note first
    "reopen": 8,  # solved, the customer says it still fails, solved again
    "silent": 6,  # the agent asks, the customer never answers, the agent solves it later
    "on_hold": 5,  # waits on engineering for days
    "stale": 1.5,  # the agent asks, nobody ever closes it
    "unanswered": 0.5,  # fell through the cracks
}
AMOUNTS = {EN: ("$49.00", "$99.00", "$240.00", "$1,188.00"), ZH_HANS: ("¥299.00", "¥699.00", "¥1,980.00"),
           content.ZH_HANT: ("NT$990", "NT$2,490", "NT$8,800")}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def moment(epoch_microseconds: int) -> datetime:
    """The aware datetime both writers store for a plan time (integer microseconds: exact)."""
    return EPOCH + timedelta(microseconds=epoch_microseconds)


@dataclass(slots=True)
class TicketPlan:
    """A ticket's history. Times are integer microseconds since the epoch."""

    index: int
    created_at: int
    requester_id: int
    requester_user_id: int | None
    organization_id: int | None
    subject: str
    body: str
    channel: str
    team_id: int
    priority: str
    ticket_type: str
    tags: list[str]
    custom_fields: dict[str, str]
    # The agent who logged it (phone, API) and who holds it from the start (phone); None otherwise.
    creator_id: int | None
    assignee_id: int | None
    external_id: str
    ops: list[tuple]


class Timeline:
    """Maps a quantile in [0, 1) to a creation time: weekdays and working hours are busier."""

    def __init__(self, now: float, days: int = 365) -> None:
        end = now - 10 * MINUTE
        self.start = math.floor((end - days * DAY) / HOUR) * HOUR
        buckets = int((end - self.start) // HOUR)
        self.cumulative: list[float] = []
        total = 0.0
        for bucket in range(buckets):
            when = datetime.fromtimestamp(self.start + bucket * HOUR, tz=UTC)
            hour = when.hour
            # Working hours in China (01-10 UTC), Europe (08-17) and the Americas (14-23).
            daily = 0.25 + sum(
                height * math.exp(-(((hour - centre + 12) % 24 - 12) ** 2) / 8.0)
                for centre, height in ((5, 1.0), (12, 0.6), (18, 0.8))
            )
            weekly = (1.0, 1.0, 1.0, 1.0, 0.95, 0.45, 0.35)[when.weekday()]
            growth = 0.75 + 0.25 * bucket / buckets
            total += daily * weekly * growth
            self.cumulative.append(total)
        self.total = total

    def at(self, quantile: float) -> float:
        target = quantile * self.total
        bucket = min(bisect_right(self.cumulative, target), len(self.cumulative) - 1)
        previous = self.cumulative[bucket - 1] if bucket else 0.0
        fraction = (target - previous) / (self.cumulative[bucket] - previous)
        return self.start + (bucket + min(max(fraction, 0.0), 0.999)) * HOUR


@lru_cache(maxsize=4)
def timeline_for(now: float) -> Timeline:
    return Timeline(now)


def demo_customer_indexes(total: int) -> dict[int, str]:
    """Which ticket indexes belong to the demo customer login, and the story each tells."""
    picks = {
        total - 1: "info", total - 3: "reopen", total - 9: "quick", int(total * 0.97): "note_info",
        int(total * 0.8): "reopen", int(total * 0.5): "info", int(total * 0.2): "quick", int(total * 0.02): "info",
    }
    return {index: story for index, story in picks.items() if 0 <= index < total}


class Weighted:
    """A weighted choice, precomputed (random.choices rebuilds its tables on every call)."""

    __slots__ = ("keys", "cumulative", "total")

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.keys = list(weights)
        self.cumulative = list(accumulate(weights.values()))
        self.total = self.cumulative[-1]

    def pick(self, random_value: float) -> str:
        return self.keys[bisect_right(self.cumulative, random_value * self.total)]


CATEGORY_CHOICE = Weighted({name: category["weight"] for name, category in content.CATEGORIES.items()})
CHANNEL_CHOICE = Weighted(CHANNEL_WEIGHTS)
PRIORITY_CHOICE = Weighted(PRIORITY_WEIGHTS)
STORY_CHOICE = Weighted(STORY_WEIGHTS)
ASKING_STORIES = frozenset({"info", "note_info", "silent", "stale"})
MAIL_DOMAIN = "mail.demo.example"
MICRO = 1_000_000


def _pick(random_value: float, items: tuple | list) -> Any:
    return items[int(random_value * len(items))]


def _placeholders(rng: random.Random, language: str, year: int) -> dict[str, str]:
    r = rng.random
    tracking = f"SF{int(r() * 1e12):012d}" if language == ZH_HANS else f"1Z{int(r() * 2.0**52):013X}"
    return {
        "order": f"SO-{100000 + int(r() * 900000)}",
        "amount": _pick(r(), AMOUNTS[language]),
        "invoice": f"INV-{year}-{1000 + int(r() * 9000)}",
        "device": _pick(r(), content.DEVICES),
        "plan": _pick(r(), content.PLANS),
        "version": _pick(r(), content.VERSIONS),
        "tracking": tracking,
    }


def _delay(rng: random.Random, median: float, spread: float = 0.9, cap: float = 4 * DAY) -> float:
    return min(median * math.exp(rng.gauss(0.0, spread)), cap)


class _Story:
    """Collects one ticket's operations, each strictly (≥ 1 s) after the previous one."""

    __slots__ = ("ops", "clock")

    def __init__(self, start: float) -> None:
        self.ops: list[tuple] = []
        self.clock = start

    def add(self, kind: str, at: float, *args: object) -> float:
        """Add an operation at `at` (epoch seconds, moved later if needed); returns its time."""
        at = max(at, self.clock + 1.0)
        self.ops.append((kind, int(at * MICRO), *args))
        self.clock = at
        return at


def plan_ticket(
    rng: random.Random, catalog: Catalog, *, index: int, created_at: float, requester: CustomerRef,
    story: str | None = None,
) -> TicketPlan:
    """One ticket's plan; `created_at` in epoch seconds."""
    r = rng.random
    language = requester.language if requester.language in content.LANGUAGES else EN
    category_name = CATEGORY_CHOICE.pick(r())
    category = content.CATEGORIES[category_name]
    texts = category[language]
    team_id = catalog.team_ids[category["team"]]
    agents = catalog.team_agents[team_id]
    lead_id = catalog.team_leads.get(team_id)
    channel = "web" if requester.user_id else CHANNEL_CHOICE.pick(r())
    priority = PRIORITY_CHOICE.pick(r())
    values = _placeholders(rng, language, time.gmtime(created_at).tm_year)
    name = requester.greeting_name
    greetings, agent_sign_offs = content.GREETINGS[language], content.AGENT_SIGN_OFFS[language]
    customer_sign_offs = content.CUSTOMER_SIGN_OFFS[language]

    def agent_text(agent_id: int, body: str) -> str:
        greeting = _pick(r(), greetings).format(name=name)
        sign_off = _pick(r(), agent_sign_offs).format(agent=catalog.agent_names[agent_id])
        return f"{greeting}\n\n{body.format_map(values)}\n\n{sign_off}"

    def customer_text(body: str, opening: str = "") -> str:
        sign_off = _pick(r(), customer_sign_offs).format(name=name)
        return f"{opening}{body.format_map(values)}\n\n{sign_off}"

    subject_index, opening_index, ask_index, info_index, solution_index = _pick(r(), category["threads"])
    subject = " ".join(texts["subjects"][subject_index].format_map(values).split())
    greeting = "" if channel == "chat" else _pick(r(), content.CUSTOMER_GREETINGS[language]) + "\n\n"
    body = customer_text(texts["openings"][opening_index], greeting)
    solution = texts["solutions"][solution_index]
    tags = list(category["tags"])
    if r() < 0.25:
        tags.append(_pick(r(), category["extra_tags"]))
    custom_fields: dict[str, str] = {}
    field_keys = catalog.custom_field_keys
    if "plan" in field_keys and r() < 0.7:
        custom_fields["plan"] = values["plan"]
    if "order_number" in field_keys and category_name in ("billing", "shipping"):
        custom_fields["order_number"] = values["order"]
    if "device" in field_keys and category_name in ("bug", "login"):
        custom_fields["device"] = values["device"]

    agent = _pick(r(), agents)
    creator = assignee = None
    if channel == "phone":
        creator = assignee = agent
    elif channel == "api":
        creator = _pick(r(), agents)
    external_id = f"<{catalog.run_token}.{index}.0@{MAIL_DOMAIN}>" if channel == "email" else ""

    if story is None:
        story = "quick" if channel == "chat" and r() < 0.7 else STORY_CHOICE.pick(r())
    if ask_index is None and story in ASKING_STORIES:
        story = "quick"
    median = FIRST_RESPONSE_MEDIAN[priority] if channel != "chat" else 3 * MINUTE
    first_response = created_at + max(_delay(rng, median, cap=3 * DAY), 2 * MINUTE)
    agent_median = FIRST_RESPONSE_MEDIAN[priority] * 1.5
    plan_ops = _Story(created_at)
    add = plan_ops.add
    customer_messages = 0

    def customer_reply(at: float, text: str) -> None:
        nonlocal customer_messages
        customer_messages += 1
        reply_id = f"<{catalog.run_token}.{index}.{customer_messages}@{MAIL_DOMAIN}>" if channel == "email" else ""
        add(CUSTOMER, at, customer_text(text), reply_id)

    if story != "unanswered":
        if assignee is None:
            assigned_at = created_at + (first_response - created_at) * (0.3 + 0.6 * r())
            actor = lead_id if lead_id and lead_id != agent and r() < 0.25 else agent
            add(ASSIGN, assigned_at, actor, agent)
        if priority in ("low", "normal") and r() < 0.04:
            add(PRIORITY, plan_ops.clock + 30, agent, "high" if r() < 0.7 else "urgent")
        if story == "note_info":
            add(NOTE, first_response - 60 - 540 * r(), _pick(r(), agents), _pick(r(), content.NOTES).format_map(values))
        solved_at = None
        if story == "quick":
            solved_at = add(REPLY, first_response, agent, agent_text(agent, solution), "solved")
        elif story in ASKING_STORIES:
            add(REPLY, first_response, agent, agent_text(agent, texts["asks"][ask_index]), "pending")
            if story == "silent":
                solved_at = add(STATUS, plan_ops.clock + (3 + 4 * r()) * DAY, agent, "solved", "web")
            elif story != "stale":
                customer_reply(plan_ops.clock + _delay(rng, 5 * HOUR, cap=3 * DAY), texts["infos"][info_index])
                solved_at = add(REPLY, plan_ops.clock + _delay(rng, agent_median), agent,
                                agent_text(agent, solution), "solved")
        elif story == "reopen":
            add(REPLY, first_response, agent, agent_text(agent, solution), "solved")
            days = 0.1 + (max(catalog.auto_close_days * 0.8, 0.2) - 0.1) * r()
            customer_reply(plan_ops.clock + days * DAY, _pick(r(), content.REOPENINGS[language]))
            solved_at = add(REPLY, plan_ops.clock + _delay(rng, agent_median), agent,
                            agent_text(agent, _pick(r(), content.FOLLOW_UP_SOLUTIONS[language])), "solved")
        elif story == "on_hold":
            add(REPLY, first_response, agent, agent_text(agent, _pick(r(), content.ON_HOLD_REPLIES[language])),
                "on_hold")
            solved_at = add(REPLY, plan_ops.clock + (2 + 18 * r()) * DAY, agent, agent_text(agent, solution), "solved")
        if r() < 0.1:
            # A tag added while working on it, halfway between the first reply and what follows.
            tag = _pick(r(), category["extra_tags"])
            ops = plan_ops.ops
            position = next((i for i, op in enumerate(ops) if op[0] in (REPLY, STATUS)), None)
            if tag not in tags and position is not None:
                replied_at = ops[position][1]
                following = ops[position + 1][1] if position + 1 < len(ops) else replied_at + 2 * MICRO
                if following - replied_at > 2:
                    ops.insert(position + 1, (TAG, (replied_at + following) // 2, agent, tag))
        if solved_at is not None:
            add(STATUS, solved_at + catalog.auto_close_days * DAY + HOUR * r(), None, "closed", "auto_close")

    # What would happen after `now` has not happened yet.
    now = int(catalog.now * MICRO)
    ops = plan_ops.ops
    for position, op in enumerate(ops):
        if op[1] > now:
            ops = ops[:position]
            break
    return TicketPlan(
        index=index, created_at=int(created_at * MICRO), requester_id=requester.id,
        requester_user_id=requester.user_id, organization_id=requester.organization_id, subject=subject, body=body,
        channel=channel, team_id=team_id, priority=priority, ticket_type=category["type"], tags=tags,
        custom_fields=custom_fields, creator_id=creator, assignee_id=assignee, external_id=external_id, ops=ops,
    )


def plan_tickets(catalog: Catalog, *, start: int, count: int, total: int, seed: int = 0) -> list[TicketPlan]:
    """Plans of tickets start … start+count-1 out of `total`, oldest first."""
    rng = random.Random(f"{seed}:{start}:{count}:{total}")
    timeline = timeline_for(catalog.now)
    demo = demo_customer_indexes(total)
    customers = catalog.customers
    size = len(customers)
    plans = []
    for index in range(start, min(start + count, total)):
        created_at = timeline.at((index + 0.5) / total)
        story = demo.get(index)
        requester = catalog.demo_customer if story is not None else customers[int(size * rng.random() ** 1.5)]
        plans.append(plan_ticket(rng, catalog, index=index, created_at=created_at, requester=requester, story=story))
    return plans
