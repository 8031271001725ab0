"""Changing a ticket's fields: status, assignee, priority, type, team, tags, custom fields.

`ticket_update` applies several changes in one transaction (API PATCH, the sidebar, bulk actions);
the single-field functions are thin wrappers, so every path writes the same events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets import events
from tickets.custom_fields import validate_custom_fields
from tickets.models import ActorKind, Priority, Status, Team, Ticket, TicketType, User
from tickets.services.common import SLA_FIELDS, emit_ticket_event, lock_ticket, sync_sla, via_for
from tickets.services.ticket_create import normalize_tags
from tickets.transitions import check_transition

_UNSET: Any = object()
# What a customer may do with the status of their own ticket.
CUSTOMER_STATUS_CHANGES = {Status.SOLVED: set(Status.values) - {Status.SOLVED, Status.CLOSED}, Status.OPEN: {Status.SOLVED}}


def apply_status(
    *, ticket: Ticket, status: str, actor: User | None, via: str, actor_kind: str | None = None
) -> list[str]:
    """Set the status on a locked ticket (transition already checked), write the event.

    Returns the fields to save; the caller saves once.
    """
    previous = ticket.status
    now = timezone.now()
    fields = ["status", "status_changed_at"]
    ticket.status = status
    ticket.status_changed_at = now
    if status == Status.SOLVED:
        ticket.solved_at = now
        fields.append("solved_at")
    elif status == Status.CLOSED:
        ticket.closed_at = now
        fields.append("closed_at")
    if previous == Status.SOLVED and status == Status.OPEN:
        ticket.reopen_count += 1
        ticket.solved_at = None
        fields += ["reopen_count", "solved_at"]
    events.field_changed(ticket=ticket, actor=actor, via=via, field="status", from_value=previous,
                         to_value=status, actor_kind=actor_kind)
    if previous == Status.SOLVED and status == Status.OPEN:
        events.ticket_reopened(ticket=ticket, actor=actor, via=via, actor_kind=actor_kind)
    if status == Status.SOLVED:
        # The CSAT/NPS surveys are decided by a task once this commits (metrics.surveys).
        from metrics.surveys import surveys_schedule_on_solve

        surveys_schedule_on_solve(ticket=ticket)
    return fields


def _check_customer_status(status: str, current: str) -> None:
    if current not in CUSTOMER_STATUS_CHANGES.get(status, set()):
        raise PermissionDenied(_("You cannot change this request to that status."))


def ticket_update(
    *,
    ticket: Ticket,
    actor: User | None,
    status: str = _UNSET,
    priority: str = _UNSET,
    ticket_type: str = _UNSET,
    team: Team | None = _UNSET,
    assignee: User | None = _UNSET,
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
    tags: Sequence[str] = _UNSET,
    custom_fields: dict[str, Any] = _UNSET,
    subject: str = _UNSET,
    via: str | None = None,
    actor_kind: str | None = None,
) -> Ticket:
    """Apply the given changes atomically; unchanged values write no event. Raises on any refused change.

    actor=None is the system (auto-close, SLA escalations: `actor_kind` names which in the events).
    The system may move a ticket to any team and assign it to anyone who may hold it (active staff of
    its team); a person is held to their role's permissions.
    """
    via = via_for(actor, via)
    is_agent = actor is not None and actor.is_staff_member
    other_changes = (priority, ticket_type, team, assignee, tags, custom_fields, subject)
    if actor is not None and not is_agent and (any(v is not _UNSET for v in other_changes) or add_tags or remove_tags):
        raise PermissionDenied(_("Customers can only mark their request solved or reopen it."))
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        previous_team_id, previous_assignee_id = ticket.team_id, ticket.assignee_id
        fields: list[str] = []
        changes: dict[str, Any] = {}
        unassigned_by_move = False

        def change(field: str, old: Any, new: Any) -> None:
            events.field_changed(ticket=ticket, actor=actor, via=via, field=field, from_value=old, to_value=new,
                                 actor_kind=actor_kind)
            changes[field] = new

        if subject is not _UNSET:
            subject = " ".join(subject.split())[:255]
            if not subject:
                raise ValidationError({"subject": _("The subject cannot be empty.")})
            if subject != ticket.subject:
                change("subject", ticket.subject, subject)
                ticket.subject = subject
                fields.append("subject")
        if priority is not _UNSET and priority != ticket.priority:
            if priority not in Priority.values:
                raise ValidationError({"priority": _("Unknown priority.")})
            change("priority", ticket.priority, priority)
            ticket.priority = priority
            fields.append("priority")
        if ticket_type is not _UNSET and ticket_type != ticket.type:
            if ticket_type not in TicketType.values:
                raise ValidationError({"type": _("Unknown type.")})
            change("type", ticket.type, ticket_type)
            ticket.type = ticket_type
            fields.append("type")
        if team is not _UNSET and (team.pk if team else None) != ticket.team_id:
            if actor is not None and not permissions.can_move_to_team(actor, ticket):
                raise PermissionDenied(_("You cannot move this ticket."))
            change("team", ticket.team_id, team.pk if team else None)
            ticket.team = team
            fields.append("team")
            # An assignee outside the new team would hold a ticket they can no longer see.
            if ticket.assignee_id and team is not None and assignee is _UNSET and not (
                ticket.assignee.team_memberships.filter(team=team).exists() or ticket.assignee.reads_all_tickets
            ):
                assignee = None
                unassigned_by_move = True
        if assignee is not _UNSET and (assignee.pk if assignee else None) != ticket.assignee_id:
            if actor is None:
                allowed = assignee is None or permissions.can_hold(ticket, assignee)
            else:
                allowed = unassigned_by_move or permissions.can_assign_to(actor, ticket, assignee)
            if not allowed:
                raise PermissionDenied(_("You cannot assign this ticket to that person."))
            change("assignee", ticket.assignee_id, assignee.pk if assignee else None)
            ticket.assignee = assignee
            fields.append("assignee")
            if assignee is not None and ticket.status == Status.NEW and status is _UNSET:
                status = Status.OPEN
        new_tags = list(ticket.tags)
        if tags is not _UNSET:
            new_tags = normalize_tags(tags)
        new_tags = [t for t in new_tags if t not in set(normalize_tags(remove_tags))]
        new_tags += [t for t in normalize_tags(add_tags) if t not in new_tags]
        if new_tags != list(ticket.tags):
            change("tags", list(ticket.tags), new_tags)
            ticket.tags = new_tags
            fields.append("tags")
        if custom_fields is not _UNSET:
            cleaned = validate_custom_fields(custom_fields, existing=ticket.custom_fields, enforce_required=False)
            if cleaned != ticket.custom_fields:
                change("custom_fields", ticket.custom_fields, cleaned)
                ticket.custom_fields = cleaned
                fields.append("custom_fields")
        if status is not _UNSET and status != ticket.status:
            if status not in Status.values:
                raise ValidationError({"status": _("Unknown status.")})
            if actor is not None and not is_agent:
                _check_customer_status(status, ticket.status)
            check_transition(ticket.status, status)
            status_actor_kind = ActorKind.CUSTOMER if actor is not None and not is_agent else actor_kind
            fields += apply_status(ticket=ticket, status=status, actor=actor, via=via, actor_kind=status_actor_kind)
            changes["status"] = status
        if fields:
            ticket.save(update_fields=sorted({*fields, "updated_at"}))
            if SLA_FIELDS.intersection(fields):
                sync_sla(ticket, reason="updated")
            emit_ticket_event(
                ticket, "ticket.updated", changes=changes, previous_team_id=previous_team_id,
                previous_assignee_id=previous_assignee_id,
            )
    return ticket


def ticket_set_status(*, ticket: Ticket, status: str, actor: User | None, via: str | None = None) -> Ticket:
    return ticket_update(ticket=ticket, actor=actor, status=status, via=via)


def ticket_assign(*, ticket: Ticket, assignee: User | None, actor: User, via: str | None = None) -> Ticket:
    return ticket_update(ticket=ticket, actor=actor, assignee=assignee, via=via)


def ticket_set_priority(*, ticket: Ticket, priority: str, actor: User, via: str | None = None) -> Ticket:
    return ticket_update(ticket=ticket, actor=actor, priority=priority, via=via)


def ticket_move_to_team(*, ticket: Ticket, team: Team | None, actor: User, via: str | None = None) -> Ticket:
    return ticket_update(ticket=ticket, actor=actor, team=team, via=via)


def ticket_tag(
    *, ticket: Ticket, actor: User, add: Sequence[str] = (), remove: Sequence[str] = (), via: str | None = None
) -> Ticket:
    return ticket_update(ticket=ticket, actor=actor, add_tags=add, remove_tags=remove, via=via)


def tickets_bulk_update(*, tickets: Sequence[Ticket], actor: User, **changes: Any) -> tuple[int, list[tuple[int, str]]]:
    """Apply the same change to many tickets, each in its own transaction.

    Returns (number updated, [(ticket number, reason) for each refused ticket]) so one refusal does
    not undo the rest.
    """
    updated, refused = 0, []
    for ticket in tickets:
        try:
            ticket_update(ticket=ticket, actor=actor, **changes)
            updated += 1
        except (PermissionDenied, ValidationError) as error:
            refused.append((ticket.number, "; ".join(getattr(error, "messages", [str(error)]))))
        except Exception as error:  # TransitionNotAllowed and friends
            refused.append((ticket.number, str(error)))
    return updated, refused


def tickets_close_solved(*, batch_size: int = 500) -> int:
    """Close tickets solved more than HELPDESK_AUTO_CLOSE_DAYS ago. Safe to run on several workers."""
    cutoff = timezone.now() - timedelta(days=settings.HELPDESK_AUTO_CLOSE_DAYS)
    closed = 0
    while True:
        with transaction.atomic():
            batch = list(
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(status=Status.SOLVED, solved_at__lt=cutoff)
                .order_by("solved_at")[:batch_size]
            )
            for ticket in batch:
                ticket_update(ticket=ticket, actor=None, status=Status.CLOSED, via="auto_close")
            closed += len(batch)
        if len(batch) < batch_size:
            return closed
