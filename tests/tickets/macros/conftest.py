"""Fixtures the macro tests share: two teams, agents in each, a lead, a manager, a customer's ticket."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_agent, make_customer, make_team, make_ticket, make_user
from tickets.models import Macro, Role


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
    return make_agent(support, username="ada", display_name="Ada Lovelace", email="ada@staff.example")


@pytest.fixture
def other_agent(support):
    return make_agent(support, username="ben", display_name="Ben Agent")


@pytest.fixture
def billing_agent(billing):
    return make_agent(billing, username="bill", display_name="Bill Agent")


@pytest.fixture
def lead(support):
    return make_user(role=Role.TEAM_LEAD, username="lena", display_name="Lena Lead", teams=[support],
                     lead_of=[support])


@pytest.fixture
def manager():
    return make_user(role=Role.MANAGER, username="mona", display_name="Mona Manager")


@pytest.fixture
def requester():
    return make_customer(email="alice@example.com", name="Alice Smith")


@pytest.fixture
def ticket(support, requester):
    return make_ticket(requester=requester, team=support, subject="Refund please")


@pytest.fixture
def shared_macro(manager):
    return Macro.objects.create(title="Thanks", reply_text="Hello {{ requester.first_name }}, thanks!",
                                created_by=manager)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
