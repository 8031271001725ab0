"""The agent's live-chat console at /agent/chat/: thin views over the chat services.

Access: only active staff reach these views; anyone else gets 404 (not 403), like every object a
caller may not see, so the console's addresses say nothing to customers. A chat is shown or acted
on only by staff who may work its ticket (helpdesk.permissions), so an agent outside the chat's
team gets 404 on every chat URL too.

Live behaviour (static/js/agent/chat-console.js): socket events only say *that* a chat changed;
the page then fetches the fragments below, rendered here from the database.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels_intake.chat import services
from channels_intake.chat.models import Chat, ChatOffer
from helpdesk import permissions
from tickets import selectors
from tickets.models import Message, Team, User
from tickets.services import incoming_from_upload
from tickets.services.attachments import max_upload_bytes, validate_upload_size
from tickets.views.agent.common import safe_next, sidebar_views, staff_agents

PRESENCE_STATUSES = ("online", "away", "offline")
# A chat's transcript in the console: the latest messages (a chat is short; the ticket page has all).
TRANSCRIPT_LIMIT = 300
QUEUE_LIMIT = 50
SERVICE_ERRORS = (ValidationError, PermissionDenied, ValueError)
# As many files a message as the visitor's widget may send (channels_intake.chat.api).
MAX_FILES_PER_MESSAGE = 5


def console_staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors sign in first; signed-in non-staff get 404, as for a chat they may not see."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not permissions.is_staff_member(request.user) or not request.user.is_active:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _user(request: HttpRequest) -> User:
    """The signed-in staff member (console_staff_required let only them through)."""
    return cast(User, request.user)


def _wants_fragment(request: HttpRequest) -> bool:
    """Requests from the console's script (htmx or fetch) get fragments or 204s, not redirects."""
    return request.headers.get("HX-Request") == "true" or request.headers.get("X-Requested-With") == "fetch"


def _access_chat(request: HttpRequest, chat_id: int) -> Chat:
    """The chat if the user may work its ticket; 404 otherwise (for ids that do not exist too)."""
    chat = (
        Chat.objects.select_related("ticket", "ticket__team", "ticket__requester", "agent", "widget")
        .filter(pk=chat_id)
        .first()
    )
    if chat is None or not permissions.can_work_ticket(_user(request), chat.ticket):
        raise Http404
    return chat


def _console_url(chat_id: int | None = None) -> str:
    url = reverse("chat_console:console")
    return f"{url}?chat={chat_id}" if chat_id else url


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or _("This change is not allowed.")


def _refused(request: HttpRequest, error: Exception, *, chat_id: int | None) -> HttpResponse:
    """A service said no: the reason, as a 400 fragment for the script or a message after a redirect."""
    text = _error_text(error)
    if _wants_fragment(request):
        return render(request, "channels_intake/chat/console_error.html", {"error": text}, status=400)
    messages.error(request, text)
    return redirect(_console_url(chat_id))


# ---------------------------------------------------------------------- reads for the pages


def _pending_offers(user: User) -> list[ChatOffer]:
    return list(
        ChatOffer.objects.filter(agent=user, state="pending", expires_at__gt=timezone.now())
        .select_related("chat", "chat__ticket")
        .order_by("expires_at")
    )


def _my_active_chats(user: User) -> list[Chat]:
    return list(
        Chat.objects.filter(agent=user, state="active").select_related("ticket").order_by("accepted_at", "pk")
    )


def _waiting_chats(user: User) -> list[Chat]:
    """Chats of the user's teams that wait for an agent (queued, or offered and not yet accepted)."""
    visible = permissions.visible_tickets(user).values("pk")
    return list(
        Chat.objects.filter(state__in=("queued", "offered"), ticket_id__in=visible)
        .select_related("ticket", "ticket__team")
        .order_by("queued_at", "pk")[:QUEUE_LIMIT]
    )


def _transcript(chat: Chat) -> list[Message]:
    latest = (
        Message.objects.filter(ticket_id=chat.ticket_id)
        .select_related("author_user", "author_customer").prefetch_related("attachments")
        .order_by("-created_at", "-pk")[:TRANSCRIPT_LIMIT]
    )
    return list(reversed(latest))


def presence_status(user: User) -> str:
    status = services.agent_chat_presence(user=user)
    return status if status in PRESENCE_STATUSES else "offline"


