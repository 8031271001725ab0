"""Pieces every ticket service shares: locking, realtime fan-out, actor checks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from helpdesk import realtime
from tickets.models import Ticket, User


def lock_ticket(ticket: Ticket) -> Ticket:
    """Re-read the ticket under a row lock so concurrent changes serialise instead of overwriting."""
    return Ticket.objects.select_for_update(of=("self",)).select_related("requester", "team", "assignee").get(
        pk=ticket.pk
    )


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "status": ticket.status,
        "priority": ticket.priority,
        "team": ticket.team_id,
        "assignee": ticket.assignee_id,
        "updated_at": (ticket.updated_at or timezone.now()).isoformat(),
    }


def emit_ticket_event(
    ticket: Ticket, event_type: str, *, changes: dict[str, Any] | None = None, is_public: bool = True,
    previous_team_id: int | None = None, previous_assignee_id: int | None = None, extra: dict[str, Any] | None = None,
) -> None:
    """Tell everyone who may see `ticket` that it changed, after the transaction commits.

    Internal changes (notes) never go to the customer's group. The ticket's metrics are refreshed
    in the workers' next batch after the commit (a Redis round trip once committed). Then the
    triggers and assignment routing react to the change (tickets.services.reactions), in the same
    transaction.
    """
    from metrics.services import metrics_refresh_after_commit
    from tickets.services.reactions import ticket_after_change

    realtime.broadcast_many_after_commit(ticket_event_deliveries(
        ticket, event_type, changes=changes, is_public=is_public, previous_team_id=previous_team_id,
        previous_assignee_id=previous_assignee_id, extra=extra,
    ))
    metrics_refresh_after_commit(ticket_id=ticket.pk)
    ticket_after_change(ticket, event_type=event_type, changes=changes, extra=extra)


def ticket_event_deliveries(
    ticket: Ticket, event_type: str, *, changes: dict[str, Any] | None = None, is_public: bool = True,
    previous_team_id: int | None = None, previous_assignee_id: int | None = None, extra: dict[str, Any] | None = None,
) -> list[realtime.Delivery]:
    """The (groups, event) pairs of `emit_ticket_event`, for a service that sends many tickets'
    events in one trip after its commit."""
    groups = [
        realtime.ticket_group(ticket.pk),
        realtime.team_group(ticket.team_id),
        realtime.ALL_TICKETS_GROUP,
    ]
    if previous_team_id != ticket.team_id and previous_team_id is not None:
        groups.append(realtime.team_group(previous_team_id))
    for user_id in dict.fromkeys((ticket.assignee_id, previous_assignee_id)):
        if user_id is not None:
            groups.append(realtime.user_group(user_id))
    event = {"type": event_type, "ticket": ticket_summary(ticket), "changes": changes or {}, **(extra or {})}
    deliveries: list[realtime.Delivery] = [(groups, event)]
    if is_public:
        customer_event = {"type": event_type, "ticket": {"number": ticket.number, "status": ticket.status}}
        deliveries.append(([realtime.customer_group(ticket.requester_id)], customer_event))
    return deliveries


# Changes of these fields can start, pause, meet or re-target SLA timers (or pick another policy).
SLA_FIELDS = frozenset({"status", "priority", "type", "team", "tags", "first_responded_at", "last_agent_reply_at",
                        "last_customer_message_at", "merged_into"})


def sync_sla(ticket: Ticket, *, reason: str) -> None:
    """Bring the ticket's SLA timers in line with the change just made, in the same transaction.

    Every ticket service calls this after it saved the ticket: the timers are never a step behind
    the ticket (a failure here fails the change), and the scan of the workers reads due times only.
    A change that rules or routing make while they react to another change of the same ticket only
    marks their pass, which syncs once when it ends (tickets.services.reactions.sla_sync_pending),
    still in the transaction.
    """
    from tickets.services.reactions import running_context
    from tickets.sla.services import sla_timers_sync

    if not settings.HELPDESK_SLA_TIMERS:
        return
    context = running_context(ticket.pk)
    if context is not None:
        context.sla_ticket, context.sla_reason = ticket, reason
        return
    sla_timers_sync(ticket=ticket, now=timezone.now(), reason=reason)


def require(condition: bool, message: str = "") -> None:
    if not condition:
        raise PermissionDenied(message)


def via_for(actor: User | None, via: str | None) -> str:
    return via or ("web" if actor is not None else "system")
