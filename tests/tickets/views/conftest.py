"""Fixtures the agent workspace's view tests share: two teams and a signed-in agent of Support."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_agent, make_team


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
def agent_client(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client
