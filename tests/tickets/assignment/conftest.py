"""Fixtures for assignment routing: teams with a strategy, agents whose presence is set in Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels_intake.chat import presence
from helpdesk.heartbeat import redis_client
from tests.factories import make_agent, make_team
from tickets.models import AgentProfile, RoutingStrategy, Team, User


def online(user: User) -> User:
    presence.presence_write(user_id=user.pk, status=presence.ONLINE)
    return user


def away(user: User) -> User:
    presence.presence_write(user_id=user.pk, status=presence.AWAY)
    return user


def last_online_ago(user: User, minutes: float) -> None:
    """As if the agent's last heartbeat while online was `minutes` ago."""
    moment = datetime.now(tz=UTC) - timedelta(minutes=minutes)
    redis_client().set(f"{presence.LAST_ONLINE_KEY_PREFIX}:{user.pk}", moment.isoformat())


def routed_team(strategy: str = RoutingStrategy.ROUND_ROBIN, **fields) -> Team:
    return make_team(routing_strategy=strategy, **fields)


def agent_with(team: Team, *, capacity: int = 25, skills: list[str] = (), languages: list[str] = (),
               is_online: bool = True) -> User:
    agent = make_agent(team)
    AgentProfile.objects.filter(user=agent).update(capacity=capacity, skills=list(skills), languages=list(languages))
    return online(agent) if is_online else agent


@pytest.fixture
def round_robin_team() -> Team:
    return routed_team(RoutingStrategy.ROUND_ROBIN)
