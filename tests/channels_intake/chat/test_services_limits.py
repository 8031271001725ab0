"""Abuse limits and presence in Redis: counters per visitor and per address, statuses with a TTL."""

from __future__ import annotations

import pytest

from channels_intake.chat import limits, presence
from helpdesk.heartbeat import redis_client


def test_connections_per_address_are_capped_and_released(settings):
    settings.HELPDESK_CHAT_MAX_CONNECTIONS_PER_IP = 2

    assert [limits.connection_acquire(ip="203.0.113.9", connection_id=f"c{n}") for n in range(3)] == [
        True, True, False]
    assert limits.connection_acquire(ip="198.51.100.1", connection_id="x")  # another address is not affected
    limits.connection_release(ip="203.0.113.9", connection_id="c0")
    assert limits.connection_acquire(ip="203.0.113.9", connection_id="c3")
    assert not limits.connection_acquire(ip="203.0.113.9", connection_id="c4")
    assert limits.connection_count(ip="203.0.113.9") == 2


def test_a_connection_that_vanished_without_disconnecting_stops_counting_after_the_ttl(settings):
    """A killed process never releases its sockets: they must not lock the address out for good."""
    settings.HELPDESK_CHAT_MAX_CONNECTIONS_PER_IP = 2
    settings.HELPDESK_CHAT_CONNECTION_TTL_SECONDS = 90
    start = 1_000_000.0
    assert limits.connection_acquire(ip="203.0.113.9", connection_id="killed-1", now=start)
    assert limits.connection_acquire(ip="203.0.113.9", connection_id="alive", now=start)
    assert not limits.connection_acquire(ip="203.0.113.9", connection_id="new", now=start + 60)

    # "alive" keeps pinging; "killed-1" never says anything again.
    limits.connection_refresh(ip="203.0.113.9", connection_id="alive", now=start + 60)

    assert limits.connection_count(ip="203.0.113.9", now=start + 91) == 1
    assert limits.connection_acquire(ip="203.0.113.9", connection_id="new", now=start + 91)
    # The live one still counts: the address is full again.
    assert not limits.connection_acquire(ip="203.0.113.9", connection_id="third", now=start + 92)
    assert 0 < redis_client().ttl(limits._connections_key("203.0.113.9")) <= 90


def test_message_rate_is_per_visitor(settings):
    settings.HELPDESK_CHAT_MESSAGES_PER_MINUTE = 2

    assert [limits.visitor_message_allowed(visitor_key="a") for _ in range(3)] == [True, True, False]
    assert limits.visitor_message_allowed(visitor_key="b")


def test_message_size_limit(settings):
    settings.HELPDESK_CHAT_MAX_MESSAGE_CHARS = 5

    assert limits.message_size_allowed("12345") and not limits.message_size_allowed("123456")


def test_presence_expires_without_heartbeat_and_offline_forgets(settings):
    settings.HELPDESK_CHAT_PRESENCE_TTL_SECONDS = 45

    assert presence.presence_write(user_id=1, status="online") == "offline"
    assert presence.presence_write(user_id=1, status="away") == "online"
    assert 0 < redis_client().ttl(f"{presence.KEY_PREFIX}:1") <= 45
    assert presence.presence_read_many([1, 2]) == {1: "away", 2: "offline"}
    presence.presence_write(user_id=1, status="offline")
    assert presence.presence_read(user_id=1) == "offline"
    with pytest.raises(ValueError):
        presence.presence_write(user_id=1, status="busy")
