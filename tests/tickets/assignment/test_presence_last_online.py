"""Presence remembers when an agent was last online (first-contact ownership reads it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels_intake.chat import presence
from tests.factories import make_agent, make_team
from tests.tickets.assignment.conftest import last_online_ago
from tickets.assignment.services import owner_is_away_too_long

pytestmark = pytest.mark.django_db


def test_going_online_stamps_the_time_and_going_away_or_offline_keeps_it():
    assert presence.presence_last_online(user_id=41) is None

    assert presence.presence_write(user_id=41, status=presence.ONLINE) == presence.OFFLINE
    stamped = presence.presence_last_online(user_id=41)
    assert stamped is not None and abs(datetime.now(tz=UTC) - stamped) < timedelta(seconds=5)

    assert presence.presence_write(user_id=41, status=presence.AWAY) == presence.ONLINE
    assert presence.presence_write(user_id=41, status=presence.OFFLINE) == presence.AWAY
    assert presence.presence_last_online(user_id=41) == stamped
    assert presence.presence_read(user_id=41) == presence.OFFLINE


def test_an_owner_is_away_too_long_only_when_not_online_past_the_teams_minutes():
    team = make_team(ownership_away_minutes=15)
    owner = make_agent(team)

    assert owner_is_away_too_long(user_id=owner.pk, team=team)  # never seen online
    presence.presence_write(user_id=owner.pk, status=presence.ONLINE)
    last_online_ago(owner, minutes=600)
    assert not owner_is_away_too_long(user_id=owner.pk, team=team)  # online now: the stamp does not matter
    presence.presence_write(user_id=owner.pk, status=presence.AWAY)
    last_online_ago(owner, minutes=14)
    assert not owner_is_away_too_long(user_id=owner.pk, team=team)
    last_online_ago(owner, minutes=16)
    assert owner_is_away_too_long(user_id=owner.pk, team=team)
