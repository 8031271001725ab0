"""Visitor tokens: what a widget's browser shows to prove it is the visitor of one chat.

Signed with SECRET_KEY (django.core.signing, salt "chat-visitor"), valid HELPDESK_CHAT_TOKEN_MAX_AGE_SECONDS
(24 h). A token names one chat and its visitor id: it opens that chat and no other, over HTTP
(`Authorization: Bearer`) and on the visitor websocket. Nothing is stored server-side.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing

if TYPE_CHECKING:
    from channels_intake.chat.models import Chat

SALT = "chat-visitor"
DEFAULT_MAX_AGE_SECONDS = 24 * 3600


def _max_age() -> int:
    return int(getattr(settings, "HELPDESK_CHAT_TOKEN_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS))


def visitor_token_issue(*, chat: Chat) -> str:
    return signing.dumps({"c": chat.pk, "v": str(chat.visitor_id)}, salt=SALT, compress=False)


def visitor_token_claims(token: str) -> tuple[int, uuid.UUID] | None:
    """(chat id, visitor id) of a genuine, unexpired token; None for anything else."""
    if not isinstance(token, str) or not token or len(token) > 512:
        return None
    try:
        claims = signing.loads(token, salt=SALT, max_age=_max_age())
        chat_id, visitor_id = claims["c"], uuid.UUID(claims["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if not isinstance(chat_id, int) or isinstance(chat_id, bool) or chat_id <= 0:
        return None
    return chat_id, visitor_id


def visitor_token_read(token: str) -> int | None:
    """The chat id a genuine, unexpired token was issued for; None for a forged, expired or malformed one."""
    claims = visitor_token_claims(token)
    return claims[0] if claims is not None else None
