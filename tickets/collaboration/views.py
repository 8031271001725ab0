"""Agent pages of tickets.collaboration: the ticket's collaboration panel (followers, links, a
problem's incidents), its forms, the split page, the list of followed tickets and the @-autocomplete."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import permissions
from tickets import selectors as ticket_selectors
from tickets.collaboration import selectors, services
from tickets.models import LinkKind, Message, Ticket, TicketType, User, Visibility
from tickets.services.ticket_split import ticket_split
from tickets.transitions import TransitionNotAllowed
from tickets.views.agent.common import sidebar_views, staff_required
from tickets.views.agent.rendering import FORM_RENDERER

FOLLOWING_LIMIT = 200


class LinkForm(forms.Form):
    number = forms.IntegerField(label=gettext_lazy("Ticket number"), min_value=1)
    kind = forms.ChoiceField(label=gettext_lazy("Link as"), choices=[
        (LinkKind.RELATED, gettext_lazy("Related ticket")),
        (LinkKind.INCIDENT_OF, gettext_lazy("This is an incident of problem…")),
    ])


class SolveIncidentsForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Reply to the incidents' requesters"), widget=forms.Textarea(
        attrs={"rows": 4}), max_length=100000)


class SplitForm(forms.Form):
    subject = forms.CharField(label=gettext_lazy("Subject of the new ticket"), max_length=255)
    messages = forms.TypedMultipleChoiceField(label=gettext_lazy("Messages to move"), coerce=int,
                                              widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["messages"].choices = choices  # type: ignore[attr-defined]


def _workable_ticket(request: HttpRequest, number: int) -> Ticket:
    ticket = permissions.access_ticket_by_number(request.user, number)
    if not permissions.can_work_ticket(request.user, ticket):
        raise Http404
    return ticket


def _back(ticket: Ticket) -> HttpResponse:
    return redirect("agent:ticket", number=ticket.number)


def _report(request: HttpRequest, error: Exception) -> None:
    texts = error.messages if isinstance(error, ValidationError) else [str(error) or _("This change is not allowed.")]
    for text in texts:
        messages.error(request, text)


def panel_context(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    user = request.user
    followers = selectors.ticket_followers(ticket=ticket)
    may_manage = services.can_manage_followers(user, ticket)
    return {
        "ticket": ticket,
        "followers": followers,
        "is_following": any(follower.pk == user.pk for follower in followers),
        "can_work": permissions.can_work_ticket(user, ticket),
        "can_manage_followers": may_manage,
        "addable_followers": selectors.team_agents_to_follow(ticket=ticket) if may_manage else [],
        "links": selectors.ticket_links(user=user, ticket=ticket),
        "is_problem": ticket.type == TicketType.PROBLEM,
        "link_form": LinkForm(renderer=FORM_RENDERER, auto_id="link-%s"),
        "solve_form": SolveIncidentsForm(renderer=FORM_RENDERER, auto_id="solve-%s"),
    }


@staff_required
@require_GET
def panel(request: HttpRequest, number: int) -> HttpResponse:
    """The ticket's collaboration card (loaded by the ticket page, reloaded on realtime changes)."""
    ticket = permissions.access_ticket_by_number(request.user, number)
    return render(request, "agent/collaboration/_panel.html", panel_context(request, ticket))


