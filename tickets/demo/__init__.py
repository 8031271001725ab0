"""Demo and scale data: the people of PRODUCT.md's demo logins and N tickets with a year of history.

`seed(tickets=N)` is what `manage.py seed_demo` runs: base data found-or-created, then tickets up to
N, through the services (small N) or COPY (large N, see tickets.demo.bulk).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tickets.demo.base import DEMO_CUSTOMER_EMAIL, DEMO_PASSWORD, catalog, ensure_base_data
from tickets.demo.plan import plan_tickets
from tickets.models import Message, Ticket

# Up to this many tickets go through the services one by one; above, COPY.
SERVICES_LIMIT = 2_000
DEMO_LOGINS = (
    ("admin", "admin"),
    ("agent", "agent (team Support)"),
    ("manager", "manager"),
    (DEMO_CUSTOMER_EMAIL, "customer (portal)"),
)


@dataclass
class SeedResult:
    tickets_created: int
    messages_created: int
    method: str
    seconds: float


def seed(
    *, tickets: int, method: str = "auto", seed_value: int = 0, workers: int | None = None,
    progress: Callable[[str], None] = lambda _m: None, now: float | None = None,
) -> SeedResult:
    """Make sure the demo base data exists and the database holds at least `tickets` tickets.

    method: "services" (every change through tickets.services), "bulk" (COPY) or "auto".
    """
    started = time.monotonic()
    ensure_base_data(tickets=tickets)
    missing = tickets - Ticket.objects.count()
    if missing <= 0:
        return SeedResult(0, 0, "none", time.monotonic() - started)
    demo_catalog = catalog(tickets=tickets, now=now)
    if method == "auto":
        method = "services" if missing <= SERVICES_LIMIT else "bulk"
    if method == "services":
        from tickets.demo.replay import replay

        messages_before = Message.objects.count()
        plans = plan_tickets(demo_catalog, start=0, count=missing, total=missing, seed=seed_value)
        created = replay(plans)
        messages = Message.objects.count() - messages_before
    elif method == "bulk":
        from tickets.demo.bulk import bulk_load

        result = bulk_load(demo_catalog, total=missing, seed=seed_value, workers=workers, progress=progress)
        created, messages = result.tickets, result.messages
    else:
        raise ValueError(f"unknown seeding method {method!r}")
    return SeedResult(created, messages, method, time.monotonic() - started)


__all__ = ["DEMO_CUSTOMER_EMAIL", "DEMO_LOGINS", "DEMO_PASSWORD", "SeedResult", "seed"]
