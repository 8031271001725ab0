"""Who has a ticket open right now (collision detection). Ephemeral: a registry in the Django cache.

The websocket consumer writes here when an agent views, types on or leaves a ticket; entries expire
on their own when a browser stops sending heartbeats. Nothing here is part of the ticket's state,
so it does not go through the services and writes no audit events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

# A browser re-announces itself every HEARTBEAT_SECONDS; an entry older than TTL_SECONDS is gone.
HEARTBEAT_SECONDS = 15
TTL_SECONDS = 40
# "typing" is shown only while keystrokes keep coming.
TYPING_FRESH_SECONDS = 8

VIEWING, TYPING, LEFT = "viewing", "typing", "left"
STATES = (VIEWING, TYPING, LEFT)


@dataclass(frozen=True)
class Presence:
    user_id: int
    name: str
    state: str


def _key(ticket_id: int) -> str:
    return f"presence:ticket:{ticket_id}"


def _fresh(entries: dict, now: float) -> dict:
    return {uid: e for uid, e in entries.items() if now - e.get("seen", 0) < TTL_SECONDS}


def presence_set(*, ticket_id: int, user_id: int, name: str, state: str) -> None:
    """Record (or with LEFT, forget) one agent's presence on a ticket."""
    if state not in STATES:
        raise ValueError(f"unknown presence state {state!r}")
    now = time.time()
    key = _key(ticket_id)
    entries = _fresh(cache.get(key) or {}, now)
    uid = str(user_id)
    if state == LEFT:
        entries.pop(uid, None)
    else:
        previous = entries.get(uid, {})
        typing_at = now if state == TYPING else previous.get("typing_at", 0) if previous.get("state") == TYPING else 0
        entries[uid] = {"name": name[:150], "state": state, "seen": now, "typing_at": typing_at}
    if entries:
        cache.set(key, entries, TTL_SECONDS)
    else:
        cache.delete(key)


def presence_list(*, ticket_id: int, exclude_user_id: int | None = None) -> list[Presence]:
    """Agents on the ticket now, typing first, then by name."""
    now = time.time()
    people = []
    for uid, entry in _fresh(cache.get(_key(ticket_id)) or {}, now).items():
        if exclude_user_id is not None and uid == str(exclude_user_id):
            continue
        typing = entry.get("state") == TYPING and now - entry.get("typing_at", 0) < TYPING_FRESH_SECONDS
        people.append(Presence(user_id=int(uid), name=entry.get("name", ""), state=TYPING if typing else VIEWING))
    return sorted(people, key=lambda p: (p.state != TYPING, p.name.lower()))
