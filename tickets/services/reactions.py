"""What the helpdesk does by itself after a ticket changes: the triggers run, then assignment
routing looks at the result. Called by `emit_ticket_event`, inside the change's transaction, so a
new web-form ticket is already tagged and assigned when the customer's request returns.

Changes that rules or routing make while they run go through the ordinary services and come back
here; they do not start another pass (that would let rules call each other without end) but are
added to the running pass's `changes`, which the engine re-reads between rules.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from tickets.models import AuthorKind, Ticket, TriggerEvent, Visibility

# Changes of these fields are "the ticket was updated" for triggers; bookkeeping (SLA due times,
# mail delivery states, a call entry rewritten) is not.
TRIGGERING_FIELDS = frozenset({
    "status", "priority", "type", "team", "assignee", "tags", "custom_fields", "subject", "requester",
    "merged_from", "escalation_level",
})


@dataclass
class ChangeContext:
    """One pass of rules and routing over one ticket."""

    ticket_id: int
    event: str  # a TriggerEvent value
    # Field → new value, for the change that started the pass and every change made during it.
    changes: dict[str, Any] = field(default_factory=dict)
    # The message that started the pass (the new ticket's description, a reply, a note), if any.
    message_id: int | None = None
    # Rules that fired in this pass (each fires at most once per pass).
    fired_rule_ids: set[int] = field(default_factory=set)
    # A change made during the pass asked for an SLA sync (tickets.services.common.sync_sla): the
    # pass makes it once, at its end or when a rule condition reads the SLA, on the copy of the
    # ticket the latest change saved, instead of once per change (each picks the policy again).
    sla_ticket: Ticket | None = None
    sla_reason: str = ""


_running: ContextVar[dict[int, ChangeContext] | None] = ContextVar("ticket_reactions_running", default=None)


def trigger_event_of(event_type: str, changes: dict[str, Any], extra: dict[str, Any] | None) -> str | None:
    """The trigger event an emitted ticket event stands for; None for bookkeeping."""
    if event_type == "ticket.created":
        return TriggerEvent.CREATED
    if event_type == "ticket.message_added":
        message = (extra or {}).get("message") or {}
        if message.get("visibility") == Visibility.PUBLIC:
            if message.get("author_kind") == AuthorKind.CUSTOMER:
                return TriggerEvent.CUSTOMER_REPLIED
            if message.get("author_kind") == AuthorKind.AGENT:
                return TriggerEvent.AGENT_REPLIED
            return None  # the helpdesk's own automatic mail
        return TriggerEvent.UPDATED  # an internal note
    if event_type == "ticket.updated" and TRIGGERING_FIELDS.intersection(changes or {}):
        return TriggerEvent.UPDATED
    return None


def running_context(ticket_id: int) -> ChangeContext | None:
    """The pass running over this ticket in this call stack, if any."""
    return (_running.get() or {}).get(ticket_id)


def ticket_after_change(
    ticket: Ticket, *, event_type: str, changes: dict[str, Any] | None, extra: dict[str, Any] | None
) -> None:
    event = trigger_event_of(event_type, changes or {}, extra)
    if event is None:
        return
    running = _running.get() or {}
    nested = running.get(ticket.pk)
    if nested is not None:
        nested.changes.update(changes or {})
        return
    message_id = ((extra or {}).get("message") or {}).get("id")
    context = ChangeContext(ticket_id=ticket.pk, event=event, changes=dict(changes or {}), message_id=message_id)
    token = _running.set({**running, ticket.pk: context})
    try:
        from tickets.assignment.services import assignment_after_change
        from tickets.rules.engine import triggers_run

        triggers_run(ticket=ticket, context=context)
        assignment_after_change(ticket=ticket, context=context)
        synced = sla_sync_pending(ticket.pk)
        if synced is not None and synced is not ticket:
            ticket.sla_due_at = synced.sla_due_at  # the caller's copy shows the timers' due time too
    finally:
        _running.reset(token)


def sla_sync_pending(ticket_id: int) -> Ticket | None:
    """Make the SLA sync the running pass over this ticket put off, if any; returns the copy of the
    ticket it synced (its `sla_due_at` is current), None when none was pending."""
    context = running_context(ticket_id)
    if context is None or context.sla_ticket is None:
        return None
    from django.utils import timezone

    from tickets.sla.services import sla_timers_sync

    ticket, context.sla_ticket = context.sla_ticket, None
    sla_timers_sync(ticket=ticket, now=timezone.now(), reason=context.sla_reason)
    return ticket
