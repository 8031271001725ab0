"""Reads of SLA timers (the caller has already decided the ticket may be seen)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from tickets.models import Metric, SlaTimer, Ticket, TimerState

METRIC_ORDER = {metric: position for position, metric in enumerate(Metric.values)}


class TicketSla(TypedDict):
    metric: str
    policy: str | None
    target_minutes: int
    due_at: datetime
    paused: bool
    met_at: datetime | None
    breached_at: datetime | None


def ticket_sla(ticket: Ticket) -> list[TicketSla]:
    """The ticket's current SLA targets in the API shape (PRODUCT.md: ticket JSON `sla`), ordered
    first response, next response, resolution. Cancelled targets are left out; datetimes stay
    aware datetimes for the API's encoder. While paused, `due_at` is the due time as of the pause."""
    timers = (
        SlaTimer.objects.filter(ticket_id=ticket.pk, is_current=True)
        .exclude(state=TimerState.CANCELLED)
        .select_related("policy")
    )
    return [
        {
            "metric": timer.metric,
            "policy": timer.policy.name if timer.policy else None,
            "target_minutes": timer.target_minutes,
            "due_at": timer.due_at,
            "paused": timer.state == TimerState.PAUSED,
            "met_at": timer.met_at,
            "breached_at": timer.breached_at,
        }
        for timer in sorted(timers, key=lambda timer: METRIC_ORDER[timer.metric])
    ]
