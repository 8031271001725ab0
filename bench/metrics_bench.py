"""The metrics benchmark (issue 8): full recompute, incremental rollups and the dashboard API over
1,000,000 tickets.

    .venv/bin/python bench/run.py --only metrics                          # 1,000,000 tickets
    .venv/bin/python bench/run.py --only metrics --metrics-tickets 20000  # a smoke run

Data: its own database (`helpdesk_bench_metrics`, or `helpdesk_bench_metrics_<N>` for other sizes;
Redis database 10), written with COPY (text format, psycopg 3 `cursor.copy`) and reused while its
marker table says it holds this seed version and size. Over 730 days ending at seeding time:
8 teams of 12 agents (one of them the team's lead), a manager, 2,000 organizations, 100,000
customers (60 % in an organization, a few organizations much larger than the rest), 1,000,000
tickets (email 45 %, web 25 %, chat 15 %, phone 10 %, API 5 %; low 15 %, normal 60 %, high 20 %,
urgent 5 %; fewer at weekends), about 3 messages each (the customer's first message, public
agent replies, customer follow-ups), and the audit events the facts are computed from: `created`,
`assignee_changed`, `reply_added` (agent and customer), `status_changed` (new→open, →solved with
to_value '"solved"', solved→closed), `reopened` (with its solved→open change) and `merged_into`
(1 % of tickets, merged into an earlier one). First response and resolution times are log-normal
(medians about 2 h and 1 day); 95 % of tickets older than two weeks and 99.5 % of those older
than two months are solved (a backlog of about ten days of volume). High and urgent
tickets fall under one SLA policy with an office-hours calendar (Asia/Shanghai, Mon–Fri
09:00–18:00), so a quarter of the facts have business-hours durations of their own, and have
first-response and resolution SLA timers. About 200,000 survey answers (CSAT 65 %, NPS 20 %,
CES 15 %) follow solves, with the ticket's dimensions copied.

Measured (see `run`): seeding, the full recompute (`ticket_facts_refresh_created_between` then
`rollups_rebuild`, once per seeding), incremental refreshes of 10,000 changed tickets (an agent
reply and a solve each, then the same taken back), the dashboard API and page over real HTTP
(gunicorn, a manager's session), and raw-SQL baselines.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench import database, report

METRICS_DATABASE = "helpdesk_bench_metrics"
METRICS_REDIS_DB = 10
TICKETS = 1_000_000
SEED_VERSION = 3
MARKER_TABLE = "bench_metrics_seed"
DAYS = 730
TEAMS = 8
AGENTS_PER_TEAM = 12
ORGANIZATIONS = 2_000
CUSTOMERS = 100_000
SURVEY_SHARE = 0.207  # of solved tickets answer a survey: about 200,000 of 1,000,000 tickets
CHUNK = 25_000  # tickets per COPY transaction
NULL = "\\N"
BULK_TABLES = ("tickets_ticket", "tickets_message", "tickets_event", "tickets_slatimer", "metrics_surveyresponse")

CHANNELS = (("email", 45), ("web", 25), ("chat", 15), ("phone", 10), ("api", 5))
PRIORITIES = (("low", 15), ("normal", 60), ("high", 20), ("urgent", 5))
TYPES = (("question", 55), ("incident", 25), ("problem", 10), ("task", 10))
SUBJECTS = (
    "Cannot sign in", "Refund for order", "Invoice is wrong", "Printer offline", "Password reset link expired",
    "Shipping delayed", "App crashes on start", "Change billing address", "发票抬头错误", "无法登录账户",
    "退款进度查询", "Two-factor code not arriving", "Upgrade plan", "Data export request", "订单未收到",
)
CUSTOMER_TEXTS = (
    "Hello, it still does not work after the update.", "Any news on this? I am waiting.",
    "Thanks, but the problem came back today.", "您好，问题还是没有解决，请尽快处理。", "Please see the attached screenshot.",
)
AGENT_TEXTS = (
    "Thanks for reaching out. Could you try signing out and in again?", "I have issued the refund; it takes 3-5 days.",
    "We fixed the configuration on our side; please check again.", "您好，已为您处理，请再试一次。",
    "I forwarded this to our billing team and will update you tomorrow.",
)
FIRST_TEXTS = (
    "I cannot log in since yesterday, it says my password is wrong.", "My invoice shows the wrong amount.",
    "The order I placed last week has not arrived.", "我的账户无法登录，提示密码错误。", "The app crashes when I open it.",
)


def say_nothing(_message: str) -> None:
    pass


def _weighted(pairs: tuple[tuple[str, int], ...]) -> list[str]:
    return [value for value, weight in pairs for _ in range(weight)]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Stamps:
    """Epoch seconds → COPY text of a timestamptz, with a cache of the date part (far faster than strftime)."""

    def __init__(self) -> None:
        self.days: dict[int, str] = {}

    def __call__(self, epoch: int) -> str:
        day, rest = divmod(epoch, 86_400)
        text = self.days.get(day)
        if text is None:
            text = self.days[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
        hour, rest = divmod(rest, 3600)
        minute, second = divmod(rest, 60)
        return f"{text} {hour:02d}:{minute:02d}:{second:02d}+00"


@dataclass
class People:
    team_ids: list[int]
    agents_by_team: dict[int, list[int]]
    manager_id: int
    organization_ids: list[int]
    customer_ids: list[int]
    customer_orgs: list[int | None]
    policy_id: int


@dataclass
class SeedCounts:
    tickets: int = 0
    messages: int = 0
    events: int = 0
    timers: int = 0
    surveys: int = 0


# --- seeding ------------------------------------------------------------------------------------------


def _people(url: str, *, say: Callable[[str], None]) -> People:
    """Teams, agents, the manager, organizations, customers, the office-hours calendar and SLA policy."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from tickets.models import AgentProfile, BusinessHours, Role, SlaPolicy, Team, TeamMembership, User

    now = timezone.now()
    teams = [Team.objects.create(name=f"Bench team {n + 1}", slug=f"bench-team-{n + 1}") for n in range(TEAMS)]
    agents_by_team: dict[int, list[int]] = {}
    for team_number, team in enumerate(teams):
        ids = []
        for n in range(AGENTS_PER_TEAM):
            lead = n == 0
            user = User.objects.create(
                username=f"bench-agent-{team_number + 1}-{n + 1}", email=f"bench-agent-{team_number + 1}-{n + 1}@example.com",
                display_name=f"Agent {team_number + 1}.{n + 1}", role=Role.TEAM_LEAD if lead else Role.AGENT,
                password=make_password(None), email_verified_at=now,
            )
            AgentProfile.objects.create(user=user)
            TeamMembership.objects.create(team=team, user=user, is_lead=lead)
            ids.append(user.pk)
        agents_by_team[team.pk] = ids
    manager = User.objects.create(username="bench-manager", email="bench-manager@example.com", role=Role.MANAGER,
                                  display_name="Bench Manager", password=make_password(None), email_verified_at=now)
    office = BusinessHours.objects.create(name="Bench office hours", timezone="Asia/Shanghai",
                                          weekly={str(day): ["09:00-18:00"] for day in range(5)})
    policy = SlaPolicy.objects.create(
        name="Bench high and urgent", position=0, priorities=["high", "urgent"], calendar=office,
        targets={"high": {"first_response": 240, "resolution": 1440}, "urgent": {"first_response": 60, "resolution": 480}},
    )
    rng = random.Random(81)  # noqa: S311 - test data
    say(f"  {TEAMS} teams, {TEAMS * AGENTS_PER_TEAM} agents, a manager; COPY {ORGANIZATIONS:,} organizations and "
        f"{CUSTOMERS:,} customers.")
    with database._connect(url) as connection, connection.cursor() as cursor:
        stamp = now.isoformat()
        with cursor.copy("COPY tickets_organization (name, domains, notes, created_at) FROM STDIN") as copy:
            copy.write("".join(f"Bench Org {n + 1}\t{{bench-org-{n + 1}.example}}\t\t{stamp}\n"
                               for n in range(ORGANIZATIONS)))
        organization_ids = [row[0] for row in cursor.execute("SELECT id FROM tickets_organization ORDER BY id")]
        customer_orgs: list[int | None] = []
        lines = []
        for n in range(CUSTOMERS):
            # Squared: a few organizations hold many customers, most only a handful.
            organization = organization_ids[int(ORGANIZATIONS * rng.random() ** 2)] if rng.random() < 0.6 else None
            customer_orgs.append(organization)
            tier = "enterprise" if organization and rng.random() < 0.3 else "premium" if rng.random() < 0.1 else "standard"
            lines.append(f"Customer {n + 1}\tcustomer{n + 1}@bench-metrics.example\t{{}}\tf\ten\tUTC\t{tier}\t{stamp}\t"
                         f"{organization if organization else NULL}\n")
        with cursor.copy("COPY tickets_customer (name, email, phone_numbers, sees_organization_tickets, language,"
                         " timezone, tier, created_at, organization_id) FROM STDIN") as copy:
            copy.write("".join(lines))
        customer_ids = [row[0] for row in cursor.execute("SELECT id FROM tickets_customer ORDER BY id")]
        connection.commit()
    return People([team.pk for team in teams], agents_by_team, manager.pk, organization_ids, customer_ids,
                  customer_orgs, policy.pk)


