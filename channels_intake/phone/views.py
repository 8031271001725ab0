"""The phone pages of the agent workspace, under /agent/phone/ (namespace phone): thin views over
channels_intake.phone.services.

- the screen-pop of a ringing call (a fragment the workspace script fetches on `phone.ringing`):
  the caller's customer card, their open tickets, and the "log this call" form;
- "Log a call" on a ticket, and the "New phone ticket" page;
- merging a customer a call created into an existing one.

Only active staff reach these (customers get 403, like the rest of the workspace); a call is shown
only to staff who may take it (selectors.call_visible_to), anyone else gets 404.
"""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels_intake.phone import selectors, services
from channels_intake.phone.forms import NEW_TICKET, CallLogForm, ScreenPopLogForm
from channels_intake.phone.models import Call, CallState
from helpdesk import permissions
from tickets.models import Customer, Ticket, User
from tickets.views.agent.common import is_htmx, sidebar_views, staff_required

SERVICE_ERRORS = (ValidationError, PermissionDenied)


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _errors(error: Exception) -> list[str]:
    if isinstance(error, ValidationError):
        return list(error.messages)
    return [str(error) or _("You cannot do that.")]


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect that also works for an htmx form (which would otherwise swap the target page in)."""
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _ticket_url(message_ticket_number: int, message_id: int) -> str:
    return f"{reverse('agent:ticket', args=[message_ticket_number])}#message-{message_id}"


def _pop_context(request: HttpRequest, call: Call, form: ScreenPopLogForm | None = None) -> dict:
    user = _user(request)
    tickets = selectors.customer_open_tickets(user=user, customer_id=call.customer_id)
    if form is None:
        form = ScreenPopLogForm(tickets=tickets, initial={"direction": call.direction, "number": call.customer_number})
    return {"call": call, "customer": call.customer, "open_tickets": tickets, "form": form,
            "is_over": call.state in (CallState.MISSED, CallState.VOICEMAIL)}


@staff_required
@require_GET
def screen_pop(request: HttpRequest, call_id: int) -> HttpResponse:
    call = selectors.call_get(user=_user(request), call_id=call_id)
    return render(request, "channels_intake/phone/_screen_pop.html", _pop_context(request, call))


@staff_required
@require_GET
def screen_pops_waiting(request: HttpRequest) -> HttpResponse:
    """The pop-ups of calls still waiting for this agent (a page opened while a call rings or is
    in progress shows them again)."""
    calls = selectors.calls_waiting(user=_user(request))
    cards = [render_to_string("channels_intake/phone/_screen_pop.html", _pop_context(request, call), request=request)
             for call in calls]
    return HttpResponse("".join(cards))


@staff_required
@require_POST
def screen_pop_log(request: HttpRequest, call_id: int) -> HttpResponse:
    """The screen-pop's "log this call": the call on the open ticket picked, or on a new phone ticket."""
    user = _user(request)
    call = selectors.call_get(user=user, call_id=call_id)
    tickets = selectors.customer_open_tickets(user=user, customer_id=call.customer_id)
    form = ScreenPopLogForm(request.POST, tickets=tickets)
    if form.is_valid():
        choice = form.cleaned_data["ticket"]
        ticket = None if choice == NEW_TICKET else permissions.access_ticket_by_number(user, int(choice))
        try:
            message = services.call_log(
                actor=user, ticket=ticket, direction=call.direction, number=call.customer_number,
                duration_seconds=form.duration_seconds, notes=form.cleaned_data["notes"],
                disposition=form.cleaned_data["disposition"], call=call,
            )
        except SERVICE_ERRORS as error:
            for text in _errors(error):
                form.add_error(None, text)
        else:
            messages.success(request, _("Call logged on #%(number)s.") % {"number": message.ticket.number})
            return _go(request, _ticket_url(message.ticket.number, message.pk))
    # htmx swaps only successful answers: the form comes back with its errors as a 200 there.
    return render(request, "channels_intake/phone/_screen_pop.html", _pop_context(request, call, form),
                  status=200 if is_htmx(request) else 400)


@staff_required
@require_POST
def ticket_log(request: HttpRequest, number: int) -> HttpResponse:
    """"Log a call" on a ticket: an internal call entry in its thread."""
    user = _user(request)
    ticket = permissions.access_ticket_by_number(user, number)
    form = CallLogForm(request.POST)
    if form.is_valid():
        try:
            message = services.call_log(
                actor=user, ticket=ticket, direction=form.cleaned_data["direction"],
                number=form.cleaned_data["number"], duration_seconds=form.duration_seconds,
                notes=form.cleaned_data["notes"], disposition=form.cleaned_data["disposition"],
            )
        except SERVICE_ERRORS as error:
            for text in _errors(error):
                messages.error(request, text)
        else:
            messages.success(request, _("Call logged."))
            return redirect(_ticket_url(ticket.number, message.pk))
    else:
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error_text in errors:
                messages.error(request, f"{label}: {error_text}" if label else str(error_text))
    return redirect(reverse("agent:ticket", args=[ticket.number]))


@staff_required
@require_http_methods(["GET", "POST"])
def new_phone_ticket(request: HttpRequest) -> HttpResponse:
    """The "New phone ticket" page: a call logged as a new ticket of the caller (found or created by number)."""
    user = _user(request)
    form = CallLogForm(request.POST or None, number_required=True)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                message = services.call_log(
                    actor=user, ticket=None, direction=form.cleaned_data["direction"],
                    number=form.cleaned_data["number"], duration_seconds=form.duration_seconds,
                    notes=form.cleaned_data["notes"], disposition=form.cleaned_data["disposition"],
                )
            except SERVICE_ERRORS as error:
                for text in _errors(error):
                    form.add_error(None, text)
            else:
                messages.success(request, _("Phone ticket #%(number)s created.") % {"number": message.ticket.number})
                return redirect(_ticket_url(message.ticket.number, message.pk))
        status = 400
    return render(request, "channels_intake/phone/new_ticket.html",
                  {"form": form, "sidebar": sidebar_views(request)}, status=status)


@staff_required
@require_POST
def customer_merge(request: HttpRequest, number: int) -> HttpResponse:
    """Merge the requester of ticket `number` (e.g. a customer an unknown caller's call created) into
    the customer with the email address given; the numbers and tickets move along."""
    user = _user(request)
    ticket = permissions.access_ticket_by_number(user, number)
    email = request.POST.get("target_email", "").strip()
    from tickets.services.customers import customer_by_email

    target = customer_by_email(email) if email else None
    if target is None:
        messages.error(request, _("There is no customer with that email address."))
    else:
        source = get_object_or_404(Customer, pk=ticket.requester_id)
        try:
            services.customer_merge_into(source=source, target=target, actor=user)
        except SERVICE_ERRORS as error:
            for text in _errors(error):
                messages.error(request, text)
        else:
            messages.success(request, _("Customer merged into %(name)s.") % {"name": target.name})
    return redirect(reverse("agent:ticket", args=[Ticket.objects.values_list("number", flat=True).get(pk=ticket.pk)]))
