"""Realtime events: sent by services, only after the transaction commits, to Channels groups.

An event is a dict with a `type` key. Payloads carry ids and changed values only; browsers fetch
anything more through the role-scoped HTTP views, so a socket can never leak what a page would not.

Sending from synchronous code (every WSGI request, Celery task and service) goes through one
event loop per process, running in a daemon thread. `async_to_sync` would start a new loop in a
new thread for every call, and channels-redis keeps its connection pool per loop, so every group
send paid for a thread, a loop and a new Redis connection (about 4 ms each, 15–20 ms per ticket).
On the long-lived loop the pool stays open and all the groups of a commit are sent concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

ALL_TICKETS_GROUP = "tickets-all"
# Every staff socket: told when the metric rollups changed ({"type": "metrics.updated"}), so open
# dashboards fetch their figures again (each with its own filters and role scope).
METRICS_GROUP = "metrics"
# How long a request waits for Redis to take its events. The request has already committed, so
# a slow or dead Redis costs at most this much and is logged; the events are then dropped.
SEND_TIMEOUT_SECONDS = 5.0
# Group sends in flight at once, per sending loop.
SEND_CONCURRENCY = 16

Delivery = tuple[Sequence[str], dict[str, Any]]


def ticket_group(ticket_id: int) -> str:
    return f"ticket-{ticket_id}"


def team_group(team_id: int | None) -> str:
    return f"team-{team_id}" if team_id else "team-none"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def customer_group(customer_id: int) -> str:
    return f"customer-{customer_id}"


def chat_group(chat_id: int) -> str:
    """A live chat's visitor socket and the agents in it (channels_intake.chat)."""
    return f"chat-{chat_id}"


class _SenderLoop:
    """The process's sending loop, started on first use (and again in a forked child, e.g. a gunicorn worker)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            return loop
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="realtime-sender", daemon=True)
                self._thread.start()
            return self._loop

    def forget(self) -> None:
        # In a forked child the thread is gone and the lock may be held by a thread that no longer exists.
        self._lock = threading.Lock()
        self._loop = self._thread = None


_sender = _SenderLoop()
os.register_at_fork(after_in_child=_sender.forget)


async def _group_send_all(layer: Any, sends: list[tuple[str, dict[str, Any]]]) -> list[BaseException | None]:
    if hasattr(layer, "group_send_many"):  # helpdesk.channel_layer: all of them in one round trip
        try:
            await layer.group_send_many(sends)
        except Exception as error:  # noqa: BLE001 - reported per group by the caller
            return [error] * len(sends)
        return [None] * len(sends)
    # Another layer (channels-redis' default one): each group send holds a connection of the layer's pool for its three Redis commands; a batch
    # of chat lines has hundreds of them, and all at once they emptied the pool ("Too many
    # connections": events dropped). A few at a time keep Redis just as busy.
    limit = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(group: str, message: dict[str, Any]) -> None:
        async with limit:
            await layer.group_send(group, message)

    results = await asyncio.gather(*(send(group, message) for group, message in sends), return_exceptions=True)
    return [result if isinstance(result, BaseException) else None for result in results]


def send_many(deliveries: Iterable[Delivery]) -> None:
    """Send each event to each of its groups, all at once; waits until Redis has them (or gives up).

    Never raises: a realtime hiccup must not fail a request that already committed. A group that
    fails is logged and does not stop the others.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    sends: list[tuple[str, dict[str, Any]]] = []
    for groups, event in deliveries:
        message: dict[str, Any] = {"type": "realtime.event", "event": event}
        sends += [(group, message) for group in dict.fromkeys(groups)]
    if not sends:
        return
    future = None
    try:
        future = asyncio.run_coroutine_threadsafe(_group_send_all(layer, sends), _sender.get())
        results = future.result(timeout=SEND_TIMEOUT_SECONDS)
    except Exception:
        if future is not None:
            future.cancel()
        logger.exception("realtime send failed", extra={"groups": [group for group, _ in sends],
                                                        "event_types": [m["event"].get("type") for _, m in sends]})
        return
    for (group, message), error in zip(sends, results, strict=True):
        if error is not None:
            logger.error("realtime send failed", exc_info=error,
                         extra={"group": group, "event_type": message["event"].get("type")})


def send_now(groups: Iterable[str], event: dict[str, Any]) -> None:
    send_many([(list(groups), event)])


def broadcast_many_after_commit(deliveries: Iterable[Delivery]) -> None:
    """Send several (groups, event) pairs once the transaction commits, in one trip to Redis."""
    deliveries = [(list(groups), event) for groups, event in deliveries]
    for _groups, event in deliveries:
        assert "type" in event, "realtime events need a type"
    transaction.on_commit(lambda: send_many(deliveries))


def broadcast_after_commit(groups: Iterable[str], event: dict[str, Any]) -> None:
    broadcast_many_after_commit([(list(groups), event)])