def _prechat_answers(chat: Chat) -> list[tuple[str, str]]:
    """The visitor's custom pre-chat answers kept on the chat, labelled as the widget asked them."""
    values = chat.prechat_values if isinstance(chat.prechat_values, dict) else {}
    rules = chat.widget.prechat_fields if isinstance(chat.widget.prechat_fields, dict) else {}
    labels: dict[str, str] = {}
    for rule in rules.get("custom") or []:
        if isinstance(rule, dict) and isinstance(rule.get("key"), str):
            label = rule.get("label")
            if isinstance(label, dict):
                label = label.get(get_language() or "") or label.get("en") or next(iter(label.values()), "")
            labels[rule["key"]] = str(label or rule["key"])
    return [(labels.get(str(key)) or str(key), str(value)) for key, value in values.items()]


def _chat_context(request: HttpRequest, chat: Chat) -> dict[str, Any]:
    """What a chat's pane shows: transcript, composer, visitor panel, transfer and end forms."""
    user = _user(request)
    ticket = chat.ticket
    team_ids = [ticket.team_id] if ticket.team_id else None
    return {
        "chat": chat,
        "ticket": ticket,
        "transcript": _transcript(chat),
        "prechat_answers": _prechat_answers(chat),
        "max_upload_bytes": max_upload_bytes(),
        "is_mine": chat.agent_id == user.pk and chat.state == "active",
        "is_open": chat.state != "ended",
        "other_tickets": selectors.requester_other_tickets(user=user, ticket=ticket),
        "transfer_agents": [agent for agent in staff_agents(user=user, team_ids=team_ids) if agent.pk != user.pk],
        "transfer_teams": list(Team.objects.order_by("name")),
    }


# ---------------------------------------------------------------------- pages and fragments


@console_staff_required
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    """The console: presence, offers, the teams' waiting queue, my chats in tabs (one of them open)."""
    user = _user(request)
    active_chats = _my_active_chats(user)
    selected = None
    requested = request.GET.get("chat", "")
    if requested.isdigit():
        selected = _access_chat(request, int(requested))
    elif active_chats:
        selected = _access_chat(request, active_chats[0].pk)
    tabs = list(active_chats)
    if selected is not None and selected.pk not in {chat.pk for chat in tabs}:
        # A chat opened from the queue or a link (watching a colleague's chat, or one that ended).
        tabs.append(selected)
    context = {
        "sidebar": sidebar_views(request),
        "presence_status": presence_status(user),
        "offers": _pending_offers(user),
        "waiting": _waiting_chats(user),
        "tabs": tabs,
        "selected": selected,
        **(_chat_context(request, selected) if selected is not None else {}),
    }
    return render(request, "channels_intake/chat/console.html", context)


