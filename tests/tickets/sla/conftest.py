"""Fixtures for the SLA engine tests: a 9–18 Monday–Friday calendar in Shanghai and one policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.factories import make_ticket
from tickets.models import BusinessHours, Event, SlaPolicy, SlaTimer, Ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAYS_9_TO_18 = {str(day): ["09:00-18:00"] for day in range(5)}
TARGETS = {
    "low": {"first_response": 240, "next_response": 480, "resolution": 2400},
    "normal": {"first_response": 60, "next_response": 120, "resolution": 480},
    "high": {"first_response": 30, "next_response": 60, "resolution": 240},
    "urgent": {"first_response": 15, "next_response": 30, "resolution": 120},
}


def local(*args: int) -> datetime:
    """A Shanghai wall-clock instant: local(2026, 12, 4, 17, 55)."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


@pytest.fixture
def office_hours(db) -> BusinessHours:
    return BusinessHours.objects.create(name="Shanghai office", timezone="Asia/Shanghai", weekly=WEEKDAYS_9_TO_18)


@pytest.fixture
def policy(office_hours: BusinessHours) -> SlaPolicy:
    return SlaPolicy.objects.create(name="Standard", position=10, calendar=office_hours, targets=TARGETS)


def ticket_at(created_at: datetime, **fields: Any) -> Ticket:
    """A ticket opened by its customer at `created_at` (the services stamp the wall clock; the
    timers read these fields)."""
    ticket = make_ticket(**fields)
    # The service started timers at the wall clock; these tests replay the ticket's life at chosen
    # instants, so they start from none and sync at `created_at` themselves.
    SlaTimer.objects.filter(ticket=ticket).delete()
    Event.objects.filter(ticket=ticket, kind__startswith="sla_").delete()
    Ticket.objects.filter(pk=ticket.pk).update(created_at=created_at, last_customer_message_at=created_at)
    ticket.refresh_from_db()
    return ticket


def set_fields(ticket: Ticket, **fields: Any) -> Ticket:
    """Change the ticket's fields directly, leaving the timers to the sync the test calls at its chosen instant."""
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    ticket.refresh_from_db()
    return ticket
