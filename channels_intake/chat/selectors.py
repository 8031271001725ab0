"""Reads of live chat. The visitor's side is decided by the visitor token alone: a token opens its
own chat, and only the public part of its thread (internal notes never reach a visitor)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet

from channels_intake.chat.models import Chat, ChatWidget
from channels_intake.chat.tokens import visitor_token_claims
from tickets.models import Message, Visibility

MAX_MESSAGES = 500


def widget_by_key(key: str) -> ChatWidget | None:
    """The active widget with this key (None for an unknown or inactive one)."""
    if not isinstance(key, str) or not key or len(key) > 64:
        return None
    return ChatWidget.objects.select_related("team", "business_hours").filter(key=key, is_active=True).first()


def chat_for_token(token: str, *, chat_id: int | None = None) -> Chat | None:
    """The chat a genuine, unexpired visitor token was issued for (and only if it is `chat_id` when given),
    on a widget still active; None otherwise."""
    claims = visitor_token_claims(token)
    if claims is None:
        return None
    token_chat_id, visitor_id = claims
    if chat_id is not None and chat_id != token_chat_id:
        return None
    return (
        Chat.objects.select_related("widget", "ticket__requester", "agent")
        .filter(pk=token_chat_id, visitor_id=visitor_id, widget__is_active=True)
        .first()
    )


def chat_public_messages(*, chat: Chat, after: int = 0, limit: int = MAX_MESSAGES) -> QuerySet[Message]:
    """The chat's public messages with an id above `after`, oldest first: what the visitor may read."""
    return (
        Message.objects.filter(ticket_id=chat.ticket_id, visibility=Visibility.PUBLIC, pk__gt=max(after, 0))
        .select_related("author_user").order_by("pk")[:limit]
    )


def normalise_origin(origin: str) -> str:
    """"scheme://host[:port]" in lower case, default ports dropped; "" for anything else."""
    try:
        parts = urlsplit((origin or "").strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def own_origins(request_origin: str = "") -> set[str]:
    """Our own site's origins: HELPDESK_SITE_URL's, and the address the request came to."""
    origins = {normalise_origin(settings.HELPDESK_SITE_URL)}
    if request_origin:
        origins.add(normalise_origin(request_origin))
    return origins - {""}


def origin_allowed(*, widget: ChatWidget, origin: str, own_origin: str = "") -> bool:
    """Whether a page of `origin` may use the widget: one of its allowed origins, or our own site."""
    origin = normalise_origin(origin)
    if not origin:
        return False
    allowed = {normalise_origin(value) for value in widget.allowed_origins or []}
    return origin in allowed or origin in own_origins(own_origin)


def origin_of_a_widget(origin: str) -> bool:
    """Whether `origin` is an allowed origin of some active widget (the widget's knowledge-base
    searches are answered CORS for those pages)."""
    origin = normalise_origin(origin)
    if not origin:
        return False
    return ChatWidget.objects.filter(is_active=True, allowed_origins__contains=[origin]).exists()
