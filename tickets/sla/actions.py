"""What a fired SLA warning or breach does: the `on_fire` hook of `sla_scan_due`.

It runs inside the scan's transaction, so everything here either commits with the timer's
`warned_at`/`breached_at` or not at all (a crashed scan fires again, and acts again, next time):

* **warning and breach**: an in-app notice (`sla.warning` / `sla.breached`) to the people
  responsible (`tickets.notifications.sla_recipients`: the assignee, else the team's members; on a
  breach also the policy's escalation contacts), sent after commit. Their email comes from the
  scan's own audit event (`sla_warning` / `sla_breached`), which tickets.notifications turns into
  one mail per recipient (NotificationDelivery), also after commit.
* **breach**: the policy's escalation (raise the priority, add a tag, move to a team, assign to the
  team lead) through `tickets.services.ticket_update`, so it writes the same Events and realtime as
  any change, with `via="sla"` and no user.

The notice is applied after the escalation: it goes to whoever is responsible for the ticket now.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction

from helpdesk import realtime
from tickets.models import ActorKind, SlaPolicy, SlaTimer, Ticket, User
from tickets.notifications import sla_recipients
from tickets.services import ticket_update
from tickets.services.common import ticket_summary
from tickets.sla.services import VIA, SlaFiring

logger = logging.getLogger(__name__)

REALTIME_TYPES = {"warning": "sla.warning", "breach": "sla.breached"}


def sla_fire_actions(firing: SlaFiring) -> None:
    """Act on one fired warning or breach (call inside the scan's transaction; side effects on commit)."""
    timer = SlaTimer.objects.select_related("policy", "ticket").filter(pk=firing.timer_id).first()
    if timer is None:
        return
    policy, ticket = timer.policy, timer.ticket
    is_breach = firing.kind == "breach"
    if is_breach and firing.escalates and policy is not None:
        ticket = sla_escalate(ticket=ticket, policy=policy)
    recipients = sla_recipients(ticket=ticket, policy=policy, is_breach=is_breach)
    sla_notify_in_app(ticket=ticket, firing=firing, recipients=recipients)


def sla_notify_in_app(*, ticket: Ticket, firing: SlaFiring, recipients: list[User]) -> None:
    """Send the `sla.warning` / `sla.breached` notice to each recipient's user group after commit.

    The payload carries the ticket summary the agent socket checks visibility on, the metric and
    the due time; the browser shows its own (translated) text and links to the ticket.
    """
    if not recipients:
        return
    event = {
        "type": REALTIME_TYPES[firing.kind],
        "ticket": ticket_summary(ticket),
        "metric": firing.metric,
        "due_at": firing.due_at.isoformat(),
    }
    realtime.broadcast_after_commit([realtime.user_group(user.pk) for user in recipients], event)


def _team_lead(team_id: int | None) -> User | None:
    if team_id is None:
        return None
    return (
        User.objects.filter(team_memberships__team_id=team_id, team_memberships__is_lead=True, is_active=True)
        .order_by("pk")
        .first()
    )


def sla_escalate(*, ticket: Ticket, policy: SlaPolicy) -> Ticket:
    """Apply `policy`'s breach escalation to `ticket` through the ticket service; returns the ticket.

    Priority and tag are one change; moving team and assigning the lead another, so a refusal of the
    routing (see below) keeps the rest.
    """
    changes: dict[str, object] = {}
    priority = policy.escalated_priority(ticket.priority)
    if priority != ticket.priority:
        changes["priority"] = priority
    if policy.escalate_add_tag:
        changes["add_tags"] = [policy.escalate_add_tag]
    if changes:
        ticket = ticket_update(ticket=ticket, actor=None, via=VIA, actor_kind=ActorKind.SLA, **changes)  # type: ignore[arg-type]
    routing: dict[str, object] = {}
    team_id = ticket.team_id
    if policy.escalate_to_team_id is not None and policy.escalate_to_team_id != ticket.team_id:
        routing["team"] = policy.escalate_to_team
        team_id = policy.escalate_to_team_id
    if policy.escalate_assign_to_lead:
        lead = _team_lead(team_id)
        if lead is not None and lead.pk != ticket.assignee_id:
            routing["assignee"] = lead
    if routing:
        try:
            # A savepoint: a refused routing must not undo the scan's marks or the changes above.
            with transaction.atomic():
                ticket = ticket_update(
                    ticket=ticket, actor=None, via=VIA, actor_kind=ActorKind.SLA, **routing  # type: ignore[arg-type]
                )
        except PermissionDenied:
            # The system assigns only someone who may hold the ticket (active staff of its team); a
            # lead who lost that since the policy was written is logged, and the rest stands.
            logger.warning("SLA escalation of ticket #%s: ticket_update refused %s for the system actor",
                           ticket.number, sorted(routing))
    return ticket
