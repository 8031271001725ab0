"""The worker heartbeat: Celery beat asks a worker every 15 s to stamp Redis; /readyz reads it."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import redis
from django.conf import settings

HEARTBEAT_KEY = "helpdesk:worker-heartbeat"
# Long enough to outlive a few missed beats; /readyz decides what counts as recent.
HEARTBEAT_TTL_SECONDS = 300


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    """A client for settings.REDIS_URL, read at call time so tests can override it."""
    return _client(settings.REDIS_URL)


def worker_heartbeat_record(*, at: datetime | None = None) -> datetime:
    """Store `at` (default now, UTC) as the latest sign of life of a worker."""
    moment = at or datetime.now(tz=UTC)
    redis_client().set(HEARTBEAT_KEY, moment.isoformat(), ex=HEARTBEAT_TTL_SECONDS)
    return moment


def worker_heartbeat_last() -> datetime | None:
    """When a worker last ran the heartbeat task, or None if none did within the TTL."""
    value = redis_client().get(HEARTBEAT_KEY)
    if value is None:
        return None
    return datetime.fromisoformat(value.decode())
