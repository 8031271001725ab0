"""The ticket page: timeline, reply box, fields sidebar, requester card, merge, live fragments."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import permissions
from tickets import presence, selectors
from tickets.forms import MergeForm, ReplyForm, TicketFieldsForm
from tickets.models import CustomFieldDefinition, Status, Ticket, TimerState, User
from tickets.services import (
    TicketClosed,
    incoming_from_upload,
    ticket_add_note,
    ticket_merge,
    ticket_reply,
    ticket_update,
)
from tickets.transitions import TransitionNotAllowed
from tickets.views.agent.common import (
    cached_directory,
    sidebar_views,
    staff_agents,
    staff_required,
    user_teams,
)
from tickets.views.agent.rendering import FORM_RENDERER
from tickets.views.agent.timeline import timeline_entries


def _workable_ticket(request: HttpRequest, number: int) -> Ticket:
    ticket = permissions.access_ticket_by_number(request.user, number)
    if not permissions.can_work_ticket(request.user, ticket):
        raise Http404
    return ticket


def _assignable_agents(user: User, ticket: Ticket) -> list[User]:
    if ticket.team_id:
        return staff_agents(user=user, team_ids=[ticket.team_id])
    return staff_agents(user=user)


def _fields_form(request: HttpRequest, ticket: Ticket, data: Any = None) -> TicketFieldsForm:
    """The fields panel; lists from the shared cache for showing, read fresh to check a submission."""
    if data is None:
        directory = cached_directory(request.user, agent_team_ids=[ticket.team_id] if ticket.team_id else None,
                                     custom_fields=True)
        teams, agents, definitions = directory.teams, directory.agents, directory.custom_fields
    else:
        teams, agents = user_teams(request.user), _assignable_agents(request.user, ticket)
        definitions = list(CustomFieldDefinition.objects.filter(applies_to=CustomFieldDefinition.AppliesTo.TICKET))
    return TicketFieldsForm(data, ticket=ticket, teams=teams, agents=agents, definitions=definitions,
                            renderer=FORM_RENDERER)


def sla_context(ticket: Ticket) -> dict[str, Any]:
    """The ticket's SLA timers for its panel, and the nearest unmet one for its header badge."""
    timers = selectors.ticket_sla_timers(ticket=ticket)
    unmet = [timer for timer in timers if timer.state in (TimerState.RUNNING, TimerState.PAUSED)]
    nearest = min(unmet, key=lambda timer: (timer.state == TimerState.PAUSED, timer.due_at), default=None)
    return {"sla_timers": timers, "sla_nearest": nearest}


def _error_messages(error: Exception) -> list[str]:
    if isinstance(error, ValidationError):
        return list(error.messages)
    return [str(error) or _("This change is not allowed.")]


def _other_ticket_links(tickets: list[Ticket]) -> list[dict[str, Any]]:
    """The requester's other tickets as their card lists them, with the status labels and the link
    prefix looked up once rather than per ticket (`get_status_display`, `{% url %}`)."""
    labels = dict(Status.choices)
    prefix = reverse("agent:ticket", args=[0]).removesuffix("0/")
    return [
        {"number": other.number, "subject": other.subject, "status": other.status,
         "status_label": labels.get(other.status, other.status), "url": f"{prefix}{other.number}/"}
        for other in tickets
    ]


def render_ticket(
    request: HttpRequest, ticket: Ticket, *, reply_form: ReplyForm | None = None,
    fields_form: TicketFieldsForm | None = None, merge_form: MergeForm | None = None, status: int = 200,
) -> HttpResponse:
    user = request.user
    fields_form = fields_form or _fields_form(request, ticket)
    teams, agents = list(fields_form.teams.values()), list(fields_form.agents.values())
    timeline = timeline_entries(
        selectors.ticket_timeline(user=user, ticket=ticket, known_users=agents), teams=teams, users=agents,
    )
    context = {
        "ticket": ticket,
        "sidebar": sidebar_views(request),
        "timeline": timeline,
        "reply_form": reply_form or ReplyForm(ticket=ticket),
        "fields_form": fields_form,
        "merge_form": merge_form or MergeForm(renderer=FORM_RENDERER),
        "other_tickets": _other_ticket_links(selectors.requester_other_tickets(user=user, ticket=ticket)),
        "present": presence.presence_list(ticket_id=ticket.pk, exclude_user_id=user.pk),
        "is_closed": ticket.status == Status.CLOSED,
        **sla_context(ticket),
    }
    return render(request, "agent/ticket.html", context, status=status)


@staff_required
@require_GET
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    return render_ticket(request, permissions.access_ticket_by_number(request.user, number))


