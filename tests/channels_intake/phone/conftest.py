"""Fixtures of the phone tests (shared by the webhook and the CDR import tests)."""

from __future__ import annotations

import pytest

from channels_intake.phone.models import AgentExtension
from tests.factories import make_agent, make_team


@pytest.fixture
def phone_team(db):
    return make_team(name="Support", slug="support")


@pytest.fixture
def phone_agent(phone_team):
    agent = make_agent(phone_team, username="ann")
    AgentExtension.objects.create(user=agent, extension="101")
    return agent
