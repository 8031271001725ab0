"""Working a ticket together: following it, linking it to other tickets, and sending a problem's fix
to all of its incidents at once.

Who may do what (helpdesk.permissions decides what a user may see and work):
- follow or unfollow a ticket oneself: staff who may work it;
- add or remove another agent as a follower: a lead of the ticket's team, a manager or an admin, and
  only an active agent of that team (or one who reads every ticket) who may work it;
- link, unlink, solve a problem's incidents: staff who may work both tickets.
Following is not a change of the ticket, but it is audited like one (who made whom a follower).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from helpdesk import permissions, realtime
from tickets import events
from tickets.models import (
    UNSOLVED_STATUSES,
    LinkKind,
    Status,
    Ticket,
    TicketFollower,
    TicketLink,
    TicketType,
    User,
)
from tickets.services.common import lock_ticket, ticket_event_deliveries, via_for

# Sent to the ticket's viewers after a follower or link change, so the collaboration panel reloads.
REALTIME_TYPE = "ticket.collaboration_changed"


def _announce(*tickets: Ticket) -> None:
    # Internal (never to the customer); the trigger and routing hook is not involved: nothing of the
    # ticket itself changed.
    realtime.broadcast_many_after_commit([
        delivery for ticket in tickets
        for delivery in ticket_event_deliveries(ticket, REALTIME_TYPE, is_public=False)
    ])


# --- followers ------------------------------------------------------------------------------------


def can_manage_followers(actor: User, ticket: Ticket) -> bool:
    """Whether `actor` may add or remove *other* agents as followers of `ticket`."""
    if not permissions.can_work_ticket(actor, ticket):
        return False
    return permissions.reads_all_tickets(actor) or (
        ticket.team_id is not None and ticket.team_id in permissions.lead_team_ids_of(actor)
    )


def _check_follower(*, ticket: Ticket, user: User, actor: User) -> None:
    if not permissions.can_work_ticket(actor, ticket):
        raise PermissionDenied(_("You cannot work on this ticket."))
    if user.pk != actor.pk:
        if not can_manage_followers(actor, ticket):
            raise PermissionDenied(_("Only a lead of the ticket's team or a manager can change other agents' following."))
        if not user.is_active or not permissions.can_work_ticket(user, ticket):
            raise ValidationError(_("%(name)s cannot see this ticket.") % {"name": user.name}, code="no_access")


def follower_add(*, ticket: Ticket, user: User, actor: User, via: str | None = None) -> TicketFollower:
    """Make `user` a follower of `ticket` (idempotent: following twice changes nothing)."""
    _check_follower(ticket=ticket, user=user, actor=actor)
    via = via_for(actor, via)
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        follower, created = TicketFollower.objects.get_or_create(ticket=ticket, user=user)
        if created:
            events.follower_changed(ticket=ticket, actor=actor, via=via, follower=user, is_following=True)
            _announce(ticket)
    return follower


def follower_remove(*, ticket: Ticket, user: User, actor: User, via: str | None = None) -> bool:
    """Stop `user` following `ticket`; False if they did not follow it."""
    if user.pk != actor.pk and not can_manage_followers(actor, ticket):
        raise PermissionDenied(_("Only a lead of the ticket's team or a manager can change other agents' following."))
    if not permissions.is_staff_member(actor) or not permissions.can_view_ticket(actor, ticket):
        raise PermissionDenied(_("You cannot work on this ticket."))
    via = via_for(actor, via)
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        deleted, _rows = TicketFollower.objects.filter(ticket=ticket, user=user).delete()
        if deleted:
            events.follower_changed(ticket=ticket, actor=actor, via=via, follower=user, is_following=False)
            _announce(ticket)
    return bool(deleted)


# --- links ----------------------------------------------------------------------------------------


def _lock_pair(first: Ticket, second: Ticket) -> tuple[Ticket, Ticket]:
    # In id order, so two opposite link changes cannot deadlock.
    locked = {ticket.pk: ticket for ticket in Ticket.objects.select_for_update(of=("self",))
              .select_related("requester", "team", "assignee")
              .filter(pk__in=[first.pk, second.pk]).order_by("pk")}
    return locked[first.pk], locked[second.pk]


def _check_pair(actor: User, first: Ticket, second: Ticket) -> None:
    if not (permissions.can_work_ticket(actor, first) and permissions.can_work_ticket(actor, second)):
        raise PermissionDenied(_("You cannot link these tickets."))


def ticket_link(*, ticket: Ticket, other: Ticket, kind: str, actor: User, via: str | None = None) -> TicketLink:
    """Link `ticket` to `other`: `related`, or `incident_of` (`ticket` is an incident of the problem `other`).

    A pair of tickets has at most one link; a ticket is an incident of at most one problem, and
    only a ticket of type problem has incidents.
    """
    if kind not in LinkKind.values:
        raise ValidationError(_("Choose how the tickets are linked."), code="kind")
    if ticket.pk == other.pk:
        raise ValidationError(_("A ticket cannot be linked to itself."), code="self")
    _check_pair(actor, ticket, other)
    via = via_for(actor, via)
    with transaction.atomic():
        ticket, other = _lock_pair(ticket, other)
        if kind == LinkKind.INCIDENT_OF:
            if other.type != TicketType.PROBLEM:
                raise ValidationError(
                    _("Ticket #%(number)s is not a problem: set its type to Problem first.") % {"number": other.number},
                    code="not_problem",
                )
            if TicketLink.objects.filter(source=ticket, kind=LinkKind.INCIDENT_OF).exists():
                raise ValidationError(_("This ticket is already an incident of a problem."), code="has_problem")
            source, target = ticket, other
        else:
            # Stored once per pair, the lower id first, whichever side it was made from.
            source, target = (ticket, other) if ticket.pk < other.pk else (other, ticket)
        if TicketLink.objects.filter(Q(source=ticket, target=other) | Q(source=other, target=ticket)).exists():
            raise ValidationError(_("These tickets are already linked."), code="exists")
        try:
            with transaction.atomic():
                link = TicketLink.objects.create(source=source, target=target, kind=kind, created_by=actor)
        except IntegrityError:
            raise ValidationError(_("These tickets are already linked."), code="exists") from None
        events.tickets_linked(source=source, target=target, kind=kind, actor=actor, via=via)
        _announce(source, target)
    return link


def ticket_unlink(*, link: TicketLink, actor: User, via: str | None = None) -> None:
    """Remove a link; recorded on both tickets."""
    source, target = link.source, link.target
    _check_pair(actor, source, target)
    via = via_for(actor, via)
    with transaction.atomic():
        source, target = _lock_pair(source, target)
        deleted, _rows = TicketLink.objects.filter(pk=link.pk).delete()
        if not deleted:
            return  # removed meanwhile: nothing left to record
        events.tickets_linked(source=source, target=target, kind=link.kind, actor=actor, via=via, is_linked=False)
        _announce(source, target)


@dataclass
class ProblemSolveResult:
    problem: Ticket
    solved: list[Ticket]
    # Unsolved incidents the actor may not work (another team's): left as they are.
    skipped: list[Ticket]


def problem_solve_and_notify(*, problem: Ticket, body_text: str, actor: User, via: str | None = None) -> ProblemSolveResult:
    """Solve a problem and tell each of its unsolved incidents' requesters, in one transaction.

    Every incident the actor may work gets `body_text` as a public reply (mailed to its requester
    like any agent reply) and is solved, through `ticket_reply`; then the problem is solved. Events
    on the problem (`incidents_solved`) and on each incident (`solved_with_problem`) say why.
    All or nothing: if one incident cannot be solved, nothing is sent.
    """
    from tickets.services import ticket_reply, ticket_update

    if not permissions.can_work_ticket(actor, problem):
        raise PermissionDenied(_("You cannot work on this ticket."))
    if problem.type != TicketType.PROBLEM:
        raise ValidationError(_("Only a problem ticket has incidents."), code="not_problem")
    if not (body_text or "").strip():
        raise ValidationError(_("Write the reply the incidents' requesters get."), code="empty")
    via = via_for(actor, via)
    incidents = list(
        Ticket.objects.filter(links_out__target=problem, links_out__kind=LinkKind.INCIDENT_OF,
                              status__in=UNSOLVED_STATUSES, merged_into__isnull=True)
        .select_related("requester", "team", "assignee").order_by("pk")
    )
    workable = [incident for incident in incidents if permissions.can_work_ticket(actor, incident)]
    skipped = [incident for incident in incidents if incident not in workable]
    with transaction.atomic():
        solved = []
        for incident in workable:
            message = ticket_reply(ticket=incident, actor=actor, body_text=body_text, status=Status.SOLVED, via=via)
            solved.append(message.ticket)
        problem = lock_ticket(problem)
        if problem.status in UNSOLVED_STATUSES:
            problem = ticket_update(ticket=problem, actor=actor, status=Status.SOLVED, via=via)
        events.problem_solved_with_incidents(problem=problem, incidents=solved, actor=actor, via=via)
        _announce(problem)
    return ProblemSolveResult(problem=problem, solved=solved, skipped=skipped)