@staff_required
@require_POST
def follow(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _workable_ticket(request, number)
    try:
        services.follower_add(ticket=ticket, user=request.user, actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        _report(request, error)
    else:
        messages.success(request, _("You follow this ticket now."))
    return _back(ticket)


@staff_required
@require_POST
def unfollow(request: HttpRequest, number: int) -> HttpResponse:
    ticket = permissions.access_ticket_by_number(request.user, number)
    try:
        services.follower_remove(ticket=ticket, user=request.user, actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        _report(request, error)
    else:
        messages.success(request, _("You no longer follow this ticket."))
    return _back(ticket)


def _staff_user(user_id: Any) -> User:
    try:
        return User.objects.get(pk=int(user_id))
    except (TypeError, ValueError, User.DoesNotExist):
        raise Http404 from None


@staff_required
@require_POST
def follower_add(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _workable_ticket(request, number)
    user = _staff_user(request.POST.get("user"))
    try:
        services.follower_add(ticket=ticket, user=user, actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        _report(request, error)
    else:
        messages.success(request, _("%(name)s follows this ticket now.") % {"name": user.name})
    return _back(ticket)


@staff_required
@require_POST
def follower_remove(request: HttpRequest, number: int, user_id: int) -> HttpResponse:
    ticket = _workable_ticket(request, number)
    user = _staff_user(user_id)
    try:
        services.follower_remove(ticket=ticket, user=user, actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        _report(request, error)
    else:
        messages.success(request, _("%(name)s no longer follows this ticket.") % {"name": user.name})
    return _back(ticket)


@staff_required
@require_POST
def link_add(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _workable_ticket(request, number)
    form = LinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the number of the ticket to link and how it is linked."))
        return _back(ticket)
    other = ticket_selectors.ticket_queryset(user=request.user).filter(number=form.cleaned_data["number"]).first()
    if other is None:
        messages.error(request, _("There is no ticket with that number that you can see."))
        return _back(ticket)
    try:
        services.ticket_link(ticket=ticket, other=other, kind=form.cleaned_data["kind"], actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        _report(request, error)
    else:
        messages.success(request, _("Linked to #%(number)s.") % {"number": other.number})
    return _back(ticket)


@staff_required
@require_POST
def link_remove(request: HttpRequest, number: int, link_id: int) -> HttpResponse:
    ticket = _workable_ticket(request, number)
    link = selectors.link_get(user=request.user, ticket=ticket, link_id=link_id)
    if link is None:
        raise Http404
    try:
        services.ticket_unlink(link=link, actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        _report(request, error)
    else:
        messages.success(request, _("Link removed."))
    return _back(ticket)


@staff_required
@require_POST
def solve_incidents(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _workable_ticket(request, number)
    form = SolveIncidentsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write the reply the incidents' requesters get."))
        return _back(ticket)
    try:
        result = services.problem_solve_and_notify(problem=ticket, body_text=form.cleaned_data["body"],
                                                   actor=request.user)
    except (ValidationError, PermissionDenied, TransitionNotAllowed) as error:
        _report(request, error)
    else:
        messages.success(request, _("Problem solved; %(count)s incident(s) notified and solved.")
                         % {"count": len(result.solved)})
        if result.skipped:
            messages.warning(request, _("Not changed (you cannot work on them): %(numbers)s")
                             % {"numbers": ", ".join(f"#{incident.number}" for incident in result.skipped)})
    return _back(ticket)


def _split_choices(ticket: Ticket) -> list[tuple[int, str]]:
    """The public messages that may move (all but the first), labelled by author and time."""
    thread = list(Message.objects.filter(ticket=ticket).select_related("author_user", "author_customer")
                  .order_by("created_at", "pk"))
    return [
        (message.pk, f"{message.author_name} · {localtime(message.created_at):%Y-%m-%d %H:%M} · {message.body_text[:120]}")
        for message in thread[1:] if message.visibility == Visibility.PUBLIC
    ]


@staff_required
@require_http_methods(["GET", "POST"])
def split(request: HttpRequest, number: int) -> HttpResponse:
    """Choose public messages of the ticket and a subject; they move to a new ticket."""
    ticket = _workable_ticket(request, number)
    choices = _split_choices(ticket)
    if request.method == "POST":
        form = SplitForm(request.POST, choices=choices, renderer=FORM_RENDERER)
        if form.is_valid():
            try:
                new_ticket = ticket_split(ticket=ticket, message_ids=form.cleaned_data["messages"],
                                          subject=form.cleaned_data["subject"], actor=request.user)
            except (ValidationError, PermissionDenied) as error:
                for text in getattr(error, "messages", [str(error)]):
                    form.add_error(None, text)
            else:
                messages.success(request, _("The messages were moved to the new ticket #%(number)s.")
                                 % {"number": new_ticket.number})
                return redirect("agent:ticket", number=new_ticket.number)
        status = 400
    else:
        selected = [value for value in request.GET.getlist("message") if value.isdigit()]
        form = SplitForm(initial={"subject": ticket.subject, "messages": [int(value) for value in selected]},
                         choices=choices, renderer=FORM_RENDERER)
        status = 200
    return render(request, "agent/collaboration/split.html",
                  {"ticket": ticket, "form": form, "sidebar": sidebar_views(request)}, status=status)


@staff_required
@require_GET
def following(request: HttpRequest) -> HttpResponse:
    """The tickets the signed-in agent follows."""
    tickets = list(selectors.followed_tickets(user=request.user)[:FOLLOWING_LIMIT])
    return render(request, "agent/collaboration/following.html",
                  {"tickets": tickets, "sidebar": sidebar_views(request)})


@staff_required
@require_GET
def mention_candidates(request: HttpRequest, number: int) -> JsonResponse:
    """Who may be @mentioned on this ticket (staff who may see it), for the composer's autocomplete."""
    ticket = permissions.access_ticket_by_number(request.user, number)
    users = selectors.mention_candidates(ticket=ticket)
    return JsonResponse({"users": [{"username": user.username, "name": user.name} for user in users]})
