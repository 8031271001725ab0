"""Abuse limits of the chat widget: message rate per visitor, message size, connections per address.

Counters in Redis: fixed one-minute windows for the rate; for connections, a sorted set per
address of connection ids scored with their expiry, pushed on by each socket's frames, so a socket
that vanished without disconnecting stops counting after HELPDESK_CHAT_CONNECTION_TTL_SECONDS. Limits are settings read when used. Redis trouble lets the visitor through (logged):
a chat must not go down with its rate limiter.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from helpdesk.heartbeat import redis_client

logger = logging.getLogger(__name__)
KEY_PREFIX = "helpdesk:chat:limit"
# A visitor socket counts against its address this long after it connected or last sent a frame
# (the widget pings every 25 s); one that vanished without disconnecting (a killed process) stops
# counting then.
DEFAULT_CONNECTION_TTL_SECONDS = 90


def messages_per_minute() -> int:
    return int(getattr(settings, "HELPDESK_CHAT_MESSAGES_PER_MINUTE", 30))


def max_message_chars() -> int:
    return int(getattr(settings, "HELPDESK_CHAT_MAX_MESSAGE_CHARS", 4000))


def max_connections_per_ip() -> int:
    return int(getattr(settings, "HELPDESK_CHAT_MAX_CONNECTIONS_PER_IP", 20))


def message_size_allowed(body: str) -> bool:
    return len(body) <= max_message_chars()


def visitor_message_allowed(*, visitor_key: str) -> bool:
    """Count one message of this visitor (their chat's visitor id); False past the per-minute limit."""
    return visitor_messages_allowed(visitor_keys=[visitor_key])[0]


def visitor_messages_allowed(*, visitor_keys: list[str]) -> list[bool]:
    """Count one message for each key, in order (a visitor may appear more than once), in one
    round trip to Redis; for each, False past the per-minute limit."""
    window = int(time.time() // 60)
    try:
        pipe = redis_client().pipeline(transaction=False)
        for visitor_key in visitor_keys:
            key = f"{KEY_PREFIX}:messages:{visitor_key}:{window}"
            pipe.incr(key)
            pipe.expire(key, 120)
        replies = pipe.execute()
    except Exception:
        logger.exception("chat message rate check failed")
        return [True] * len(visitor_keys)
    limit = messages_per_minute()
    return [int(count) <= limit for count in replies[::2]]


def connection_ttl_seconds() -> int:
    return int(getattr(settings, "HELPDESK_CHAT_CONNECTION_TTL_SECONDS", DEFAULT_CONNECTION_TTL_SECONDS))


def _connections_key(ip: str) -> str:
    return f"{KEY_PREFIX}:connection-set:{ip}"


def connection_acquire(*, ip: str, connection_id: str, now: float | None = None) -> bool:
    """Count the connection `connection_id` from `ip`; False (and not counted) past the limit.

    Each connection is a member of the address's sorted set, scored with the time it stops
    counting unless `connection_refresh` pushes that on (the socket's keep-alive does): a socket
    whose process was killed before it could release itself stops counting after the TTL, so the
    count cannot creep up until an address is locked out.
    """
    key = _connections_key(ip)
    now = time.time() if now is None else now
    ttl = connection_ttl_seconds()
    try:
        client = redis_client()
        pipe = client.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {connection_id: now + ttl})
        pipe.zcard(key)
        pipe.expire(key, ttl)
        count = pipe.execute()[2]
        if int(count) > max_connections_per_ip():
            client.zrem(key, connection_id)
            return False
    except Exception:
        logger.exception("chat connection count failed")
    return True


def connection_refresh(*, ip: str, connection_id: str, now: float | None = None) -> None:
    """The connection is still there (a keep-alive): it counts for another TTL. Re-adds it after a
    Redis restart, so the count is right again within one keep-alive."""
    key = _connections_key(ip)
    now = time.time() if now is None else now
    ttl = connection_ttl_seconds()
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.zadd(key, {connection_id: now + ttl})
        pipe.expire(key, ttl)
        pipe.execute()
    except Exception:
        logger.exception("chat connection refresh failed")


def connection_release(*, ip: str, connection_id: str) -> None:
    try:
        redis_client().zrem(_connections_key(ip), connection_id)
    except Exception:
        logger.exception("chat connection release failed")


def connection_count(*, ip: str, now: float | None = None) -> int:
    """The connections from `ip` that count now (those not expired)."""
    now = time.time() if now is None else now
    return int(redis_client().zcount(_connections_key(ip), f"({now}", "+inf"))
