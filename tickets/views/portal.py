"""The customer portal: my requests, a new request, a request's public thread, reply, solve and reopen.

Every ticket is found through the role-scoped selectors, so another customer's request is a 404
whatever the URL says; every change goes through one service.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from helpdesk import permissions
from knowledgebase.deflection import deflection_record_submitted
from tickets import selectors, services
from tickets.models import UNSOLVED_STATUSES, Channel, CustomFieldDefinition, Message, Status, Ticket, User
from tickets.portal_forms import NewRequestForm, ReplyForm, StatusForm
from tickets.services.ticket_fields import CUSTOMER_STATUS_CHANGES
from tickets.transitions import TransitionNotAllowed

PAGE_SIZE = 20
# How a request's status reads to the person who asked (agents' finer states are not their concern).
CUSTOMER_STATUS: dict[str, tuple[str, Any]] = {
    Status.NEW: ("open", gettext_lazy("Open")),
    Status.OPEN: ("open", gettext_lazy("Open")),
    Status.ON_HOLD: ("open", gettext_lazy("Open")),
    Status.PENDING: ("waiting", gettext_lazy("Awaiting your reply")),
    Status.SOLVED: ("solved", gettext_lazy("Solved")),
    Status.CLOSED: ("closed", gettext_lazy("Closed")),
}
STATE_STATUSES: dict[str, list[str]] = {
    "all": [],
    "open": list(UNSOLVED_STATUSES),
    "solved": [Status.SOLVED, Status.CLOSED],
}


def portal_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in people who are not staff; staff are sent to their workspace."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if permissions.is_staff_member(request.user):
            return redirect("home")
        return view(request, *args, **kwargs)

    return wrapper


def _with_customer_status(ticket: Ticket) -> Ticket:
    ticket.portal_status_tone, ticket.portal_status_label = CUSTOMER_STATUS[ticket.status]
    # The last public reply, not updated_at, which internal notes and field changes also move.
    ticket.portal_last_reply_at = max(
        moment for moment in (ticket.created_at, ticket.last_customer_message_at, ticket.last_agent_reply_at) if moment
    )
    return ticket


def _verify_needed(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/verify_needed.html")


@portal_view
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """My requests; organization contacts may switch to all of their organization's requests."""
    user: User = request.user
    customer = permissions.customer_of(user)
    if customer is None:
        return _verify_needed(request)
    is_organization_contact = bool(customer.sees_organization_tickets and customer.organization_id)
    scope = "organization" if is_organization_contact and request.GET.get("scope") == "organization" else "mine"
    state = request.GET.get("state", "all")
    state = state if state in STATE_STATUSES else "all"
    filters = selectors.TicketFilters(statuses=list(STATE_STATUSES[state]))
    if scope == "organization":
        filters.organization_id = customer.organization_id
    else:
        filters.requester_id = customer.pk
    try:
        page = selectors.ticket_page(
            user=user, filters=filters, sort="-updated", cursor=request.GET.get("cursor") or None, page_size=PAGE_SIZE
        )
    except selectors.InvalidQuery:
        page = selectors.ticket_page(user=user, filters=filters, sort="-updated", page_size=PAGE_SIZE)
    tickets = [_with_customer_status(ticket) for ticket in page.tickets]
    return render(request, "portal/home.html", {
        "customer": customer,
        "tickets": tickets,
        "page": page,
        "scope": scope,
        "state": state,
        "is_organization_contact": is_organization_contact,
        "states": [("all", _("All")), ("open", _("Open")), ("solved", _("Solved"))],
    })


