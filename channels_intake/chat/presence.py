"""Agents' chat presence (online / away / offline) and whether a chat's visitor is still around:
ephemeral, in Redis with a TTL.

The agent's browser sends a heartbeat every HEARTBEAT_SECONDS; a key not refreshed within
HELPDESK_CHAT_PRESENCE_TTL_SECONDS (45 s) expires, and the agent counts as offline: a closed laptop
takes no chats. Nothing here is a ticket's state, so it writes no audit events.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    """Store the status (refreshing its TTL); returns the status it replaced (offline when none)."""
    if status not in STATUSES:
        raise ValueError(f"unknown chat presence {status!r}")
    client = redis_client()
    if status == OFFLINE:
        return _status(client.getdel(_key(user_id)))
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
