"""The triggers benchmark (issue 9): ticket creation throughput with 50 active triggers versus none.

    .venv/bin/python bench/run.py --only rules                       # 6 rounds of 400 tickets
    .venv/bin/python bench/run.py --only rules --rules-tickets 100   # a smoke run

Data: its own database (`helpdesk_bench_rules`, migrated; the tickets of earlier runs deleted first),
one team (manual assignment, so only the triggers differ), 200 customers in 4 organizations (one
enterprise tier), and 50 triggers like a support team's (tickets.rules): 40 that a typical new
ticket does not match (keywords in the subject, sender domains, other channels, VIP tags, SLA and
escalation states, message regexes …) and 10 that match some or all tickets (tag web-form tickets,
raise the priority of refunds and outages, tag order numbers found in the message, tag the
enterprise tier, add an internal note to legal mail …): the engine evaluates all 50 for every new
ticket and runs the actions of the matching ones, each with its audit event and execution log row.

Measured, in process (what the web-form view and the intake call): `tickets.services.ticket_create`
one ticket after another, each in its own transaction, with the on-commit work (realtime
broadcast, metrics scheduling) included. Rounds alternate between the triggers deactivated and
active, so drift of a shared machine falls on both; the figure is the median throughput of each
arm's rounds, and the ratio of the medians (target: ≥ 0.7).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench import database, report

RULES_DATABASE = "helpdesk_bench_rules"
RULES_REDIS_DB = 56
TICKETS_PER_ROUND = 400
ROUNDS = 6  # alternating: none, 50, none, 50 …
TRIGGERS = 50
TARGET_RATIO = 0.7
TEAM_SLUG = "bench-rules"
RULE_PREFIX = "Bench trigger"

SUBJECTS = [
    "Cannot log in after password reset", "Refund for order #{order}", "Invoice {order} shows the wrong VAT",
    "Sync error on Linux after update", "How do I export my data?", "The app crashes when I upload a photo",
    "Outage: dashboard not loading", "Change the billing address", "退款申请 订单 {order}", "無法登入帳戶",
]
BODIES = [
    "Hello, since this morning I cannot do it. Order {order}. Thanks!",
    "Hi team,\n\nplease see the subject. It started yesterday.\n\nBest regards",
    "您好，我的订单 {order} 还没有发货，请帮忙查一下。",
    "We need this fixed today, our legal department is asking.",
]


@dataclass
class Options:
    tickets_per_round: int = TICKETS_PER_ROUND
    rounds: int = ROUNDS


@dataclass
class Result:
    tickets_per_round: int
    rounds: int
    triggers: int
    per_round: list[tuple[str, float]] = field(default_factory=list)  # (arm, tickets/s)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    fired_per_ticket: float = 0.0
    rule_runs: int = 0
    loads: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _condition(field_key: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field_key, "operator": operator, "value": value}


def trigger_definitions(team_id: int) -> list[dict[str, Any]]:
    """The 50 triggers: (name, events, conditions, actions). 40 miss a typical new ticket, 10 hit some."""
    created = ["created"]
    misses: list[tuple[list[str], dict[str, Any], list[dict[str, Any]]]] = []
    keywords = ["gdpr", "chargeback", "lawsuit", "partnership", "press", "security breach", "phishing", "api key",
                "sso", "saml", "invoice dispute", "wire transfer", "reseller", "donation"]
    for keyword in keywords:
        misses.append((created, {"all": [_condition("ticket.subject", "contains", keyword)], "any": []},
                       [{"type": "add_tags", "value": [keyword.replace(" ", "-")]}]))
    for domain in ("@bigcorp.example", "@gov.example", "@press.example", "@partner.example", "@school.example"):
        misses.append((created, {"all": [_condition("requester.email", "contains", domain)], "any": []},
                       [{"type": "set_priority", "value": "high"}]))
    for channel in ("phone", "chat", "api"):
        misses.append((created, {"all": [_condition("ticket.channel", "is", channel),
                                         _condition("ticket.priority", "is", "urgent")], "any": []},
                       [{"type": "add_tags", "value": [f"urgent-{channel}"]}]))
    for tag in ("vip", "beta", "churn-risk", "partner"):
        misses.append((["created", "updated"], {"all": [_condition("ticket.tags", "includes_any", [tag])], "any": []},
                       [{"type": "set_priority", "value": "high"}]))
    for pattern in (r"\bCVE-\d{4}-\d+\b", r"\bIBAN\b", r"(?i)\bcancel my account\b", r"\bDUNS\s*\d{9}\b"):
        misses.append((created, {"all": [_condition("message.text", "matches", pattern)], "any": []},
                       [{"type": "add_tags", "value": ["pattern-hit"]}]))
    misses.append((["updated"], {"all": [_condition("ticket.status", "changed_to", "solved")], "any": []},
                   [{"type": "add_tags", "value": ["was-solved"]}]))
    misses.append((["customer_replied"], {"all": [_condition("ticket.status", "is", "pending")], "any": []},
                   [{"type": "add_tags", "value": ["replied-while-pending"]}]))
    misses.append((created, {"all": [_condition("ticket.escalation_level", "gt", 0)], "any": []},
                   [{"type": "add_tags", "value": ["escalated"]}]))
    misses.append((created, {"all": [_condition("requester.language", "is", "ja")], "any": []},
                   [{"type": "add_tags", "value": ["japanese"]}]))
    misses.append((created, {"all": [_condition("ticket.type", "is", "problem")], "any": []},
                   [{"type": "add_tags", "value": ["problem"]}]))
    misses.append((created, {"all": [], "any": [_condition("ticket.subject", "contains", "urgent!!!"),
                                                _condition("ticket.subject", "contains", "ASAP!!!")]},
                   [{"type": "set_priority", "value": "urgent"}]))
    misses.append((["agent_replied"], {"all": [_condition("ticket.tags", "includes_all", ["refund", "approved"])],
                                       "any": []}, [{"type": "remove_tags", "value": ["refund"]}]))
    misses.append((created, {"all": [_condition("ticket.reopen_count", "gt", 2)], "any": []},
                   [{"type": "add_tags", "value": ["reopened-often"]}]))
    hits: list[tuple[list[str], dict[str, Any], list[dict[str, Any]]]] = [
        (created, {"all": [_condition("ticket.channel", "is", "web")], "any": []},
         [{"type": "add_tags", "value": ["web-form"]}]),
        (created, {"all": [], "any": [_condition("ticket.subject", "contains", "refund"),
                                      _condition("ticket.subject", "contains", "退款")]},
         [{"type": "set_priority", "value": "high"}, {"type": "add_tags", "value": ["refund"]}]),
        (created, {"all": [_condition("ticket.subject", "contains", "outage")], "any": []},
         [{"type": "set_priority", "value": "urgent"}, {"type": "add_tags", "value": ["outage"]}]),
        (created, {"all": [_condition("message.text", "matches", r"\b\d{6}\b")], "any": []},
         [{"type": "add_tags", "value": ["has-order-number"]}]),
        (created, {"all": [_condition("requester.tier", "is", "enterprise")], "any": []},
         [{"type": "add_tags", "value": ["enterprise"]}]),
        (created, {"all": [_condition("message.text", "contains", "legal")], "any": []},
         [{"type": "add_note", "body": "Legal mentioned by {{ requester.name }}: check with the legal team."}]),
        (created, {"all": [_condition("ticket.priority", "is", "urgent")], "any": []},
         [{"type": "add_tags", "value": ["page-on-call"]}]),
        (created, {"all": [_condition("ticket.subject", "contains", "invoice")], "any": []},
         [{"type": "set_type", "value": "task"}]),
        (created, {"all": [_condition("ticket.team", "is", str(team_id))], "any": []},
         [{"type": "add_tags", "value": ["bench"]}]),
        (created, {"all": [_condition("ticket.tags", "includes_any", ["refund"]),
                           _condition("ticket.priority", "is", "high")], "any": []},
         [{"type": "add_tags", "value": ["refund-review"]}]),
    ]
    definitions = []
    for number, (events, conditions, actions) in enumerate([*misses, *hits][:TRIGGERS], start=1):
        definitions.append({"name": f"{RULE_PREFIX} {number:02d}", "events": events, "conditions": conditions,
                            "actions": actions, "position": number})
    return definitions


def _fixtures() -> dict[str, Any]:
    from tickets.models import Customer, Organization, Rule, RuleKind, Team
    from tickets.rules.engine import rules_changed
    from tickets.rules.vocabulary import validate_actions, validate_conditions

    team, _ = Team.objects.get_or_create(slug=TEAM_SLUG, defaults={"name": "Bench Rules"})
    organizations = [Organization.objects.get_or_create(name=f"Bench Rules Org {n}")[0] for n in range(4)]
    customers = []
    for number in range(200):
        customer, _ = Customer.objects.get_or_create(
            email=f"bench-rules-{number}@customers.example",
            defaults={"name": f"Customer {number}", "organization": organizations[number % 4],
                      "tier": Customer.Tier.ENTERPRISE if number % 4 == 0 else Customer.Tier.STANDARD},
        )
        customers.append(customer)
    Rule.objects.filter(name__startswith=RULE_PREFIX).delete()
    for definition in trigger_definitions(team.pk):
        Rule.objects.create(
            kind=RuleKind.TRIGGER, name=definition["name"], events=definition["events"], is_active=False,
            conditions=validate_conditions(definition["conditions"]), actions=validate_actions(definition["actions"]),
            position=definition["position"],
        )
    rules_changed()
    return {"team": team, "customers": customers}


def _set_active(active: bool) -> None:
    from tickets.models import Rule
    from tickets.rules.engine import rules_changed

    Rule.objects.filter(name__startswith=RULE_PREFIX).update(is_active=active)
    rules_changed()


def _clean(url: str) -> None:
    with database._connect(url, autocommit=True) as connection:
        connection.execute("TRUNCATE tickets_ticket CASCADE")
        connection.execute("VACUUM ANALYZE")


def _round(fixtures: dict[str, Any], *, tickets: int, rng: random.Random) -> tuple[float, list[float]]:
    from tickets.models import Channel
    from tickets.services import ticket_create

    latencies = []
    started = time.perf_counter()
    for _ in range(tickets):
        order = rng.randint(100000, 999999)
        subject = rng.choice(SUBJECTS).format(order=order)
        body = rng.choice(BODIES).format(order=order)
        requester = rng.choice(fixtures["customers"])
        one = time.perf_counter()
        ticket_create(requester=requester, subject=subject, body_text=body, channel=Channel.WEB,
                      team=fixtures["team"])
        latencies.append(1000 * (time.perf_counter() - one))
    return tickets / (time.perf_counter() - started), latencies


def run(*, url: str, env: dict[str, str], options: Options, say: Callable[[str], None]) -> Result:
    from django.conf import settings

    from tickets.models import RuleRun, Ticket

    database.ensure_database(url)
    say("Migrating the rules bench database.")
    database.manage(env, "migrate", "-v0")
    _clean(url)
    fixtures = _fixtures()
    settings.HELPDESK_EMAIL_REPLIES = False
    result = Result(tickets_per_round=options.tickets_per_round, rounds=options.rounds, triggers=TRIGGERS,
                    latencies_ms={"none": [], "50": []})
    result.loads["before"] = database.load_average()
    rng = random.Random(9)
    say("Warming up (50 tickets each way).")
    for active in (False, True):
        _set_active(active)
        _round(fixtures, tickets=50, rng=rng)
    runs_before = RuleRun.objects.count()
    tickets_with_triggers = 0
    for number in range(options.rounds):
        arm = "none" if number % 2 == 0 else "50"
        _set_active(arm == "50")
        rate, latencies = _round(fixtures, tickets=options.tickets_per_round, rng=rng)
        if arm == "50":
            tickets_with_triggers += options.tickets_per_round
        result.per_round.append((arm, rate))
        result.latencies_ms[arm] += latencies
        say(f"  round {number + 1}: {'50 triggers' if arm == '50' else 'no triggers'}: {rate:,.1f} tickets/s")
    result.rule_runs = RuleRun.objects.count() - runs_before
    result.fired_per_ticket = result.rule_runs / max(1, tickets_with_triggers)
    result.loads["at the end"] = database.load_average()
    _set_active(False)
    say(f"Tickets now: {Ticket.objects.count():,}.")
    return result


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else float("nan")


def render(result: Result, *, command: str, pg: dict[str, str]) -> str:
    box = report.machine()
    when = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    none = _median([rate for arm, rate in result.per_round if arm == "none"])
    fifty = _median([rate for arm, rate in result.per_round if arm == "50"])
    ratio = fifty / none if none else float("nan")
    met = "met" if ratio >= TARGET_RATIO else "NOT met"
    rows = [
        ["no active triggers", f"{none:,.1f}", f"{_median(result.latencies_ms['none']):.1f}",
         f"{_p95(result.latencies_ms['none']):.1f}", "1.00"],
        [f"{result.triggers} active triggers", f"{fifty:,.1f}", f"{_median(result.latencies_ms['50']):.1f}",
         f"{_p95(result.latencies_ms['50']):.1f}", f"{ratio:.2f}"],
    ]
    lines = [
        f"## Ticket creation with {result.triggers} triggers — {when}",
        "",
        f"Command: `{command}`. Database `{RULES_DATABASE}`; {result.rounds} alternating rounds of "
        f"{result.tickets_per_round:,} web tickets created through `ticket_create` in process (one transaction "
        f"each, on-commit work included); the 50 triggers are in bench/rules.py (40 miss a typical ticket, 10 hit "
        f"some); they fired {result.fired_per_ticket:.1f} times per ticket on average ({result.rule_runs:,} "
        "execution-log rows).",
        "",
        f"Machine: {box['nproc']} CPUs ({box['cpu']}), {box['memory']}, Python {box['python']}, PostgreSQL "
        f"{pg.get('server_version', '?')} (fsync {pg.get('fsync', '?')}, synchronous_commit "
        f"{pg.get('synchronous_commit', '?')}). **The machine is shared with other sessions**: load average "
        + "; ".join(f"{when_}: {load}" for when_, load in result.loads.items()) + ".",
        "",
        report.markdown_table(["arm", "median tickets/s (of rounds)", "median ms/ticket", "p95 ms/ticket",
                               "ratio to none"], rows),
        "",
        "Rounds: " + ", ".join(f"{'50' if arm == '50' else 'none'} {rate:,.1f}/s" for arm, rate in result.per_round)
        + ".",
        "",
        f"Target (issue 9): throughput with 50 active triggers ≥ {TARGET_RATIO} of none — **{met}** "
        f"(ratio {ratio:.2f}).",
        "",
    ]
    return "\n".join(lines)
