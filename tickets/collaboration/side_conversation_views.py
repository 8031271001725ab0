"""The side-conversations panel of the ticket page (htmx fragments, with plain-form fallbacks).

Thin: each view resolves access (staff who may work the ticket; everyone else gets 404, or 403 /
the login page from `staff_required`), calls one service, and renders the panel again. Form errors
come back as the panel with status 400 (side-conversations.js lets htmx swap it).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from tickets.collaboration import side_conversations as services
from tickets.models import SideConversation, Ticket
from tickets.views.agent.common import is_htmx, staff_required
from tickets.views.agent.rendering import FORM_RENDERER

PANEL_TEMPLATE = "agent/collaboration/side_conversations/_panel.html"


class StartForm(forms.Form):
    participants = forms.CharField(
        label=gettext_lazy("To"), max_length=3000,
        help_text=gettext_lazy("Email addresses, separated by commas. The requester never sees this conversation."),
        widget=forms.TextInput(attrs={"placeholder": "parts@supplier.example", "autocomplete": "off"}),
    )
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=255)
    body = forms.CharField(label=gettext_lazy("Message to the participants"), max_length=services.MAX_BODY_CHARS,
                           widget=forms.Textarea(attrs={"rows": 4}))
    quote_latest_public = forms.BooleanField(label=gettext_lazy("Quote the ticket's latest public message"),
                                             required=False)

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        super().__init__(*args, renderer=FORM_RENDERER, auto_id=f"sc-start-{ticket.number}-%s", **kwargs)
        if not args and "initial" not in kwargs:
            self.initial["subject"] = ticket.subject


class ReplyForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Reply"), max_length=services.MAX_BODY_CHARS,
                           widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, conversation: SideConversation, **kwargs: Any) -> None:
        super().__init__(*args, renderer=FORM_RENDERER, auto_id=f"sc-reply-{conversation.pk}-%s", **kwargs)


def _add_errors(form: forms.Form, error: ValidationError | PermissionDenied) -> None:
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for key, texts in error.message_dict.items():
            for text in texts:
                form.add_error(key if key in form.fields else None, text)
    elif isinstance(error, ValidationError):
        for text in error.messages:
            form.add_error(None, text)
    else:
        form.add_error(None, str(error) or _("This change is not allowed."))


def _panel(
    request: HttpRequest, ticket: Ticket, *, opened: SideConversation | None = None,
    start_form: StartForm | None = None, reply_form: ReplyForm | None = None, status: int = 200,
) -> HttpResponse:
    if not is_htmx(request):
        # A plain form post (no JavaScript): back to the ticket page; a failure says why there.
        if status >= 400:
            for form in (start_form, reply_form):
                if form is not None:
                    for text in [*form.non_field_errors(), *(e for f in form for e in f.errors)]:
                        messages.error(request, text)
        return redirect(f"{reverse('agent:ticket', args=[ticket.number])}#side-conversations")
    conversations = list(services.side_conversations_of(ticket=ticket))
    for conversation in conversations:
        thread = list(conversation.messages.all())
        conversation.last_message = thread[-1] if thread else None
    context = {
        "ticket": ticket,
        "conversations": conversations,
        "opened": opened,
        "start_form": start_form or StartForm(ticket=ticket),
        "reply_form": reply_form or (ReplyForm(conversation=opened) if opened else None),
        "show_start_form": start_form is not None and start_form.is_bound,
    }
    return render(request, PANEL_TEMPLATE, context, status=status)


@staff_required
@require_GET
def side_conversation_list(request: HttpRequest, number: int) -> HttpResponse:
    """The panel: the ticket's side conversations and the form to start one."""
    ticket = services.side_conversation_ticket(user=request.user, number=number)
    return _panel(request, ticket)


@staff_required
@require_GET
def side_conversation_detail(request: HttpRequest, number: int, conversation_id: int) -> HttpResponse:
    """The panel with one conversation opened: its thread and the reply box."""
    ticket = services.side_conversation_ticket(user=request.user, number=number)
    conversation = services.side_conversation_get(ticket=ticket, conversation_id=conversation_id)
    return _panel(request, ticket, opened=conversation)


@staff_required
@require_POST
def side_conversation_start(request: HttpRequest, number: int) -> HttpResponse:
    ticket = services.side_conversation_ticket(user=request.user, number=number)
    form = StartForm(request.POST, ticket=ticket)
    if form.is_valid():
        data = form.cleaned_data
        try:
            conversation = services.side_conversation_start(
                ticket=ticket, actor=request.user, participants=data["participants"], subject=data["subject"],
                body_text=data["body"], quote_latest_public=data["quote_latest_public"],
            )
        except (ValidationError, PermissionDenied) as error:
            _add_errors(form, error)
        else:
            if not is_htmx(request):
                messages.success(request, _("Side conversation started."))
            return _panel(request, ticket, opened=services.side_conversation_get(ticket=ticket,
                                                                                 conversation_id=conversation.pk))
    return _panel(request, ticket, start_form=form, status=400)


@staff_required
@require_POST
def side_conversation_reply(request: HttpRequest, number: int, conversation_id: int) -> HttpResponse:
    ticket = services.side_conversation_ticket(user=request.user, number=number)
    conversation = services.side_conversation_get(ticket=ticket, conversation_id=conversation_id)
    form = ReplyForm(request.POST, conversation=conversation)
    if form.is_valid():
        try:
            services.side_conversation_reply(conversation=conversation, actor=request.user,
                                             body_text=form.cleaned_data["body"])
        except (ValidationError, PermissionDenied) as error:
            _add_errors(form, error)
        else:
            if not is_htmx(request):
                messages.success(request, _("Message sent."))
            return _panel(request, ticket, opened=services.side_conversation_get(ticket=ticket,
                                                                                 conversation_id=conversation.pk))
    return _panel(request, ticket, opened=conversation, reply_form=form, status=400)


def _change_state(request: HttpRequest, number: int, conversation_id: int, *, close: bool) -> HttpResponse:
    ticket = services.side_conversation_ticket(user=request.user, number=number)
    conversation = services.side_conversation_get(ticket=ticket, conversation_id=conversation_id)
    change = services.side_conversation_close if close else services.side_conversation_reopen
    change(conversation=conversation, actor=request.user)
    return _panel(request, ticket, opened=services.side_conversation_get(ticket=ticket, conversation_id=conversation.pk))


@staff_required
@require_POST
def side_conversation_close(request: HttpRequest, number: int, conversation_id: int) -> HttpResponse:
    return _change_state(request, number, conversation_id, close=True)


@staff_required
@require_POST
def side_conversation_reopen(request: HttpRequest, number: int, conversation_id: int) -> HttpResponse:
    return _change_state(request, number, conversation_id, close=False)
