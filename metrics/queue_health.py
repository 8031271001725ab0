"""The agent dashboard's queue health: what is on an agent's plate right now (read from the tickets,
not the rollups: it is about this moment, and an agent's open tickets are few)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from helpdesk import permissions
from tickets.models import ACTIVE_STATUSES, UNSOLVED_STATUSES, SlaTimer, Status, Ticket, TimerState, User


@dataclass(frozen=True)
class QueueHealth:
    active: int  # new or open: waiting on the agent
    waiting_on_others: int  # pending (customer) or on hold (third party)
    sla_breached: int  # running targets past due or marked breached
    sla_at_risk: int  # running targets past their warning point, not yet due
    oldest_waiting: Ticket | None  # the active ticket whose customer has waited longest for an answer


def agent_queue_health(*, user: User) -> QueueHealth:
    """Queue health of the tickets assigned to `user` that `user` may see."""
    now = timezone.now()
    mine = permissions.visible_tickets(user).filter(assignee_id=user.pk, status__in=UNSOLVED_STATUSES)
    counts = mine.aggregate(
        active=Count("pk", filter=Q(status__in=ACTIVE_STATUSES)),
        waiting_on_others=Count("pk", filter=Q(status__in=(Status.PENDING, Status.ON_HOLD))),
    )
    running = SlaTimer.objects.filter(ticket__in=mine.values("pk"), is_current=True, state=TimerState.RUNNING)
    timers = running.aggregate(
        breached=Count("pk", filter=Q(breached_at__isnull=False) | Q(due_at__lte=now)),
        at_risk=Count("pk", filter=Q(breached_at__isnull=True, due_at__gt=now, warning_at__lte=now)),
    )
    # Waiting for an answer: the customer wrote last (or nobody from support has written yet).
    oldest = (
        mine.filter(status__in=ACTIVE_STATUSES)
        .filter(Q(last_agent_reply_at__isnull=True) | Q(last_agent_reply_at__lt=F("last_customer_message_at")))
        .order_by(Coalesce("last_customer_message_at", "created_at"), "pk")
        .only("pk", "number", "subject", "created_at", "last_customer_message_at")
        .first()
    )
    return QueueHealth(
        active=counts["active"], waiting_on_others=counts["waiting_on_others"],
        sla_breached=timers["breached"], sla_at_risk=timers["at_risk"], oldest_waiting=oldest,
    )