@portal_view
def new_request(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    customer = permissions.customer_of(user)
    if customer is None:
        return _verify_needed(request)
    definitions = list(CustomFieldDefinition.objects.filter(is_customer_visible=True, applies_to=CustomFieldDefinition.AppliesTo.TICKET).order_by("position", "key"))
    form = NewRequestForm(request.POST or None, request.FILES or None, custom_fields=definitions)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.ticket_create(
                requester=customer,
                subject=form.cleaned_data["subject"],
                body_text=form.cleaned_data["description"],
                channel=Channel.WEB,
                actor=user,
                team=form.cleaned_data.get("team"),
                custom_fields=form.custom_field_values(),
                customer_fields_only=True,
                files=[services.incoming_from_upload(upload) for upload in form.cleaned_data["attachments"]],
                via="web",
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            # When articles were suggested while they typed, that visit ended in a request, not a deflection.
            deflection_record_submitted(session_key=request.session.session_key or "", ticket=ticket,
                                        deflection_id=request.POST.get("kb_deflection"))
            messages.success(request, _("Thank you. We received your request #%(number)s.") % {"number": ticket.number})
            return redirect("portal:ticket", number=ticket.number)
    return render(request, "portal/new_request.html", {"form": form})


def _thread_version(ticket: Ticket, thread: list[Message]) -> str:
    """Changes whenever what the customer sees changes (never on internal activity)."""
    return f"{ticket.status}.{len(thread)}.{thread[-1].pk if thread else 0}"


def _ticket_context(user: User, ticket: Ticket, thread: list[Message] | None = None) -> dict[str, Any]:
    thread = list(selectors.ticket_messages(user=user, ticket=ticket)) if thread is None else thread
    definitions = CustomFieldDefinition.objects.filter(is_customer_visible=True, applies_to=CustomFieldDefinition.AppliesTo.TICKET).order_by("position", "key")
    shown_fields = [
        (definition.label, ticket.custom_fields[definition.key])
        for definition in definitions
        if ticket.custom_fields.get(definition.key) not in (None, "")
    ]
    customer = permissions.customer_of(user)
    return {
        "ticket": _with_customer_status(ticket),
        "viewer_customer_id": customer.pk if customer else None,
        "thread": thread,
        "version": _thread_version(ticket, thread),
        "custom_fields": shown_fields,
        "can_mark_solved": ticket.status in CUSTOMER_STATUS_CHANGES[Status.SOLVED],
        "can_reopen": ticket.status in CUSTOMER_STATUS_CHANGES[Status.OPEN],
    }


def _rating_context(user: User, ticket: Ticket) -> dict[str, Any]:
    """The requester's rating of their solved request (metrics.surveys): whether they may, and what they gave."""
    from metrics.surveys import CSAT_LABELS, survey_portal_can_rate, survey_ticket_rating

    if not survey_portal_can_rate(ticket=ticket, customer=permissions.customer_of(user)):
        return {"can_rate": False}
    return {"can_rate": True, "rating": survey_ticket_rating(ticket=ticket), "rating_choices": list(CSAT_LABELS.items())}


@portal_view
@require_GET
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    ticket = selectors.ticket_get(user=request.user, number=number)
    context = _ticket_context(request.user, ticket)
    context["reply_form"] = ReplyForm()
    context.update(_rating_context(request.user, ticket))
    return render(request, "portal/ticket.html", context)


@portal_view
@require_GET
def ticket_live(request: HttpRequest, number: int) -> HttpResponse:
    """The status bar and thread, polled by the page; 204 when nothing the customer sees changed."""
    ticket = selectors.ticket_get(user=request.user, number=number)
    thread = list(selectors.ticket_messages(user=request.user, ticket=ticket))
    if request.GET.get("v") == _thread_version(ticket, thread):
        return HttpResponse(status=204)
    return render(request, "portal/_ticket_live.html", _ticket_context(request.user, ticket, thread))


@portal_view
@require_POST
def ticket_reply(request: HttpRequest, number: int) -> HttpResponse:
    ticket = selectors.ticket_get(user=request.user, number=number)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            message = services.ticket_reply(
                ticket=ticket,
                actor=request.user,
                body_text=form.cleaned_data["body"],
                files=[services.incoming_from_upload(upload) for upload in form.cleaned_data["attachments"]],
                channel=Channel.WEB,
                via="web",
            )
        except (ValidationError, PermissionDenied) as error:
            for problem in getattr(error, "messages", [str(error)]):
                form.add_error(None, problem)
        else:
            if message.ticket_id != ticket.pk:
                follow_up = message.ticket
                messages.success(request, _(
                    "Request #%(closed)s was already closed, so we opened #%(number)s with your message."
                ) % {"closed": ticket.number, "number": follow_up.number})
                return redirect("portal:ticket", number=follow_up.number)
            messages.success(request, _("Your reply was sent."))
            return redirect("portal:ticket", number=ticket.number)
    context = _ticket_context(request.user, ticket)
    context["reply_form"] = form
    context.update(_rating_context(request.user, ticket))
    return render(request, "portal/ticket.html", context)


@portal_view
@require_POST
def ticket_set_status(request: HttpRequest, number: int) -> HttpResponse:
    """Mark as solved, or reopen; the service decides what a customer may do."""
    ticket = selectors.ticket_get(user=request.user, number=number)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("This request cannot be changed that way."))
        return redirect("portal:ticket", number=ticket.number)
    status = form.cleaned_data["status"]
    try:
        services.ticket_update(ticket=ticket, actor=request.user, status=status, via="web")
    except (PermissionDenied, ValidationError, TransitionNotAllowed):
        messages.error(request, _("This request cannot be changed that way."))
    else:
        if status == Status.SOLVED:
            messages.success(request, _("Glad we could help. The request is marked as solved."))
        else:
            messages.success(request, _("The request is open again. Tell us what is still missing."))
    return redirect("portal:ticket", number=ticket.number)
