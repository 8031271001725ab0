"""In-process measurements that need Django: SQL queries per page, the bench's logins and clean-up.

Import only after django.setup().
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from bench.database import BENCH_TAG
from tickets.models import Customer, Team, Ticket, User

PAGE_SIZES = (25, 50, 100)


@dataclass
class Fixtures:
    agent: User
    session_cookie: str
    token: str
    support_team_id: int
    ticket_numbers: list[int]
    requester_emails: list[str]
    requester_id: int


def fixtures(sample: int = 100) -> Fixtures:
    """The demo agent signed in (session cookie and API token) and tickets they can open."""
    agent = User.objects.get(username="agent")
    client = Client()
    client.force_login(agent)
    session_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    token, _ = Token.objects.get_or_create(user=agent)
    support = Team.objects.get(slug="support")
    numbers = list(
        Ticket.objects.filter(team=support).exclude(tags__contains=[BENCH_TAG]).order_by("?")
        .values_list("number", flat=True)[:sample]
    )
    emails = list(Customer.objects.exclude(email="").order_by("id").values_list("email", flat=True)[:1000])
    requester_id = Customer.objects.order_by("id").values_list("id", flat=True).first()
    assert requester_id is not None, "no customers: is the bench database seeded?"
    return Fixtures(agent, session_cookie, token.key, support.pk, numbers, emails, requester_id)


@dataclass
class PageQueries:
    counts: dict[int, int]  # page size -> queries
    slowest: list[tuple[float, str]]  # (ms, SQL) at the default page size, slowest first
    total_ms: float


def queries_per_page(setup: Fixtures) -> dict[str, PageQueries]:
    """SQL queries for each page at each page size (must not grow with the page size), and the slowest ones."""
    browser = Client()
    browser.force_login(setup.agent)
    api = Client(HTTP_AUTHORIZATION=f"Token {setup.token}")
    number = setup.ticket_numbers[0]
    pages = {
        "queue /agent/": lambda size: browser.get("/agent/", {"per_page": size}),
        "queue open view": lambda size: browser.get("/agent/", {"status": "new,open", "per_page": size}),
        "queue filtered": lambda size: browser.get(
            "/agent/", {"status": "unsolved", "priority": "high,urgent", "per_page": size}),
        "API ticket list": lambda size: api.get("/api/v1/tickets/", {"page_size": size}),
        "ticket page": lambda size: browser.get(f"/agent/tickets/{number}/"),
    }
    results: dict[str, PageQueries] = {}
    for name, fetch in pages.items():
        fetch(PAGE_SIZES[0])  # warm caches (session, content types) as a running server has them
        result = PageQueries({}, [], 0.0)
        for size in PAGE_SIZES:
            with CaptureQueriesContext(connection) as captured:
                response = fetch(size)
            if response.status_code != 200:
                raise RuntimeError(f"{name} answered {response.status_code}")
            result.counts[size] = len(captured.captured_queries)
            if size == 50:
                timed = [(float(query["time"]) * 1000, query["sql"]) for query in captured.captured_queries]
                result.total_ms = sum(ms for ms, _sql in timed)
                result.slowest = sorted(timed, reverse=True)[:3]
        results[name] = result
    return results


def delete_bench_tickets() -> int:
    """Remove the tickets the benchmark created (API creates, insert baseline), so runs see the same data."""
    deleted, _ = Ticket.objects.filter(tags__contains=[BENCH_TAG]).delete()
    return deleted
