"""The ticket page's assignment card (routing, escalation level) and its "Escalate" button."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from helpdesk import permissions
from tickets.assignment.services import ticket_escalate
from tickets.models import User
from tickets.views.agent.common import staff_required


@staff_required
@require_GET
def ticket_assignment(request: HttpRequest, number: int) -> HttpResponse:
    """The card's content (loaded by the ticket page): the team's routing, escalation level, next level."""
    user = cast(User, request.user)  # staff_required
    ticket = permissions.access_ticket_by_number(user, number)
    next_team = ticket.team.escalates_to if ticket.team is not None else None
    return render(request, "agent/assignment/_ticket_assignment_card.html", {
        "ticket": ticket,
        "next_team": next_team,
        "can_escalate": next_team is not None and permissions.can_work_ticket(user, ticket)
        and permissions.can_move_to_team(user, ticket) and not ticket.is_closed,
    })


@staff_required
@require_POST
def escalate(request: HttpRequest, number: int) -> HttpResponse:
    user = cast(User, request.user)  # staff_required
    ticket = permissions.access_ticket_by_number(user, number)
    if not permissions.can_work_ticket(user, ticket):
        raise Http404
    try:
        ticket = ticket_escalate(ticket=ticket, actor=user, via="web")
    except (ValidationError, PermissionDenied) as error:
        for text in getattr(error, "messages", None) or [str(error) or _("This change is not allowed.")]:
            messages.error(request, text)
        return redirect("agent:ticket", number=number)
    team_name = ticket.team.name if ticket.team is not None else ""
    messages.success(request, _("Ticket escalated to %(team)s (level %(level)s).")
                     % {"team": team_name, "level": ticket.escalation_level})
    if not permissions.can_view_ticket(user, ticket):
        # Escalated out of the agent's teams: the ticket page would be a 404 now.
        return redirect("agent:queue")
    return redirect("agent:ticket", number=number)
