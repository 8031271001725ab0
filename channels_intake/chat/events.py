"""The realtime events of live chat (see the shared contract of issue 6), sent after commit.

To the chat's group (`helpdesk.realtime.chat_group`): `chat.message`, `chat.state`, `chat.ended`
(the visitor socket drops `is_internal` messages; typing and read receipts are the sockets' own).
To agents (their user group, the team group), always with a `ticket` summary so the agent socket
forwards a notice only to agents who may see that ticket: `chat.offered`, `chat.offer_withdrawn`,
`chat.queue`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpdesk import realtime
from tickets.models import AuthorKind, Message, Visibility
from tickets.services.common import ticket_summary

if TYPE_CHECKING:
    from channels_intake.chat.models import Chat, ChatOffer

AUTHORS: dict[str, str] = {AuthorKind.CUSTOMER: "visitor", AuthorKind.AGENT: "agent", AuthorKind.SYSTEM: "system"}


def message_payload(*, chat: Chat, message: Message, client_id: str = "") -> dict[str, Any]:
    """A chat message as the sockets and the HTTP resume send it (`type` chat.message)."""
    author = AUTHORS.get(message.author_kind, "system")
    if author == "visitor":
        author_name = chat.visitor_name
    elif message.author_user_id is not None and message.author_user is not None:
        author_name = message.author_user.name
    else:
        author_name = ""
    if not client_id and message.external_id.startswith(f"chat:{chat.pk}:"):
        client_id = message.external_id.rsplit(":", 1)[-1]
    return {
        "type": "chat.message",
        "chat": chat.pk,
        "id": message.pk,
        "author": author,
        "author_name": author_name,
        "body": message.body_text,
        "is_internal": message.visibility == Visibility.INTERNAL,
        "created_at": message.created_at.isoformat(),
        "client_id": client_id,
        "attachments": [],
    }


def state_payload(*, chat: Chat, position: int | None = None, estimated_wait: int | None = None) -> dict[str, Any]:
    return {
        "type": "chat.state",
        "chat": chat.pk,
        "state": chat.state,
        "agent_name": chat.agent.name if chat.agent_id is not None and chat.agent is not None else "",
        "position": position,
        "estimated_wait": estimated_wait,
    }


def messages_after_commit(messages: list[tuple[Chat, Message, str]]) -> None:
    """Several chats' new messages (chat, message, client id), in one trip to Redis after commit."""
    realtime.broadcast_many_after_commit([
        ([realtime.chat_group(chat.pk)], message_payload(chat=chat, message=message, client_id=client_id))
        for chat, message, client_id in messages
    ])


def message_after_commit(*, chat: Chat, message: Message, client_id: str = "") -> None:
    realtime.broadcast_after_commit(
        [realtime.chat_group(chat.pk)], message_payload(chat=chat, message=message, client_id=client_id)
    )


def state_after_commit(*, chat: Chat, position: int | None = None, estimated_wait: int | None = None) -> None:
    realtime.broadcast_after_commit(
        [realtime.chat_group(chat.pk)], state_payload(chat=chat, position=position, estimated_wait=estimated_wait)
    )


def ended_after_commit(*, chat: Chat) -> None:
    realtime.broadcast_after_commit(
        [realtime.chat_group(chat.pk)], {"type": "chat.ended", "chat": chat.pk, "reason": chat.end_reason}
    )


def offered_after_commit(*, offer: ChatOffer, question: str) -> None:
    chat = offer.chat
    realtime.broadcast_after_commit([realtime.user_group(offer.agent_id)], {
        "type": "chat.offered",
        "chat": chat.pk,
        "offer": offer.pk,
        "expires_at": offer.expires_at.isoformat(),
        "visitor_name": chat.visitor_name,
        "question": question[:300],
        "ticket": ticket_summary(chat.ticket),
    })


def offer_withdrawn_after_commit(*, offer: ChatOffer) -> None:
    realtime.broadcast_after_commit([realtime.user_group(offer.agent_id)], {
        "type": "chat.offer_withdrawn",
        "chat": offer.chat_id,
        "offer": offer.pk,
        "ticket": ticket_summary(offer.chat.ticket),
    })


def queue_after_commit(*, chat: Chat, waiting: int) -> None:
    """How many chats wait for the team now; carries the changed chat's ticket for the socket's check."""
    team_id = chat.ticket.team_id
    realtime.broadcast_after_commit([realtime.team_group(team_id)], {
        "type": "chat.queue",
        "chat": chat.pk,
        "team": team_id,
        "waiting": waiting,
        "ticket": ticket_summary(chat.ticket),
    })