class Writer:
    """Generates one chunk of tickets with their messages, events, SLA timers and survey answers as COPY text."""

    def __init__(self, people: People, *, now: int, rng: random.Random, total: int) -> None:
        self.people = people
        self.total = total
        self.now = now
        self.start = now - DAYS * 86_400
        self.rng = rng
        self.ts = Stamps()
        self.channels = _weighted(CHANNELS)
        self.priorities = _weighted(PRIORITIES)
        self.types = _weighted(TYPES)
        # Team 1 the busiest, team 8 an eighth of it.
        self.team_cum_weights = list(itertools.accumulate(max(1, TEAMS - n) for n in range(TEAMS)))
        self.message_id = 0
        self.counts = SeedCounts()

    def chunk(self, first_id: int, count: int) -> tuple[list[str], list[str], list[str], list[str], list[str]]:
        tickets: list[str] = []
        messages: list[str] = []
        events: list[str] = []
        timers: list[str] = []
        surveys: list[str] = []
        for ticket_id in range(first_id, first_id + count):
            self._ticket(ticket_id, tickets, messages, events, timers, surveys)
        counts = self.counts
        counts.tickets += len(tickets)
        counts.messages += len(messages)
        counts.events += len(events)
        counts.timers += len(timers)
        counts.surveys += len(surveys)
        return tickets, messages, events, timers, surveys

    def _ticket(self, ticket_id: int, tickets: list[str], messages: list[str], events: list[str], timers: list[str],
                surveys: list[str]) -> None:
        rng, ts, people, now = self.rng, self.ts, self.people, self.now
        span = now - self.start
        # Tickets spread over the span (ids in time order, as they would be), fewer at weekends.
        created = self.start + int(span * (ticket_id - 1 + rng.random()) / self.total)
        if ((created // 86_400) + 3) % 7 >= 5 and rng.random() < 0.5:
            created += 2 * 86_400 if created + 2 * 86_400 < now else -2 * 86_400
        team = rng.choices(people.team_ids, cum_weights=self.team_cum_weights)[0]
        agents = people.agents_by_team[team]
        agent = rng.choice(agents)
        customer_index = rng.randrange(len(people.customer_ids))
        customer = people.customer_ids[customer_index]
        organization = people.customer_orgs[customer_index]
        channel = rng.choice(self.channels)
        priority = rng.choice(self.priorities)
        ticket_type = rng.choice(self.types)
        tid = str(ticket_id)
        status = "new"
        assignee: int | None = None
        first_responded = solved_at = closed_at = last_agent = None
        last_customer = created
        reopen_count = 0
        message_count = 0
        merged_into = NULL

        def event(at: int, kind: str, actor_kind: str, actor: int | None, via: str, field: str = "",
                  from_value: str = NULL, to_value: str = NULL) -> None:
            events.append(f"{tid}\t{kind}\t{actor_kind}\t{via}\t{field}\t{from_value}\t{to_value}\t{ts(at)}\t"
                          f"{NULL if actor is None else actor}\n")

        def message(at: int, author_kind: str, text: str, via: str, user: int | None) -> int:
            nonlocal message_count
            self.message_id += 1
            message_count += 1
            messages.append(
                f"{self.message_id}\t{author_kind}\tpublic\t<p>{_escape(text)}</p>\t{_escape(text)}\t{via}\t\t\t\t"
                f"{ts(at)}\t{customer if author_kind == 'customer' else NULL}\t{NULL if user is None else user}\t"
                f"{tid}\n"
            )
            return self.message_id

        def set_status(at: int, target: str, actor: int | None, actor_kind: str, via: str) -> None:
            nonlocal status
            event(at, "status_changed", actor_kind, actor, via, "status", f'"{status}"', f'"{target}"')
            status = target

        def agent_reply(at: int) -> None:
            nonlocal first_responded, last_agent
            message_id = message(at, "agent", rng.choice(AGENT_TEXTS), "web", assignee)
            event(at, "reply_added", "agent", assignee, "web", to_value=f'{{"message": {message_id}}}')
            first_responded = first_responded or at
            last_agent = at
            if status == "new":
                set_status(at, "open", assignee, "agent", "web")

        def customer_reply(at: int) -> None:
            nonlocal last_customer
            message_id = message(at, "customer", rng.choice(CUSTOMER_TEXTS), channel, None)
            event(at, "reply_added", "customer", None, channel, to_value=f'{{"message": {message_id}}}')
            last_customer = at

        message(created, "customer", rng.choice(FIRST_TEXTS), channel, None)
        event(created, "created", "customer", None, channel,
              to_value=f'{{"status": "new", "priority": "{priority}", "team": {team}, "channel": "{channel}"}}')
        updated = created
        if rng.random() < 0.93:
            at = created + rng.randint(30, 900)
            if at < now:
                event(at, "assignee_changed", "agent", agents[0], "web", "assignee", NULL, str(agent))
                assignee, updated = agent, at
                set_status(at, "open", agents[0], "agent", "web")  # as the services open an assigned ticket
        # First response and resolution: log-normal, medians about 2 h and a day after it.
        frt = int(min(14 * 86_400, max(60, rng.lognormvariate(8.9, 1.3))))
        resolve_after = int(min(60 * 86_400, max(300, rng.lognormvariate(11.3, 1.1))))
        replies = rng.choices((0, 1, 2, 3), (5, 60, 25, 10))[0] if assignee else 0
        at = max(created + frt, updated + 30)
        merged = rng.random() < 0.01 and ticket_id > 100
        if merged:
            target = ticket_id - rng.randint(1, 100)
            at = created + rng.randint(300, 7200)
            if at < now:
                event(at, "merged_into", "agent", agents[0], "web", to_value=f'{{"ticket": {target}}}')
                set_status(at, "closed", agents[0], "agent", "web")
                merged_into, closed_at, updated = str(target), at, at
            replies = 0
        for reply in range(replies):
            if at >= now:
                break
            if reply:
                customer_reply(at - rng.randint(60, max(61, (at - updated) // 2 or 61)))
            agent_reply(at)
            updated = at
            at += int(rng.lognormvariate(9.5, 1.0))
        if rng.random() < 0.22 and at < now and not merged:
            customer_reply(min(now - 1, at))
            updated = max(updated, min(now - 1, at))
        # Never before the conversation so far: events of a ticket are in time order, as written.
        solve_at = max(created + frt + resolve_after, updated + rng.randint(60, 3600))
        # A backlog of about ten days of volume: most tickets are solved within two weeks, almost
        # all within two months.
        age = now - created
        share = 0.995 if age > 60 * 86_400 else 0.95 if age > 14 * 86_400 else 0.75
        solves = not merged and solve_at < now and rng.random() < share
        if solves:
            # Without an agent reply: the customer's "never mind", or an agent closing a duplicate or spam.
            by_customer = rng.random() < (0.5 if replies == 0 else 0.03)
            solver, solver_kind = (None, "customer") if by_customer else (assignee or agents[0], "agent")
            set_status(solve_at, "solved", solver, solver_kind, channel if by_customer else "web")
            solved_at, updated = solve_at, solve_at
            if rng.random() < 0.06 and solve_at + 86_400 < now:
                # Reopened by the customer, answered again, solved again.
                back = solve_at + rng.randint(3600, 86_400)
                customer_reply(back)
                set_status(back, "open", None, "customer", channel)
                reopen_count += 1
                event(back, "reopened", "customer", None, channel, to_value=f'{{"reopen_count": {reopen_count}}}')
                again = back + rng.randint(600, 86_400)
                if again < now and assignee:
                    agent_reply(again)
                    set_status(again, "solved", assignee, "agent", "web")
                    solved_at = again
                updated = max(back, min(again, now - 1))
                if status != "solved":
                    solved_at = None
            if status == "solved" and solved_at and solved_at + 4 * 86_400 < now:
                set_status(solved_at + 4 * 86_400, "closed", None, "system", "automation")
                closed_at = updated = solved_at + 4 * 86_400
        sla_due = NULL
        if priority in ("high", "urgent"):
            targets = (60, 480) if priority == "urgent" else (240, 1440)
            for metric, minutes, met_at in (("first_response", targets[0], first_responded),
                                            ("resolution", targets[1], solved_at)):
                due = created + minutes * 60 * 2  # about the office-hours due: nights and weekends stretch it
                running = met_at is None and not merged and status not in ("solved", "closed")
                state = "met" if met_at else "running" if running else "cancelled"
                breached = ts(due) if (met_at and met_at > due) or (running and due < now) else NULL
                timers.append(
                    f"{metric}\t{minutes}\tt\t{state}\tt\t{ts(created)}\t{NULL}\t0\t{ts(due)}\t{NULL}\t"
                    f"{ts(met_at) if met_at else NULL}\t{breached}\t{NULL}\t{ts(created)}\t{ts(updated)}\t"
                    f"{people.policy_id}\t{tid}\n"
                )
                if running and sla_due == NULL:
                    sla_due = ts(due)
        if solved_at and rng.random() < SURVEY_SHARE:
            responded = solved_at + rng.randint(600, 2 * 86_400)
            if responded < now:
                roll = rng.random()
                if roll < 0.65:
                    kind, score = "csat", rng.choices((5, 4, 3, 2, 1), (55, 25, 10, 5, 5))[0]
                elif roll < 0.85:
                    kind, score = "nps", rng.choices(range(11), (2, 1, 1, 2, 2, 4, 6, 12, 20, 25, 25))[0]
                else:
                    kind, score = "ces", rng.choices(range(1, 8), (3, 5, 8, 14, 25, 25, 20))[0]
                source = rng.choices(("email", "portal", "chat"), (70, 20, 10))[0]
                surveys.append(
                    f"{kind}\t{score}\t\t{source}\t{channel}\t{priority}\ten\t{ts(responded)}\t{ts(responded)}\t"
                    f"{NULL if assignee is None else assignee}\t{customer}\t"
                    f"{NULL if organization is None else organization}\t{team}\t{tid}\n"
                )
        tickets.append(
            f"{tid}\t{tid}\t{_escape(rng.choice(SUBJECTS))}\t{status}\t{priority}\t{ticket_type}\t{channel}\t{{}}\t"
            f"{{}}\t{ts(created)}\t{ts(updated)}\t{ts(first_responded) if first_responded else NULL}\t"
            f"{ts(solved_at) if solved_at else NULL}\t{ts(closed_at) if closed_at else NULL}\t{reopen_count}\t"
            f"{message_count}\t{ts(last_customer)}\t{ts(last_agent) if last_agent else NULL}\t"
            f"{NULL if assignee is None else assignee}\t{NULL}\t{merged_into}\t"
            f"{NULL if organization is None else organization}\t{customer}\t{team}\t{sla_due}\n"
        )


COPY_COLUMNS = {
    "tickets_ticket": "id, number, subject, status, priority, type, channel, tags, custom_fields, created_at, updated_at,"
                      " first_responded_at, solved_at, closed_at, reopen_count, message_count, last_customer_message_at,"
                      " last_agent_reply_at, assignee_id, follow_up_of_id, merged_into_id, organization_id, requester_id,"
                      " team_id, sla_due_at",
    "tickets_message": "id, author_kind, visibility, body_html, body_text, channel, external_id, delivery_state,"
                       " raw_source, created_at, author_customer_id, author_user_id, ticket_id",
    "tickets_event": "ticket_id, kind, actor_kind, via, field, from_value, to_value, created_at, actor_user_id",
    "tickets_slatimer": "metric, target_minutes, is_business_hours, state, is_current, started_at, paused_at,"
                        " paused_seconds, due_at, warning_at, met_at, breached_at, warned_at, created_at, updated_at,"
                        " policy_id, ticket_id",
    "metrics_surveyresponse": "kind, score, comment, source, channel, priority, language, responded_at, updated_at,"
                              " agent_id, customer_id, organization_id, team_id, ticket_id",
}


def _copy_lines(cursor: Any, table: str, lines: list[str]) -> None:
    with cursor.copy(f"COPY {table} ({COPY_COLUMNS[table]}) FROM STDIN") as copy:
        for start in range(0, len(lines), 20_000):
            copy.write("".join(lines[start:start + 20_000]))


def _drop_secondary_indexes(connection: Any) -> list[tuple[str, str]]:
    rows = connection.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
          FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
         WHERE t.relname = ANY(%s) AND t.relnamespace = current_schema()::regnamespace
           AND NOT x.indisprimary AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
         ORDER BY t.relname, i.relname
        """,
        [list(BULK_TABLES)],
    ).fetchall()
    for name, _definition in rows:
        connection.execute(f'DROP INDEX "{name}"')
    return [(name, definition) for name, definition in rows]


def _seed(url: str, *, tickets: int, say: Callable[[str], None]) -> tuple[SeedCounts, float]:
    started = time.monotonic()
    people = _people(url, say=say)
    now = int(time.time())
    writer = Writer(people, now=now, rng=random.Random(8), total=tickets)  # noqa: S311 - test data
    with database._connect(url, autocommit=True) as connection:
        definitions = _drop_secondary_indexes(connection)
        # Kept until the indexes are back, so an interrupted seed can be finished by hand.
        connection.execute("CREATE TABLE IF NOT EXISTS bench_metrics_dropped_indexes (name text, definition text)")
        connection.cursor().executemany("INSERT INTO bench_metrics_dropped_indexes VALUES (%s, %s)", definitions)
    say(f"  dropped {len(definitions)} secondary indexes for the load; COPY {tickets:,} tickets in chunks of {CHUNK:,}.")
    with database._connect(url) as connection:
        for first in range(1, tickets + 1, CHUNK):
            lines = writer.chunk(first, min(CHUNK, tickets + 1 - first))
            with connection.transaction(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
                # The rows are consistent by construction: no per-row foreign-key triggers (superuser).
                cursor.execute("SET LOCAL session_replication_role = replica")
                for table, table_lines in zip(BULK_TABLES, lines, strict=True):
                    _copy_lines(cursor, table, table_lines)
            done = first - 1 + len(lines[0])
            if done % 200_000 < CHUNK:
                elapsed = time.monotonic() - started
                say(f"    {done:,} tickets, {writer.counts.messages:,} messages, {writer.counts.events:,} events "
                    f"in {elapsed:.0f} s (load {database.load_average()})")
    load_seconds = time.monotonic() - started
    say(f"  COPY done in {load_seconds:.0f} s; rebuilding {len(definitions)} indexes.")
    with database._connect(url, autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '1GB'")
        connection.execute("SET max_parallel_maintenance_workers = 1")
        for name, definition in definitions:
            index_started = time.monotonic()
            connection.execute(definition)
            connection.execute("DELETE FROM bench_metrics_dropped_indexes WHERE name = %s", [name])
            say(f"    {name}: {time.monotonic() - index_started:.1f} s")
        for table, column in (("tickets_ticket", "id"), ("tickets_message", "id"), ("tickets_event", "id"),
                              ("tickets_slatimer", "id"), ("metrics_surveyresponse", "id")):
            connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"  # noqa: S608
                               f" (SELECT coalesce(max({column}), 1) FROM {table}))")
        connection.execute("SELECT setval('tickets_ticket_number_seq', (SELECT max(number) FROM tickets_ticket))")
        say("  VACUUM ANALYZE.")
        for table in (*BULK_TABLES, "tickets_customer", "tickets_organization"):
            connection.execute(f"VACUUM ANALYZE {table}")
    return writer.counts, time.monotonic() - started


# --- the marker: what was seeded, and the once-per-seeding measurements ---------------------------------

MARKER_COLUMNS = ("version", "tickets", "messages", "events", "timers", "surveys", "seed_seconds", "seed_conditions",
                  "facts_seconds", "facts", "rollups_seconds", "rollup_rows", "recompute_conditions", "seeded_at")


def _marker(url: str) -> dict[str, Any] | None:
    with database._connect(url, autocommit=True) as connection:
        if database._one(connection.execute("SELECT to_regclass(%s)", [MARKER_TABLE]))[0] is None:
            return None
        row = connection.execute(
            f"SELECT {', '.join(MARKER_COLUMNS[:-1])}, seeded_at::text FROM {MARKER_TABLE}"  # noqa: S608
            " ORDER BY seeded_at DESC LIMIT 1").fetchone()
    return dict(zip(MARKER_COLUMNS, row, strict=True)) if row else None


def _write_marker(url: str, values: dict[str, Any]) -> None:
    with database._connect(url, autocommit=True) as connection:
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (version integer NOT NULL, tickets integer NOT NULL,"
            " messages bigint, events bigint, timers bigint, surveys bigint, seed_seconds double precision,"
            " seed_conditions text NOT NULL DEFAULT '', facts_seconds double precision, facts bigint,"
            " rollups_seconds double precision, rollup_rows bigint, recompute_conditions text NOT NULL DEFAULT '',"
            " seeded_at timestamptz NOT NULL DEFAULT now())")
        columns = [name for name in MARKER_COLUMNS[:-1] if name in values]
        connection.execute(
            f"INSERT INTO {MARKER_TABLE} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",  # noqa: S608
            [values[name] for name in columns])


def _update_marker(url: str, values: dict[str, Any]) -> None:
    with database._connect(url, autocommit=True) as connection:
        assignments = ", ".join(f"{name} = %s" for name in values)
        connection.execute(
            f"UPDATE {MARKER_TABLE} SET {assignments} WHERE seeded_at = (SELECT max(seeded_at) FROM {MARKER_TABLE})",  # noqa: S608
            list(values.values()))


def database_name(tickets: int) -> str:
    return METRICS_DATABASE if tickets == TICKETS else f"{METRICS_DATABASE}_{tickets}"


def prepare(url: str, env: dict[str, str], *, tickets: int, say: Callable[[str], None]) -> tuple[dict[str, Any], bool]:
    """A migrated database holding this seed version and size (reused when it does); (marker, reused)."""
    database.ensure_database(url)
    marker = _marker(url)
    if marker and marker["version"] == SEED_VERSION and marker["tickets"] == tickets:
        say("Migrating the metrics bench database (reused).")
        database.manage(env, "migrate", "-v0", "--skip-checks")
        return marker, True
    if marker is not None:
        say(f"The metrics bench database holds seed version {marker['version']} of {marker['tickets']:,} tickets: "
            "recreating it.")
    database.ensure_database(url, recreate=True)
    say("Migrating the metrics bench database.")
    database.manage(env, "migrate", "-v0", "--skip-checks")
    say(f"Seeding {tickets:,} tickets over {DAYS} days (COPY).")
    load_before = database.load_average()
    counts, seconds = _seed(url, tickets=tickets, say=say)
    conditions = f"load average {load_before} before, {database.load_average()} after"
    say(f"  seeded {counts.tickets:,} tickets, {counts.messages:,} messages, {counts.events:,} events, "
        f"{counts.timers:,} SLA timers, {counts.surveys:,} survey answers in {seconds:.0f} s ({conditions}).")
    _write_marker(url, {"version": SEED_VERSION, "tickets": tickets, "messages": counts.messages,
                        "events": counts.events, "timers": counts.timers, "surveys": counts.surveys,
                        "seed_seconds": seconds, "seed_conditions": conditions})
    marker = _marker(url)
    assert marker is not None
    return marker, False


# --- full recompute, once per seeding ---------------------------------------------------------------------


def _rollups_module() -> Any | None:
    try:
        from metrics import rollups
    except ImportError:
        return None
    return rollups if hasattr(rollups, "rollups_rebuild") else None


def recompute(url: str, marker: dict[str, Any], *, say: Callable[[str], None]) -> dict[str, Any]:
    """`ticket_facts_refresh_created_between()` over every ticket, then `rollups_rebuild()`, each timed once
    per seeding (the times are kept in the marker table; a later run fills in what an earlier one could not)."""
    from django.db import connection

    from metrics.services import ticket_facts_refresh_created_between

    if marker.get("facts_seconds") is None:
        say("Full recompute of the facts: ticket_facts_refresh_created_between() over every ticket.")
        load_before = database.load_average()
        with database._connect(url, autocommit=True) as raw:
            raw.execute("TRUNCATE metrics_ticketfact")
        started = time.monotonic()
        facts = ticket_facts_refresh_created_between()
        seconds = time.monotonic() - started
        connection.close()
        with database._connect(url, autocommit=True) as raw:
            raw.execute("VACUUM ANALYZE metrics_ticketfact")
        marker.update(facts_seconds=seconds, facts=facts,
                      recompute_conditions=f"facts: load average {load_before} before, {database.load_average()} after")
        _update_marker(url, {key: marker[key] for key in ("facts_seconds", "facts", "recompute_conditions")})
        say(f"  {facts:,} facts in {seconds:.0f} s = {facts / seconds:,.0f} facts/s")
    rollups = _rollups_module()
    if marker.get("rollups_seconds") is None:
        if rollups is None:
            say("  metrics.rollups.rollups_rebuild does not exist yet: rollups not built, not timed.")
        else:
            say("Full rebuild of the rollups: rollups_rebuild().")
            load_before = database.load_average()
            started = time.monotonic()
            rollups.rollups_rebuild()
            seconds = time.monotonic() - started
            connection.close()
            with database._connect(url, autocommit=True) as raw:
                raw.execute("VACUUM ANALYZE metrics_dailyrollup")
                rows = database._one(raw.execute("SELECT count(*) FROM metrics_dailyrollup"))[0]
            marker.update(rollups_seconds=seconds, rollup_rows=rows, recompute_conditions=(
                f"{marker.get('recompute_conditions') or ''}; rollups: load average {load_before} before, "
                f"{database.load_average()} after").lstrip("; "))
            _update_marker(url, {key: marker[key] for key in ("rollups_seconds", "rollup_rows", "recompute_conditions")})
            say(f"  {rows:,} rollup rows in {seconds:.1f} s")
    return marker


# --- incremental: N changed tickets through ticket_facts_refresh ------------------------------------------


@dataclass
class Incremental:
    tickets: int = 0
    events: int = 0
    chunk: int = 1000
    apply_seconds: float = float("nan")
    revert_seconds: float = float("nan")
    single_ms: list[float] = field(default_factory=list)  # one ticket per call, as a request would
    rollups_included: bool = False
    drift: str = ""
    load: str = ""


def _pick_open_tickets(raw: Any, count: int) -> list[int]:
    """Assigned, unsolved tickets, the most recent first (what gets solved on a normal day)."""
    rows = raw.execute(
        "SELECT id FROM tickets_ticket WHERE status IN ('new', 'open', 'pending', 'on_hold') AND assignee_id IS NOT NULL"
        " AND merged_into_id IS NULL ORDER BY created_at DESC LIMIT %s", [count]).fetchall()
    return [row[0] for row in rows]


def _apply_changes(raw: Any, ticket_ids: list[int]) -> tuple[list[int], list[int], list[tuple]]:
    """An agent reply and a solve on each ticket, as the services write them (message, two events, the row).
    Returns (message ids, event ids, the ticket rows as they were)."""
    before = raw.execute(
        "SELECT id, status, solved_at, updated_at, first_responded_at, message_count, last_agent_reply_at"
        " FROM tickets_ticket WHERE id = ANY(%s)", [ticket_ids]).fetchall()
    message_ids = [row[0] for row in raw.execute(
        "INSERT INTO tickets_message (author_kind, visibility, body_html, body_text, channel, external_id,"
        " delivery_state, raw_source, created_at, author_user_id, ticket_id)"
        " SELECT 'agent', 'public', '<p>Solved, thanks.</p>', 'Solved, thanks.', 'web', '', '', '', now(), assignee_id, id"
        " FROM tickets_ticket WHERE id = ANY(%s) ORDER BY id RETURNING id", [ticket_ids]).fetchall()]
    event_ids = [row[0] for row in raw.execute(
        "INSERT INTO tickets_event (ticket_id, kind, actor_kind, via, field, from_value, to_value, created_at,"
        " actor_user_id)"
        " SELECT message.ticket_id, 'reply_added', 'agent', 'web', '', NULL, jsonb_build_object('message', message.id),"
        "        now(), message.author_user_id FROM tickets_message AS message WHERE message.id = ANY(%s)"
        " UNION ALL"
        " SELECT ticket.id, 'status_changed', 'agent', 'web', 'status', to_jsonb(ticket.status), '\"solved\"'::jsonb,"
        "        now() + interval '1 millisecond', ticket.assignee_id FROM tickets_ticket AS ticket WHERE ticket.id = ANY(%s)"
        " RETURNING id", [message_ids, ticket_ids]).fetchall()]
    raw.execute(
        "UPDATE tickets_ticket SET status = 'solved', solved_at = now(), updated_at = now(),"
        " first_responded_at = coalesce(first_responded_at, now()), message_count = message_count + 1,"
        " last_agent_reply_at = now(), sla_due_at = NULL WHERE id = ANY(%s)", [ticket_ids])
    return message_ids, event_ids, before


def _revert_changes(raw: Any, message_ids: list[int], event_ids: list[int], before: list[tuple]) -> None:
    raw.execute("DELETE FROM tickets_event WHERE id = ANY(%s)", [event_ids])
    raw.execute("DELETE FROM tickets_message WHERE id = ANY(%s)", [message_ids])
    with raw.cursor() as cursor:
        cursor.executemany(
            "UPDATE tickets_ticket SET status = %s, solved_at = %s, updated_at = %s, first_responded_at = %s,"
            " message_count = %s, last_agent_reply_at = %s WHERE id = %s",
            [(*row[1:], row[0]) for row in before])


def incremental(url: str, *, changes: int, say: Callable[[str], None]) -> Incremental:
    """Change `changes` tickets (an agent reply and a solve each: two events), then time
    `ticket_facts_refresh(ticket_ids=...)` over them in chunks of 1,000 (what the workers do after a
    batch of events; the rollup deltas are applied inside it). Then the changes are taken back and
    the refresh timed again, so the data stays as seeded."""
    from django.db import connection

    from metrics.services import PolicyCalendars, ticket_facts_refresh

    result = Incremental(rollups_included=_rollups_module() is not None)
    with database._connect(url, autocommit=True) as raw:
        ticket_ids = _pick_open_tickets(raw, changes)
        message_ids, event_ids, before = _apply_changes(raw, ticket_ids)
    result.tickets, result.events = len(ticket_ids), len(event_ids)
    say(f"Incremental: {len(ticket_ids):,} open tickets got an agent reply and a solve ({len(event_ids):,} events); "
        f"ticket_facts_refresh in chunks of {result.chunk:,}.")

    def refresh_all() -> float:
        calendars = PolicyCalendars()
        started = time.monotonic()
        for start in range(0, len(ticket_ids), result.chunk):
            ticket_facts_refresh(ticket_ids=ticket_ids[start:start + result.chunk], calendars=calendars)
        return time.monotonic() - started

    try:
        result.apply_seconds = refresh_all()
        say(f"  refreshed in {result.apply_seconds:.2f} s = {result.events / result.apply_seconds:,.0f} events/s, "
            f"{result.tickets / result.apply_seconds:,.0f} tickets/s")
        # One ticket per call: the latency a single solve adds when refreshed on its own.
        calendars = PolicyCalendars()
        for ticket_id in ticket_ids[:200]:
            started = time.perf_counter()
            ticket_facts_refresh(ticket_ids=[ticket_id], calendars=calendars)
            result.single_ms.append((time.perf_counter() - started) * 1000)
    finally:
        with database._connect(url, autocommit=True) as raw:
            _revert_changes(raw, message_ids, event_ids, before)
    result.revert_seconds = refresh_all()
    say(f"  taken back and refreshed in {result.revert_seconds:.2f} s")
    result.drift = drift_check()
    connection.close()
    result.load = database.load_average()
    return result


def drift_check() -> str:
    """Whether the incrementally maintained rollups still equal a recomputation from the facts."""
    rollups = _rollups_module()
    if rollups is None or not hasattr(rollups, "rollups_drift"):
        return "not checked (no metrics.rollups.rollups_drift yet)"
    from metrics.selectors import reporting_today

    today = reporting_today()
    started = time.monotonic()
    try:
        drifts = rollups.rollups_drift(day_from=today - timedelta(days=DAYS + 2), day_to=today + timedelta(days=1))
    except Exception as error:  # noqa: BLE001 - work in progress elsewhere must not stop the benchmark
        from django.db import connection

        connection.close()
        return f"not checked: `rollups_drift` failed ({type(error).__name__}: {str(error).splitlines()[0]})"
    seconds = time.monotonic() - started
    if not drifts:
        return f"none (`rollups_drift` over {DAYS + 3} days, {seconds:.1f} s)"
    return f"{len(drifts)} rows differ, e.g. {drifts[0].describe()} (`rollups_drift`, {seconds:.1f} s)"


# --- the dashboard API and page over real HTTP ------------------------------------------------------------


@dataclass
class Shape:
    name: str
    path: str  # without the period parameters
    samples: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def percentile(self, share: float) -> float:
        return _percentile(self.samples, share)


def _percentile(samples: list[float], share: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass
class Http:
    server: str
    shapes: list[Shape] = field(default_factory=list)
    page: Shape | None = None
    # The parts the page loads right after it (?part=charts|team|agent|channel), each its own request.
    page_parts: list[Shape] = field(default_factory=list)
    requests_per_shape: int = 0
    load_before: str = ""
    load_after: str = ""
    note: str = ""


def _shapes(*, team_ids: list[int], agent_ids: list[int], organization_ids: list[int]) -> list[tuple[str, str, list[str]]]:
    """(name, path, filter query strings cycled over the requests) of every measured request shape."""
    teams = [f"team={team}" for team in team_ids]
    agents = [f"agent={agent}" for agent in agent_ids]
    channels = ["channel=email", "channel=web", "channel=chat", "channel=phone", "channel=api"]
    organizations = [f"organization={organization}" for organization in organization_ids]
    priorities = ["priority=high", "priority=urgent", "priority=normal", "priority=low"]
    combos = [f"{team}&{channel}&priority=high&priority=urgent" for team, channel in zip(teams * 5, channels * 8,
                                                                                         strict=False)]
    shapes: list[tuple[str, str, list[str]]] = []
    for endpoint in ("summary", "timeseries"):
        path = f"/api/v1/metrics/{endpoint}"
        shapes += [
            (f"{endpoint}, no filter", path, [""]),
            (f"{endpoint}, team", path, teams),
            (f"{endpoint}, agent", path, agents),
            (f"{endpoint}, channel", path, channels),
            (f"{endpoint}, priority", path, priorities),
            (f"{endpoint}, organization", path, organizations),
            (f"{endpoint}, team+channel+priorities", path, combos),
        ]
    for by in ("team", "agent", "channel"):
        shapes.append((f"breakdown by {by}, no filter", f"/api/v1/metrics/breakdown?by={by}", [""]))
    shapes.append(("breakdown by agent, team", "/api/v1/metrics/breakdown?by=agent", teams))
    shapes.append(("breakdown by team, channel+priority", "/api/v1/metrics/breakdown?by=team",
                   [f"{channel}&priority=high" for channel in channels]))
    return shapes


def _window(today: date, offset: int) -> str:
    """A 90-day custom period ending `offset` days before today: each request its own period, so no
    response or plan-result cache can answer it (the selectors keep none today; this keeps it honest)."""
    end = today - timedelta(days=offset)
    return f"period=custom&start={(end - timedelta(days=89)).isoformat()}&end={end.isoformat()}"


def _join(path: str, *parts: str) -> str:
    query = "&".join(part for part in parts if part)
    return f"{path}{'&' if '?' in path else '?'}{query}" if query else path


def _redirect_target(port: int, path: str, headers: tuple[tuple[str, str], ...]) -> str | None:
    """The path (without query) a GET of `path` is redirected to, if it is."""
    import http.client
    from urllib.parse import urlsplit

    from bench import servers

    connection = http.client.HTTPConnection(servers.HOST, port, timeout=60)
    try:
        connection.request("GET", path, headers=dict(headers))
        response = connection.getresponse()
        response.read()
        location = response.getheader("Location")
        if response.status in (301, 302, 307, 308) and location:
            return urlsplit(location).path
        return None
    finally:
        connection.close()


def http(env: dict[str, str], *, requests: int, log_dir: Any, say: Callable[[str], None]) -> Http:
    """Each shape `requests` times, one client, one request at a time, over keep-alive HTTP to
    gunicorn (2 sync workers, as `make run` serves), signed in as the manager (session cookie)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from bench import loadgen, servers
    from metrics.selectors import reporting_today
    from tickets.models import Team, User

    manager = User.objects.get(username="bench-manager")
    client = Client()
    client.force_login(manager)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    team_ids = list(Team.objects.filter(slug__startswith="bench-team-").order_by("pk").values_list("pk", flat=True))
    agent_ids = list(User.objects.filter(username__startswith="bench-agent-").order_by("?").values_list("pk", flat=True)[:50])
    with connection.cursor() as cursor:
        # Large, middling and small organizations alike.
        cursor.execute("SELECT organization_id FROM metrics_ticketfact WHERE organization_id IS NOT NULL"
                       " GROUP BY 1 ORDER BY count(*) DESC")
        ranked = [row[0] for row in cursor.fetchall()]
    organization_ids = ranked[:10] + ranked[len(ranked) // 2:len(ranked) // 2 + 20] + ranked[-20:]
    connection.close()
    today = reporting_today()
    config = servers.SERVERS["gunicorn-2"]
    result = Http(server=config.name, requests_per_shape=requests, load_before=database.load_average())
    headers = (("Cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}"), ("Accept", "application/json"))
    env = dict(env, API_RATE_LIMIT="100000000/min")
    say(f"\n== {config.name}: the metrics API as the manager, {requests} requests per shape, 90-day periods")
    with servers.running(config, env, log_dir / "metrics-gunicorn-2.log") as port:
        sender = loadgen.SequentialClient(servers.HOST, port)
        try:
            def measure(name: str, path: str, filters: list[str]) -> Shape:
                shape = Shape(name, path)
                # Warm-up on periods the measured requests do not use (imports, plans, connections).
                for offset in range(200, 205):
                    sender.send(loadgen.Request("GET", _join(path, _window(today, offset), filters[0]), headers))
                for n in range(requests):
                    request = loadgen.Request("GET", _join(path, _window(today, n), filters[n % len(filters)]), headers)
                    status, _body, milliseconds = sender.send(request)
                    shape.samples.append(milliseconds)
                    shape.statuses[status] = shape.statuses.get(status, 0) + 1
                say(f"  {name:<40} p50 {statistics.median(shape.samples):7.1f} ms  p95 {shape.percentile(0.95):7.1f} ms"
                    f"  statuses {shape.statuses}")
                return shape

            redirected: set[str] = set()
            for name, path, filters in _shapes(team_ids=team_ids, agent_ids=agent_ids, organization_ids=organization_ids):
                # The contract's paths have no trailing slash; should the API redirect to one, measure
                # where it leads (and say so) rather than the redirect.
                target = _redirect_target(port, _join(path, _window(today, 300)), headers)
                if target is not None:
                    bare, _, query = path.partition("?")
                    redirected.add(f"{bare} → {target}")
                    path = target + (f"?{query}" if query else "")
                result.shapes.append(measure(name, path, filters))
            if redirected:
                result.note = "Redirected (measured at the target): " + ", ".join(sorted(redirected)) + "."
            status, _body, _ms = sender.send(loadgen.Request("GET", "/agent/metrics/", headers[:1]))
            if status == 200:
                result.page = measure("HTML dashboard /agent/metrics/", "/agent/metrics/", [""])
                for part in ("charts", "team", "agent", "channel"):
                    result.page_parts.append(measure(f"HTML dashboard part {part}", f"/agent/metrics/?part={part}", [""]))
            else:
                result.note += f" /agent/metrics/ answered {status}: the HTML dashboard page was not measured."
                say(f"  {result.note}")
        finally:
            sender.close()
    result.load_after = database.load_average()
    return result


# --- raw SQL baselines ---------------------------------------------------------------------------------------


@dataclass
class Baseline:
    label: str
    execution_ms: float  # median EXPLAIN ANALYZE execution time
    round_trip_ms: float  # median wall time through psycopg
    rows: int
    scans: str = ""  # how PostgreSQL read the tables (from the plan)


def _scans(node: dict[str, Any]) -> list[str]:
    found = []
    if "Scan" in node.get("Node Type", ""):
        found.append(f"{node['Node Type']} {node.get('Index Name') or node.get('Relation Name', '')}".strip())
    for child in node.get("Plans", []):
        found += _scans(child)
    return found


def baselines(url: str, *, repeats: int = 20, say: Callable[[str], None]) -> list[Baseline]:
    """The SQL the summary cannot avoid (rollup sums, percentile_cont over the facts), and the
    issue's floor: a direct GROUP BY team × day over the tickets table for 90 days, with a covering index."""
    from django.conf import settings

    from metrics.selectors import reporting_today

    time_zone = settings.HELPDESK_METRICS_TIME_ZONE
    end = reporting_today()
    start = end - timedelta(days=89)
    params = {"start": start, "end": end, "tz": time_zone}
    period = ("(%(start)s::date)::timestamp AT TIME ZONE %(tz)s",
              "((%(end)s::date + 1)::timestamp) AT TIME ZONE %(tz)s")
    queries = [
        ("rollup sums, 90 days, no filter (metrics_dailyrollup)",
         "SELECT sum(created), sum(first_replied), sum(frt_business_seconds_sum), sum(solved),"
         " sum(resolution_business_seconds_sum), sum(fcr), sum(reopened), sum(sla_due), sum(sla_met)"
         " FROM metrics_dailyrollup WHERE day BETWEEN %(start)s AND %(end)s"),
        ("rollup sums by team × day, 90 days",
         "SELECT team_id, day, sum(created), sum(solved), sum(frt_business_seconds_sum), sum(first_replied)"
         " FROM metrics_dailyrollup WHERE day BETWEEN %(start)s AND %(end)s GROUP BY 1, 2"),
        ("FRT median + p90, percentile_cont over the facts answered in 90 days",
         "SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY frt_business_seconds), count(*)"
         f" FROM metrics_ticketfact WHERE first_public_agent_reply_at >= {period[0]}"
         f" AND first_public_agent_reply_at < {period[1]} AND frt_business_seconds IS NOT NULL"),
        ("resolution median + p90, percentile_cont over the facts solved in 90 days",
         "SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolution_business_seconds), count(*)"
         f" FROM metrics_ticketfact WHERE first_solved_at >= {period[0]} AND first_solved_at < {period[1]}"
         " AND NOT is_merged AND resolution_business_seconds IS NOT NULL"),
        ("floor: GROUP BY team × day over tickets_ticket, 90 days, covering index",
         "SELECT team_id, (created_at AT TIME ZONE %(tz)s)::date AS day, count(*), count(solved_at),"
         " avg(extract(epoch FROM first_responded_at - created_at))"
         f" FROM tickets_ticket WHERE created_at >= {period[0]} AND created_at < {period[1]} GROUP BY 1, 2"),
    ]
    results = []
    with database._connect(url, autocommit=True) as connection:
        # Only in this bench database: the index the floor figure is measured with.
        connection.execute("CREATE INDEX IF NOT EXISTS bench_ticket_created_cover ON tickets_ticket (created_at)"
                           " INCLUDE (team_id, solved_at, first_responded_at)")
        connection.execute("VACUUM ANALYZE tickets_ticket")
        for label, sql in queries:
            executions, trips = [], []
            rows = 0
            scans: list[str] = []
            for _ in range(repeats):
                plan = database._one(connection.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params))[0][0]
                executions.append(plan["Execution Time"])
                scans = _scans(plan["Plan"])
                started = time.perf_counter()
                rows = len(connection.execute(sql, params).fetchall())
                trips.append((time.perf_counter() - started) * 1000)
            results.append(Baseline(label, statistics.median(executions), statistics.median(trips), rows,
                                    ", ".join(scans)))
            say(f"  {label}: {results[-1].execution_ms:.1f} ms execution, {results[-1].round_trip_ms:.1f} ms round trip"
                f" ({rows:,} rows)")
    return results


# --- the whole run and its section of RESULTS.md ---------------------------------------------------------------


@dataclass
class Options:
    tickets: int = TICKETS
    changes: int = 10_000
    requests: int = 50


@dataclass
class Result:
    options: Options
    marker: dict[str, Any]
    reused: bool
    counts: dict[str, int]
    database_size: str
    incremental: Incremental | None = None
    http: Http | None = None
    baselines: list[Baseline] = field(default_factory=list)
    loads: dict[str, str] = field(default_factory=dict)
    errors: int = 0


def _counts(url: str) -> tuple[dict[str, int], str]:
    tables = ("tickets_ticket", "tickets_message", "tickets_event", "tickets_slatimer", "metrics_surveyresponse",
              "metrics_ticketfact", "metrics_dailyrollup", "tickets_organization", "tickets_customer")
    with database._connect(url, autocommit=True) as connection:
        counts = {table: database._one(connection.execute(f"SELECT count(*) FROM {table}"))[0]  # noqa: S608
                  for table in tables}
        counts["tickets_90d"] = database._one(connection.execute(
            "SELECT count(*) FROM tickets_ticket WHERE created_at >= now() - interval '90 days'"))[0]
        size = database._one(connection.execute("SELECT pg_size_pretty(pg_database_size(current_database()))"))[0]
    return counts, size


def run(*, url: str, env: dict[str, str], options: Options, log_dir: Any, say: Callable[[str], None]) -> Result:
    from django.db import connection

    marker, reused = prepare(url, env, tickets=options.tickets, say=say)
    counts, size = _counts(url)
    say(f"Metrics bench data: {counts['tickets_ticket']:,} tickets ({counts['tickets_90d']:,} in the last 90 days), "
        f"{counts['tickets_message']:,} messages, {counts['tickets_event']:,} events, {counts['tickets_slatimer']:,} "
        f"SLA timers, {counts['metrics_surveyresponse']:,} survey answers ({size}); "
        + (f"reused (seeded {marker['seeded_at'][:16]})" if reused else f"seeded in {marker['seed_seconds']:.0f} s"))
    result = Result(options=options, marker=marker, reused=reused, counts=counts, database_size=size)
    result.loads["start"] = database.load_average()
    result.marker = recompute(url, marker, say=say)
    result.counts, result.database_size = _counts(url)
    result.loads["after recompute"] = database.load_average()
    result.incremental = incremental(url, changes=options.changes, say=say)
    result.loads["after incremental"] = database.load_average()
    say("Raw SQL baselines (psycopg, median of 20).")
    result.baselines = baselines(url, say=say)
    connection.close()
    result.http = http(env, requests=options.requests, log_dir=log_dir, say=say)
    result.errors = sum(count for shape in result.http.shapes for status, count in shape.statuses.items()
                        if status >= 400)
    return result


def render(result: Result, *, command: str, pg: dict[str, str]) -> str:  # noqa: C901 - one table after another
    import subprocess

    box = report.machine()
    when = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    marker, counts = result.marker, result.counts
    free = subprocess.run(["free", "-g"], capture_output=True, text=True, check=False).stdout.strip()
    lines = [
        f"## Metrics, {result.options.tickets:,} tickets — {when}",
        "",
        f"Command: `{command}`. Database `{database_name(result.options.tickets)}` ({result.database_size}), Redis "
        f"database {METRICS_REDIS_DB}. Data (bench/metrics_bench.py, seed version {marker['version']}): "
        f"{counts['tickets_ticket']:,} tickets over {DAYS} days ({counts['tickets_90d']:,} created in the last 90 days), "
        f"{counts['tickets_message']:,} messages, {counts['tickets_event']:,} audit events, "
        f"{counts['tickets_slatimer']:,} SLA timers, {counts['metrics_surveyresponse']:,} survey answers; "
        f"{TEAMS} teams, {TEAMS * AGENTS_PER_TEAM} agents, {counts['tickets_organization']:,} organizations, "
        f"{counts['tickets_customer']:,} customers; {counts['metrics_ticketfact']:,} facts, "
        f"{counts['metrics_dailyrollup']:,} rollup rows. "
        + (f"Seeded with COPY in {marker['seed_seconds']:.0f} s on {marker['seeded_at'][:16]} UTC "
           f"({marker['seed_conditions']})" if marker.get("seed_seconds") else "Seed time not recorded")
        + ("; reused by this run." if result.reused else " (this run)."),
        "",
        f"Machine: `nproc` {box['nproc']} ({box['cpu']}), {box['memory']} RAM, Python {box['python']}, PostgreSQL "
        f"{pg.get('server_version', '?')} (fsync {pg.get('fsync', '?')}, synchronous_commit "
        f"{pg.get('synchronous_commit', '?')}, shared_buffers {pg.get('shared_buffers', '?')}). **The machine is shared "
        "with other helpers working at the same time** (tests, other benchmarks): load average "
        + "; ".join(f"{moment}: {load}" for moment, load in result.loads.items()) + ".",
        "",
        "```",
        free,
        "```",
        "",
        "### Full recompute (once per seeding)",
        "",
    ]
    rows = []
    if marker.get("facts_seconds"):
        rows.append(["`ticket_facts_refresh_created_between()`, every ticket, chunks of 1,000",
                     f"{marker['facts']:,} facts in {marker['facts_seconds']:.0f} s",
                     f"**{marker['facts'] / marker['facts_seconds']:,.0f} facts/s**"])
    if marker.get("rollups_seconds"):
        rows.append(["`rollups_rebuild()`, every day", f"{marker['rollup_rows']:,} rows in {marker['rollups_seconds']:.1f} s",
                     f"{marker['facts'] / marker['rollups_seconds']:,.0f} facts/s"])
        rows.append(["together", f"{marker['facts_seconds'] + marker['rollups_seconds']:.0f} s", ""])
    else:
        rows.append(["`rollups_rebuild()`", "not measured (metrics.rollups not available)", ""])
    lines += [report.markdown_table(["step", "time", "rate"], rows), "",
              f"Conditions: {marker.get('recompute_conditions') or '–'}.", ""]

    inc = result.incremental
    if inc is not None:
        lines += ["### Incremental refresh (facts and rollup deltas)", ""]
        single = (f"p50 {statistics.median(inc.single_ms):.1f} ms, p95 {_percentile(inc.single_ms, 0.95):.1f} ms"
                  if inc.single_ms else "–")
        lines += [
            f"{inc.tickets:,} assigned open tickets (the most recent) each got an agent reply and a solve as the "
            f"services write them (a message, a `reply_added` and a `status_changed` → solved event, the row): "
            f"{inc.events:,} events. Then `ticket_facts_refresh(ticket_ids=…)` over them in chunks of {inc.chunk:,} "
            "(one PolicyCalendars), which " + ("applies the rollup deltas in the same transaction"
                                               if inc.rollups_included else "(no rollups module: facts only)") + ".",
            "",
            report.markdown_table(["pass", "time", "events/s", "tickets/s"], [
                ["reply + solve", f"{inc.apply_seconds:.2f} s", f"**{inc.events / inc.apply_seconds:,.0f}**",
                 f"{inc.tickets / inc.apply_seconds:,.0f}"],
                ["taken back (events deleted, rows restored)", f"{inc.revert_seconds:.2f} s",
                 f"{inc.events / inc.revert_seconds:,.0f}", f"{inc.tickets / inc.revert_seconds:,.0f}"],
            ]),
            "",
            f"One ticket per call (200 calls): {single}. Rollup drift after both passes: {inc.drift}. "
            f"Load average after: {inc.load}.",
            "",
        ]

    web = result.http
    if web is not None:
        lines += [
            f"### Dashboard API over HTTP ({web.server}, manager session)",
            "",
            f"{web.requests_per_shape} requests per shape, one client, one request at a time over keep-alive, after 5 "
            "warm-up requests on other periods. Every request asks for its own 90-day custom period (ending 0–"
            f"{web.requests_per_shape - 1} days ago), so nothing can be answered from a cache of an earlier response; "
            "filters cycle over 8 teams, 50 agents, 5 channels, 4 priorities and 50 organizations (the largest, "
            "middling and smallest). Each summary also computes the previous period. Load average "
            f"{web.load_before} before, {web.load_after} after.",
            "",
        ]
        rows = []
        html = [*([web.page] if web.page else []), *web.page_parts]
        for shape in [*web.shapes, *html]:
            p95 = shape.percentile(0.95)
            limit = 300 if shape in html else 150
            errors = sum(count for status, count in shape.statuses.items() if status != 200)
            rows.append([shape.name, f"{statistics.median(shape.samples):.1f}", f"{p95:.1f}",
                         f"{max(shape.samples):.1f}",
                         ("met" if p95 <= limit else "NOT met") + f" (≤ {limit} ms)"
                         + (f"; {errors} non-200: {shape.statuses}" if errors else "")])
        lines += [report.markdown_table(["request", "median ms", "p95 ms", "max ms", "target"], rows), ""]
        if web.shapes:
            worst = max(web.shapes, key=lambda shape: shape.percentile(0.95))
            p95 = worst.percentile(0.95)
            lines += [f"**Worst API p95: {p95:.1f} ms** ({worst.name}): the issue's target of 150 ms "
                      + ("met by every shape." if p95 <= 150 else "NOT met by every shape.")
                      + (f" HTML dashboard p95 {web.page.percentile(0.95):.1f} ms (target 300 ms)." if web.page else "")
                      + (" Its parts, loaded right after it: " + ", ".join(
                          f"{shape.name.rsplit(' ', 1)[-1]} {shape.percentile(0.95):.1f} ms" for shape in web.page_parts)
                         + " (p95)." if web.page_parts else ""),
                      ""]
        if web.note:
            lines += [web.note, ""]

    if result.baselines:
        lines += ["### Raw SQL baselines and ratios", "",
                  "The same 90 days (today and the 89 days before, in HELPDESK_METRICS_TIME_ZONE), median of 20 over "
                  "psycopg; the floor query uses an index on tickets_ticket (created_at) INCLUDE (team_id, solved_at, "
                  "first_responded_at), created in this database only.", ""]
        lines += [report.markdown_table(["query", "execution ms", "round trip ms", "rows", "plan's scans"], [
            [b.label, f"{b.execution_ms:.1f}", f"{b.round_trip_ms:.1f}", f"{b.rows:,}", b.scans]
            for b in result.baselines]), ""]
        needed = sum(b.round_trip_ms for b in result.baselines
                     if b.label.startswith(("rollup sums, 90", "FRT median", "resolution median")))
        floor = result.baselines[-1].round_trip_ms
        if web is not None and web.shapes:
            summary = web.shapes[0]
            p50 = statistics.median(summary.samples)
            lines += [
                f"- The summary's unavoidable SQL for one period (rollup sums + the two percentile_cont): "
                f"{needed:.1f} ms; the summary (two periods, surveys, backlog, HTTP, JSON) p50 {p50:.1f} ms = "
                f"× {p50 / needed:.1f} of it." if needed else "- (rollup baseline not available)",
                f"- The issue's floor, a direct GROUP BY team × day over the tickets table: {floor:.1f} ms "
                f"round trip; the whole summary over HTTP p50 {p50:.1f} ms = {100 * p50 / floor:.0f} % of that one "
                "query.",
            ]
        lines.append("")
    return "\n".join(lines)
