"""Realtime events: sent by services, only after the transaction commits, to Channels groups.

An event is a dict with a `type` key. Payloads carry ids and changed values only; browsers fetch
anything more through the role-scoped HTTP views, so a socket can never leak what a page would not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

ALL_TICKETS_GROUP = "tickets-all"


def ticket_group(ticket_id: int) -> str:
    return f"ticket-{ticket_id}"


def team_group(team_id: int | None) -> str:
    return f"team-{team_id}" if team_id else "team-none"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def customer_group(customer_id: int) -> str:
    return f"customer-{customer_id}"


def send_now(groups: Iterable[str], event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "realtime.event", "event": event}
    for group in dict.fromkeys(groups):
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:
            # A realtime hiccup must never fail the request that already committed.
            logger.exception("realtime send failed", extra={"group": group, "event_type": event.get("type")})


def broadcast_after_commit(groups: Iterable[str], event: dict[str, Any]) -> None:
    assert "type" in event, "realtime events need a type"
    groups = list(groups)
    transaction.on_commit(lambda: send_now(groups, event))
