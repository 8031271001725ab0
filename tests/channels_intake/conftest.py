"""Fixtures of the intake tests: Celery run in-process, a team that owns support@example.com."""

from __future__ import annotations

import pytest

from tests.channels_intake.helpers import SUPPORT_ADDRESS
from tests.factories import make_team


@pytest.fixture
def celery_eager():
    """Run tasks where they are queued (the on-commit callback of the door that stored the mail)."""
    from helpdesk.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def support_team(db):
    return make_team(name="Support", slug="support", email_addresses=[SUPPORT_ADDRESS])