@staff_required
@require_POST
def reply(request: HttpRequest, number: int) -> HttpResponse:
    """A public reply (optionally setting the status) or an internal note, with attachments."""
    ticket = _workable_ticket(request, number)
    form = ReplyForm(request.POST, request.FILES, ticket=ticket)
    if form.is_valid():
        files = [incoming_from_upload(upload) for upload in form.cleaned_data["attachments"]]
        body = form.cleaned_data["body"]
        try:
            if form.is_note:
                message = ticket_add_note(ticket=ticket, actor=request.user, body_text=body, files=files)
            else:
                message = ticket_reply(
                    ticket=ticket, actor=request.user, body_text=body, files=files,
                    status=form.cleaned_data["status"] or None,
                )
        except (ValidationError, PermissionDenied, TransitionNotAllowed, TicketClosed) as error:
            for text in _error_messages(error):
                form.add_error(None, text)
        else:
            messages.success(request, _("Internal note added.") if form.is_note else _("Reply sent."))
            _warn_unreachable_mentions(request, message)
            return redirect(f"{reverse('agent:ticket', args=[ticket.number])}#message-{message.pk}")
    return render_ticket(request, ticket, reply_form=form, status=400)


def _warn_unreachable_mentions(request: HttpRequest, message: Any) -> None:
    """Tell the note's author which @mentioned colleagues were not notified (tickets.collaboration.mentions)."""
    outcome = getattr(message, "mention_outcome", None)
    if outcome is not None and outcome.unreachable:
        names = ", ".join(user.name for user in outcome.unreachable)
        messages.warning(request, _("Not notified (they cannot see this ticket): %(names)s") % {"names": names})


@staff_required
@require_http_methods(["GET", "POST"])
def fields(request: HttpRequest, number: int) -> HttpResponse:
    """GET: the fields panel (live refresh). POST: save status, priority, type, team, assignee, tags, custom fields."""
    if request.method == "GET":
        ticket = permissions.access_ticket_by_number(request.user, number)
        # With the header badges and the SLA panel as out-of-band swaps, so the whole page shows
        # the new values (a reply or status change moves the timers).
        return render(request, "agent/_ticket_fields.html",
                      {"ticket": ticket, "fields_form": _fields_form(request, ticket), "oob": True,
                       **sla_context(ticket)})
    ticket = _workable_ticket(request, number)
    form = _fields_form(request, ticket, request.POST)
    if form.is_valid():
        try:
            ticket_update(ticket=ticket, actor=request.user, **form.changes())
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for key, errors in error.message_dict.items():
                    target = f"cf_{key}" if f"cf_{key}" in form.fields else key if key in form.fields else None
                    for text in errors:
                        form.add_error(target, text)
            else:
                for text in error.messages:
                    form.add_error(None, text)
        except (PermissionDenied, TransitionNotAllowed) as error:
            for text in _error_messages(error):
                form.add_error(None, text)
        else:
            messages.success(request, _("Ticket updated."))
            return redirect("agent:ticket", number=ticket.number)
    return render_ticket(request, ticket, fields_form=form, status=400)


@staff_required
@require_POST
def merge(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _workable_ticket(request, number)
    form = MergeForm(request.POST, renderer=FORM_RENDERER)
    if form.is_valid():
        target = selectors.ticket_queryset(user=request.user).filter(number=form.cleaned_data["target_number"]).first()
        if target is None:
            form.add_error("target_number", _("There is no ticket with that number that you can see."))
        else:
            try:
                ticket_merge(source=ticket, target=target, actor=request.user)
            except (ValidationError, PermissionDenied) as error:
                for text in _error_messages(error):
                    form.add_error("target_number", text)
            else:
                messages.success(
                    request, _("Ticket #%(source)s was merged into this ticket.") % {"source": ticket.number}
                )
                return redirect("agent:ticket", number=target.number)
    return render_ticket(request, ticket, merge_form=form, status=400)


@staff_required
@require_GET
def timeline(request: HttpRequest, number: int) -> HttpResponse:
    ticket = permissions.access_ticket_by_number(request.user, number)
    # Re-read after every realtime event: the names it shows come from the shared lists where they can.
    directory = cached_directory(request.user, agent_team_ids=[ticket.team_id] if ticket.team_id else None)
    entries = timeline_entries(
        selectors.ticket_timeline(user=request.user, ticket=ticket, known_users=directory.agents),
        teams=directory.teams, users=directory.agents,
    )
    return render(request, "agent/_timeline.html", {"ticket": ticket, "timeline": entries})


@staff_required
@require_GET
def presence_banner(request: HttpRequest, number: int) -> HttpResponse:
    """Who else has this ticket open, read from the presence registry (never from a socket payload)."""
    ticket = permissions.access_ticket_by_number(request.user, number)
    present = presence.presence_list(ticket_id=ticket.pk, exclude_user_id=request.user.pk)
    return render(request, "agent/_presence.html", {"ticket": ticket, "present": present})
