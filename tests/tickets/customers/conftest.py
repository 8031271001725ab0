"""Fixtures of the customer 360 tests: two teams, an agent of each, a manager, helpers that shape history."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from metrics.models import SurveyResponse
from tests.factories import make_agent, make_team, make_user
from tickets.models import Role, SlaTimer, Ticket


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def support():
    return make_team("Support", slug="support")


@pytest.fixture
def billing():
    return make_team("Billing", slug="billing")


@pytest.fixture
def agent(support):
    return make_agent(support, username="ada", display_name="Ada Agent")


@pytest.fixture
def billing_agent(billing):
    return make_agent(billing, username="bill", display_name="Bill Billing")


@pytest.fixture
def manager():
    return make_user(role=Role.MANAGER, username="mona")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def age(ticket: Ticket, *, days: float, **fields: Any) -> Ticket:
    """Pretend `ticket` was created `days` ago (and set other columns, e.g. status or reopen_count)."""
    Ticket.objects.filter(pk=ticket.pk).update(created_at=timezone.now() - datetime.timedelta(days=days), **fields)
    ticket.refresh_from_db()
    return ticket


def breach(ticket: Ticket, *, metric: str = "first_response") -> SlaTimer:
    now = timezone.now()
    SlaTimer.objects.filter(ticket=ticket, metric=metric).delete()
    return SlaTimer.objects.create(
        ticket=ticket, metric=metric, target_minutes=60, started_at=now - datetime.timedelta(hours=3),
        due_at=now - datetime.timedelta(hours=2), breached_at=now - datetime.timedelta(hours=2),
    )


def rate(ticket: Ticket, score: int, *, days: float = 1, comment: str = "") -> SurveyResponse:
    return SurveyResponse.objects.create(
        kind="csat", score=score, source="email", ticket=ticket, customer_id=ticket.requester_id,
        team_id=ticket.team_id, channel=ticket.channel, organization_id=ticket.organization_id, comment=comment,
        responded_at=timezone.now() - datetime.timedelta(days=days),
    )
