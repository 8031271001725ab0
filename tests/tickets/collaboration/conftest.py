"""Fixtures of the collaboration tests: two teams, their people, mail to a local SMTP sink."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.channels_intake.outbound.conftest import celery_eager_retrying, smtp_sink  # noqa: F401 - fixtures
from tests.factories import make_agent, make_customer, make_team, make_ticket, make_user
from tickets.models import Role, TicketType

SITE = "https://help.example.com"


@pytest.fixture(autouse=True)
def _fast_and_english(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.HELPDESK_SITE_URL = SITE
    settings.HELPDESK_EMAIL_OUTBOUND_RETRY_SECONDS = 0
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def support():
    return make_team("Support", slug="support")


@pytest.fixture
def billing():
    return make_team("Billing", slug="billing")


@pytest.fixture
def ada(support):
    return make_agent(support, username="ada", display_name="Ada Agent", email="ada@staff.example")


@pytest.fixture
def bo(support):
    return make_agent(support, username="bo", display_name="Bo Agent", email="bo@staff.example")


@pytest.fixture
def lena(support):
    return make_user(role=Role.TEAM_LEAD, username="lena", teams=[support], lead_of=[support],
                     display_name="Lena Lead", email="lena@staff.example")


@pytest.fixture
def bill(billing):
    """An agent of another team: may see none of Support's tickets."""
    return make_agent(billing, username="bill", display_name="Bill Billing", email="bill@staff.example")


@pytest.fixture
def mona():
    return make_user(role=Role.MANAGER, username="mona", display_name="Mona Manager", email="mona@staff.example")


@pytest.fixture
def alice():
    return make_customer(email="alice@example.com", name="Alice")


@pytest.fixture
def ticket(support, alice):
    return make_ticket(team=support, requester=alice, subject="Printer on fire")


@pytest.fixture
def problem(support):
    return make_ticket(team=support, subject="Mail server down", ticket_type=TicketType.PROBLEM)


@pytest.fixture
def act(django_capture_on_commit_callbacks):
    """Run a service the way a request does: its on-commit callbacks (queued tasks) run after it."""

    def act(service, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(*args, **kwargs)

    return act


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def mails_to(sink, address: str) -> list:
    return [delivery.mail for delivery in sink.deliveries if address in delivery.recipients]


def text_of(mail) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


@pytest.fixture
def outbox(smtp_sink, celery_eager_retrying):  # noqa: F811 - the imported fixtures
    """Mail as it really leaves: the notification task runs (eagerly) and sends over SMTP to a sink."""
    return smtp_sink
