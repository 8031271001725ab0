"""Files in a chat, for the visitor: signed, expiring download links.

The ticket's attachment view needs a signed-in user, and a chat's visitor has no account: their
widget holds only the visitor token, which a plain link (opened in a new tab) cannot send. So each
file of a *public* message of a chat is given to the visitor as a link carrying its own signature
(django.core.signing, salt "chat-file") naming the chat and the attachment, valid
HELPDESK_CHAT_FILE_URL_MAX_AGE_SECONDS (24 h, as long as a visitor token). The download checks, at
the time of the request, that the attachment still belongs to a public message of that very chat:
a link cannot be bent to another chat's file, an internal note's file or another ticket's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from channels_intake.chat import events
from tickets.models import Attachment, Message, Visibility

if TYPE_CHECKING:
    from channels_intake.chat.models import Chat

SALT = "chat-file"
DEFAULT_MAX_AGE_SECONDS = 24 * 3600
MAX_TOKEN_CHARS = 300


def file_url_max_age() -> int:
    return int(getattr(settings, "HELPDESK_CHAT_FILE_URL_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS))


def file_token_issue(*, chat_id: int, attachment_id: int) -> str:
    return signing.dumps({"c": chat_id, "a": attachment_id}, salt=SALT, compress=False)


def file_url(*, chat_id: int, attachment_id: int) -> str:
    """The path of the visitor's download link (the widget makes it absolute on our origin)."""
    return reverse("chat_widget:file", args=[file_token_issue(chat_id=chat_id, attachment_id=attachment_id)])


def attachment_for_file_token(token: str) -> Attachment | None:
    """The attachment a genuine, unexpired link names, if it is (still) on a public message of the
    chat the link was issued for, on an active widget; None for anything else."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        claims = signing.loads(token, salt=SALT, max_age=file_url_max_age())
        chat_id, attachment_id = claims["c"], claims["a"]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if not all(isinstance(value, int) and not isinstance(value, bool) and value > 0 for value in (chat_id, attachment_id)):
        return None
    return (
        Attachment.objects.filter(
            pk=attachment_id, message__visibility=Visibility.PUBLIC, message__ticket__chat__pk=chat_id,
            ticket__chat__pk=chat_id, ticket__chat__widget__is_active=True,
        ).first()
    )


def attachment_payloads(*, chat: Chat, message: Message) -> list[dict[str, Any]]:
    """The files of a message as the visitor's widget shows them: name, size and a download link.
    None for an internal note (its files never reach the visitor). Reads `message.attachments`
    (prefetch it for many messages)."""
    if message.visibility != Visibility.PUBLIC:
        return []
    return [
        {"id": attachment.pk, "name": attachment.filename, "size": attachment.size,
         "url": file_url(chat_id=chat.pk, attachment_id=attachment.pk)}
        for attachment in message.attachments.all()
    ]


def message_payload(*, chat: Chat, message: Message, client_id: str = "") -> dict[str, Any]:
    """events.message_payload with the message's files as links the visitor can open."""
    payload = events.message_payload(chat=chat, message=message, client_id=client_id)
    payload["attachments"] = attachment_payloads(chat=chat, message=message)
    return payload
