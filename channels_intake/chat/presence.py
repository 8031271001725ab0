"""Agents' chat presence (online / away / offline) and whether a chat's visitor is still around:
ephemeral, in Redis with a TTL.

The agent's browser sends a heartbeat every HEARTBEAT_SECONDS; a key not refreshed within
HELPDESK_CHAT_PRESENCE_TTL_SECONDS (45 s) expires, and the agent counts as offline: a closed laptop
takes no chats. Nothing here is a ticket's state, so it writes no audit events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.conf import settings

from helpdesk.heartbeat import redis_client

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
STATUSES = (ONLINE, AWAY, OFFLINE)
HEARTBEAT_SECONDS = 15
DEFAULT_TTL_SECONDS = 45
KEY_PREFIX = "helpdesk:chat:presence"


def presence_ttl_seconds() -> int:
    return int(getattr(settings, "HELPDESK_CHAT_PRESENCE_TTL_SECONDS", DEFAULT_TTL_SECONDS))


def _key(user_id: int) -> str:
    return f"{KEY_PREFIX}:{user_id}"


def _status(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode()
    return value if isinstance(value, str) and value in STATUSES else OFFLINE


def presence_write(*, user_id: int, status: str) -> str:
    """Store the status (refreshing its TTL); returns the status it replaced (offline when none).

    Online (each heartbeat) also stamps the agent's "last seen online" (`presence_last_online`).
    """
    if status not in STATUSES:
        raise ValueError(f"unknown chat presence {status!r}")
    client = redis_client()
    if status == OFFLINE:
        return _status(client.getdel(_key(user_id)))
    if status == ONLINE:
        pipeline = client.pipeline(transaction=False)
        pipeline.set(_key(user_id), status, ex=presence_ttl_seconds(), get=True)
        pipeline.set(_online_at_key(user_id), datetime.now(tz=UTC).isoformat(), ex=LAST_ONLINE_TTL_SECONDS)
        previous, _stamped = pipeline.execute()
        return _status(previous)
    return _status(client.set(_key(user_id), status, ex=presence_ttl_seconds(), get=True))


def presence_read(*, user_id: int) -> str:
    return _status(redis_client().get(_key(user_id)))


def presence_read_many(user_ids: Iterable[int]) -> dict[int, str]:
    """Each user's status in one round trip."""
    ids = list(user_ids)
    if not ids:
        return {}
    values = redis_client().mget([_key(user_id) for user_id in ids])
    return {user_id: _status(value) for user_id, value in zip(ids, values, strict=True)}


# --- last seen online ------------------------------------------------------------------------------
# When each agent was last online (their last heartbeat while online), kept for a month: first-contact
# ownership (tickets.assignment) keeps a ticket with its owner unless they have been away or offline
# for longer than their team allows.

LAST_ONLINE_KEY_PREFIX = "helpdesk:chat:presence-online-at"
LAST_ONLINE_TTL_SECONDS = 30 * 24 * 3600


def _online_at_key(user_id: int) -> str:
    return f"{LAST_ONLINE_KEY_PREFIX}:{user_id}"


def presence_last_online(*, user_id: int) -> datetime | None:
    """When the agent was last online; None if not within LAST_ONLINE_TTL_SECONDS (or never)."""
    value = redis_client().get(_online_at_key(user_id))
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.decode() if isinstance(value, bytes) else str(value))
    except ValueError:
        return None


# --- visitors ------------------------------------------------------------------------------------
# Whether a chat's visitor is still around: a key per chat, set when their widget connects, on its
# keep-alive pings and when it disconnects, expiring HELPDESK_CHAT_IDLE_END_MINUTES later. While it
# exists the idle sweep (channels_intake.chat.idle) leaves the chat alone.

VISITOR_KEY_PREFIX = "helpdesk:chat:visitor-seen"
DEFAULT_IDLE_END_MINUTES = 30


def idle_end_minutes() -> float:
    return float(getattr(settings, "HELPDESK_CHAT_IDLE_END_MINUTES", DEFAULT_IDLE_END_MINUTES))


def _visitor_key(chat_id: int) -> str:
    return f"{VISITOR_KEY_PREFIX}:{chat_id}"


def visitor_seen(*, chat_id: int) -> None:
    """The chat's visitor is here now (their widget connected, pinged or just left)."""
    redis_client().set(_visitor_key(chat_id), "1", ex=max(1, int(idle_end_minutes() * 60)))


def visitors_seen_lately(chat_ids: Iterable[int]) -> set[int]:
    """Which of these chats had their visitor's widget connected within the idle window (one round trip)."""
    ids = list(chat_ids)
    if not ids:
        return set()
    values = redis_client().mget([_visitor_key(chat_id) for chat_id in ids])
    return {chat_id for chat_id, value in zip(ids, values, strict=True) if value is not None}