@console_staff_required
@require_GET
def chat_pane(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = _access_chat(request, chat_id)
    return render(request, "channels_intake/chat/console_chat.html", _chat_context(request, chat))


@console_staff_required
@require_GET
def transcript(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = _access_chat(request, chat_id)
    return render(request, "channels_intake/chat/console_transcript.html",
                  {"chat": chat, "transcript": _transcript(chat)})


@console_staff_required
@require_GET
def offers(request: HttpRequest) -> HttpResponse:
    """The offers waiting for this agent, shown on every agent page (refreshed on `chat.offered`)."""
    return render(request, "channels_intake/chat/console_offers.html", {"offers": _pending_offers(_user(request))})


@console_staff_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "channels_intake/chat/console_queue.html", {"waiting": _waiting_chats(_user(request))})


@console_staff_required
@require_GET
def tabs(request: HttpRequest) -> HttpResponse:
    selected = request.GET.get("chat", "")
    return render(request, "channels_intake/chat/console_tabs.html", {
        "tabs": _my_active_chats(_user(request)), "selected_id": int(selected) if selected.isdigit() else None,
    })


# ---------------------------------------------------------------------- actions


@console_staff_required
@require_POST
def presence(request: HttpRequest) -> HttpResponse:
    """Set the agent's chat status (the header toggle), or with `heartbeat` and no status keep the
    current one alive: the heartbeat of pages without the chat socket. A heartbeat never brings
    back a status that expired (a closed laptop went offline; the page then shows it)."""
    status = request.POST.get("status", "")
    if not status and request.POST.get("heartbeat"):
        status = presence_status(_user(request))
    if status not in PRESENCE_STATUSES:
        return HttpResponse(_("Unknown status."), status=400, content_type="text/plain; charset=utf-8")
    if not (request.POST.get("heartbeat") and status == "offline"):
        services.agent_chat_presence_set(user=_user(request), status=status)
    if _wants_fragment(request):
        return JsonResponse({"status": status})
    return redirect(safe_next(request, _console_url()))


@console_staff_required
@require_POST
def accept(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = _access_chat(request, chat_id)
    try:
        services.chat_accept(chat=chat, agent=_user(request))
    except SERVICE_ERRORS as error:
        return _refused(request, error, chat_id=None)
    return redirect(_console_url(chat.pk))


@console_staff_required
@require_POST
def decline(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = _access_chat(request, chat_id)
    offer = ChatOffer.objects.filter(chat=chat, agent=_user(request), state="pending").order_by("-offered_at").first()
    if offer is None:
        raise Http404
    try:
        services.chat_decline(offer=offer, agent=_user(request))
    except SERVICE_ERRORS as error:
        return _refused(request, error, chat_id=None)
    if _wants_fragment(request):
        return HttpResponse(status=204)
    return redirect(safe_next(request, _console_url()))


@console_staff_required
@require_POST
def message(request: HttpRequest, chat_id: int) -> HttpResponse:
    """An answer (or, with is_internal, a note) from the composer; the transcript comes back."""
    chat = _access_chat(request, chat_id)
    # Browsers send a textarea's line breaks as CRLF; the visitor's widget and the transcript want LF.
    body = request.POST.get("body", "").replace("\r\n", "\n").strip()
    uploads = request.FILES.getlist("files")
    if not body and not uploads:
        return _refused(request, ValidationError(_("Write a message first.")), chat_id=chat.pk)
    try:
        if len(uploads) > MAX_FILES_PER_MESSAGE:
            raise ValidationError(_("At most %(count)s files at once.") % {"count": MAX_FILES_PER_MESSAGE})
        for upload in uploads:
            validate_upload_size(upload.size or 0)
        services.chat_agent_message(
            chat=chat, agent=_user(request), body=body, is_internal=request.POST.get("is_internal") in ("1", "on", "true"),
            client_id=request.POST.get("client_id", "")[:64],
            files=[incoming_from_upload(upload) for upload in uploads],
        )
    except SERVICE_ERRORS as error:
        return _refused(request, error, chat_id=chat.pk)
    if _wants_fragment(request):
        return render(request, "channels_intake/chat/console_transcript.html",
                      {"chat": chat, "transcript": _transcript(chat)})
    return redirect(_console_url(chat.pk))


@console_staff_required
@require_POST
def transfer(request: HttpRequest, chat_id: int) -> HttpResponse:
    """Hand the chat to another agent or to another team, with a note for whoever takes it."""
    chat = _access_chat(request, chat_id)
    to_agent = to_team = None
    target = request.POST.get("to", "")
    kind, _sep, target_id = target.partition(":")
    if kind == "agent" and target_id.isdigit():
        to_agent = User.objects.filter(pk=int(target_id), is_active=True).first()
    elif kind == "team" and target_id.isdigit():
        to_team = Team.objects.filter(pk=int(target_id)).first()
    if to_agent is None and to_team is None:
        return _refused(request, ValidationError(_("Choose an agent or a team to transfer the chat to.")),
                        chat_id=chat.pk)
    try:
        services.chat_transfer(chat=chat, actor=_user(request), to_agent=to_agent, to_team=to_team,
                               note=request.POST.get("note", "").strip())
    except SERVICE_ERRORS as error:
        return _refused(request, error, chat_id=chat.pk)
    messages.success(request, _("Chat transferred."))
    return redirect(_console_url())


@console_staff_required
@require_POST
def end(request: HttpRequest, chat_id: int) -> HttpResponse:
    """End the chat: solve its ticket, or leave it open for a follow-up by email."""
    chat = _access_chat(request, chat_id)
    outcome = request.POST.get("outcome", "")
    if outcome not in ("solve", "follow_up"):
        return _refused(request, ValidationError(_("Choose how to end the chat.")), chat_id=chat.pk)
    try:
        services.chat_end(chat=chat, actor=_user(request), reason="agent_ended", solve=outcome == "solve")
    except SERVICE_ERRORS as error:
        return _refused(request, error, chat_id=chat.pk)
    messages.success(request, _("Chat ended; the ticket is solved.") if outcome == "solve"
                     else _("Chat ended; the ticket stays open for a follow-up by email."))
    return redirect(_console_url(chat.pk))

