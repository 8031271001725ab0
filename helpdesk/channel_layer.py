"""The Channels layer: channels-redis over Redis Pub/Sub, with many group sends in one round trip.

Why Pub/Sub and not channels-redis' default (`RedisChannelLayer`): there a group send reads the
group's members from a sorted set and pushes the message into one list per member (three commands
and a Lua script, about 0.75 ms of CPU per group on this machine), and every receive is a blocking
pop of its own. A live chat line goes to six groups (its chat, ticket, team, assignee, customer,
all tickets), which made the layer alone cost more than the 200 lines a second of issue 6 can
afford on two cores. With Pub/Sub a group send is one PUBLISH; Redis pushes it to the processes
subscribed to the group, and each process hands it to its own sockets in memory.

What the events are for allows Pub/Sub's "at most once": every realtime event is a notice of a
change already committed in PostgreSQL, and sockets catch up after a reconnect from the database
(chat resume, page reload), never from the layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from channels_redis import pubsub


class RedisPubSubChannelLayer(pubsub.RedisPubSubChannelLayer):
    async def group_send_many(self, sends: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Send each (group, message): one pipelined round trip per Redis shard for all of them.

        channels-redis sends one PUBLISH per round trip, under a lock per connection, so a commit's
        events (a batch of chat lines: hundreds) would wait for each other's round trips.
        """
        layer = self._get_layer()
        by_shard: dict[Any, list[tuple[str, bytes]]] = {}
        serialized: dict[int, bytes] = {}  # an event sent to several groups is one message object
        for group, message in sends:
            channel = layer._get_group_channel_name(group)
            data = serialized.get(id(message))
            if data is None:
                data = serialized[id(message)] = self.serialize(message)
            by_shard.setdefault(layer._get_shard(channel), []).append((channel, data))
        for shard, publications in by_shard.items():
            # The shard's own connection and lock, as its publish() uses them.
            async with shard._lock:
                shard._ensure_redis()
                pipeline = shard._redis.pipeline(transaction=False)
                for channel, data in publications:
                    pipeline.publish(channel, data)
                await pipeline.execute()
