"""Fixtures for API tests: clients authenticated by token (the way integrations call us)."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import make_agent, make_customer, make_team, make_user
from tickets.models import Role


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Many users per test; the product keeps Django's default hasher, tests need not pay for it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def support():
    return make_team("Support", slug="support")


@pytest.fixture
def billing():
    return make_team("Billing", slug="billing")


@pytest.fixture
def agent(support):
    return make_agent(support, username="ada")


@pytest.fixture
def manager():
    return make_user(role=Role.MANAGER, username="mona")


@pytest.fixture
def alice():
    return make_customer(email="alice@example.com", name="Alice")


@pytest.fixture
def bob():
    return make_customer(email="bob@example.com", name="Bob")


@pytest.fixture
def as_agent(agent):
    return token_client(agent)


@pytest.fixture
def as_manager(manager):
    return token_client(manager)


@pytest.fixture
def as_alice(alice):
    return token_client(alice.user)


@pytest.fixture
def as_bob(bob):
    return token_client(bob.user)
