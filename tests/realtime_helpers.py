"""Listening to the real channel layer in tests: the realtime events an action sends after commit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer


def events_during(groups: Iterable[str], action: Callable[[], Any]) -> list[dict[str, Any]]:
    """Run `action` while one channel listens on `groups`; the events received (one event loop throughout)."""
    groups = list(groups)

    async def listen() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        for group in groups:
            await layer.group_add(group, channel)
        await sync_to_async(action)()
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), timeout=0.5))
            except TimeoutError:
                break
        for group in groups:
            await layer.group_discard(group, channel)
        return [message["event"] for message in received]

    return async_to_sync(listen)()
