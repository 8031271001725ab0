"""Fixtures of the intake tests: a team that owns support@example.com (Celery in-process: tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.channels_intake.helpers import SUPPORT_ADDRESS
from tests.factories import make_team


@pytest.fixture
def support_team(db):
    return make_team(name="Support", slug="support", email_addresses=[SUPPORT_ADDRESS])
