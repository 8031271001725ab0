"""Abuse limits of the chat widget: message rate per visitor, message size, connections per address.

Counters in Redis (fixed one-minute windows for the rate, a counter with a safety TTL for
connections). Limits are settings read when used. Redis trouble lets the visitor through (logged):
a chat must not go down with its rate limiter.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from helpdesk.heartbeat import redis_client

logger = logging.getLogger(__name__)
KEY_PREFIX = "helpdesk:chat:limit"
# A socket that died without disconnecting (a killed process) stops counting after this long.
CONNECTION_COUNTER_TTL_SECONDS = 3600


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
    window = int(time.time() // 60)
    key = f"{KEY_PREFIX}:messages:{visitor_key}:{window}"
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = pipe.execute()
    except Exception:
        logger.exception("chat message rate check failed")
        return True
    return int(count) <= messages_per_minute()


def connection_acquire(*, ip: str) -> bool:
    """Count one more visitor connection from `ip`; False (and not counted) past the limit."""
    key = f"{KEY_PREFIX}:connections:{ip}"
    try:
        client = redis_client()
        pipe = client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, CONNECTION_COUNTER_TTL_SECONDS)
        count, _ = pipe.execute()
        if int(count) > max_connections_per_ip():
            client.decr(key)
            return False
    except Exception:
        logger.exception("chat connection count failed")
    return True


def connection_release(*, ip: str) -> None:
    key = f"{KEY_PREFIX}:connections:{ip}"
    try:
        client = redis_client()
        if int(client.decr(key)) <= 0:
            client.delete(key)
    except Exception:
        logger.exception("chat connection release failed")
