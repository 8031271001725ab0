"""Live chat websockets: the visitor's (`ws/chat/visitor/?token=…`) and the agent console's (`ws/chat/agent/`).

PostgreSQL is the record. A visitor's message is acknowledged (`ack` with the stored id) only once
`chat_visitor_message` has returned, i.e. after its transaction committed; a message resent with the
same `client_id` after a reconnect is the same row (the service is idempotent on it), so the widget
resends everything not acknowledged and nothing is doubled. Everything else on these sockets is
relayed through the channel layer (Redis) and may be lost when Redis restarts: the widget and the
console then reconnect and resume from the last message id they saw, read back from PostgreSQL.

Access is decided here as on the HTTP side:
- the visitor socket is authorised by the signed visitor token alone (no cookies), and only from
  the widget's allowed origins or our own: it is mounted outside AllowedHostsOriginValidator
  (helpdesk/asgi.py) because the widget runs on other sites;
- the agent socket takes signed-in, active staff only (session cookie, same-origin check kept), and
  joins a chat's group only when helpdesk.permissions lets the agent see the chat's ticket. Access is
  re-read from the database before events are forwarded (at most ACCESS_FRESH_SECONDS old, and at
  once after a chat's state changes), because an agent can be moved off a team, or a chat to another
  team, while a socket stays open;
- internal notes are dropped on the visitor socket whatever the event says.

Close codes (shared with the widget, the console and the HTTP API): 4400 malformed payload, 4401
bad or expired token / not signed in, 4403 origin not allowed / not staff, 4404 unknown or inactive
widget / chat ended, 4413 frame too large, 4429 rate limited / too many connections from one address.
A socket refused at connect is accepted first and then closed with its code: closed during the
handshake it would reach the browser as a bare 1006. Limits: the visitor's messages a minute
(counted by chat_visitor_message), HELPDESK_CHAT_MAX_CONNECTIONS_PER_IP visitor sockets per address
(channels_intake.chat.limits: one entry per socket in a Redis sorted set, pushed on by the
widget's pings and dropped on disconnect, so a socket of a killed process stops counting after
HELPDESK_CHAT_CONNECTION_TTL_SECONDS; the address is X-Forwarded-For only from TRUSTED_PROXIES,
i.e. the front door) and FRAMES_PER_MINUTE frames of any
kind per socket. Other frames on a healthy socket: `ping` → `pong` (the widget's keep-alive; uvicorn
pings at the protocol level as well). A visitor socket opens with a `state` frame (state, queue
position and estimated wait, agent name, `last_message_id`), then the replay if `after` was given.

Size limits, chosen so a well-behaved widget is never cut off: a *frame* larger than
max_frame_chars() (room for a body of HELPDESK_CHAT_MAX_MESSAGE_CHARS plus the envelope) closes the
socket with 4413 before it is parsed. A message *body* over HELPDESK_CHAT_MAX_MESSAGE_CHARS inside
an acceptable frame is refused with an error frame naming its client_id
(`{"type": "error", "code": "too_long", "client_id": …, "max_chars": N}`): the widget drops that one
message instead of resending it on every reconnect, and the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q

from channels_intake.chat import events, files, limits, presence, services, tokens
from channels_intake.chat.lines import LineOutcome, VisitorLine, line_writer
from channels_intake.chat.models import Chat, ChatState
from helpdesk import permissions, realtime
from tickets.models import Message, Ticket, User, Visibility
from tickets.services.ticket_messages import AppendedLine

logger = logging.getLogger(__name__)


def in_store_thread(function):
    """For the calls that store a message: a thread of the event loop's pool, not Channels' one
    shared thread. Storing is mostly waiting for PostgreSQL (queries, the commit's WAL flush); in
    the shared thread every message of the process waited for the previous one to commit (about 10
    messages a second per process under load), in the pool commits overlap. A socket still handles
    its frames one at a time, so its messages are stored in the order they were sent."""
    return database_sync_to_async(function, thread_sensitive=False)

CLOSE_MALFORMED = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_LARGE = 4413
CLOSE_RATE_LIMITED = 4429

# Every frame counts here (typing, read, ping too), messages also against
# HELPDESK_CHAT_MESSAGES_PER_MINUTE: a widget types and pings far below this, a flood does not.
FRAMES_PER_MINUTE = 600
# On resume, messages that committed in this window before the last one the client saw are sent
# again too: ids come from one sequence but commit out of order (a visitor's and an agent's message
# at once), so "id > after" alone could skip one that committed just after the client's last
# message. The client drops ids it already has.
RESUME_OVERLAP_SECONDS = 5.0
# How many message ids a socket remembers having sent, to drop a live copy of a replayed message.
SENT_IDS_REMEMBERED = 2000
# An agent's access to a chat is re-read from the database when older than this (setting
# HELPDESK_CHAT_AGENT_ACCESS_SECONDS; a chat's transfer or end re-reads it at once). Each agent
# socket re-reads its chats every half of it: at 2 s, 50 agents kept a server process's database
# thread busy with access checks alone.
ACCESS_FRESH_SECONDS = 10.0


def access_fresh_seconds() -> float:
    return float(getattr(settings, "HELPDESK_CHAT_AGENT_ACCESS_SECONDS", ACCESS_FRESH_SECONDS))
MAX_JOINED_CHATS = 30
# A resume sends at most this many messages (a chat's transcript is far shorter).
MAX_REPLAYED_MESSAGES = 2000
# A visitor socket's pings refresh its connection count and the visitor's presence at most this
# often (the widget pings every 25 s; the connection TTL is longer than both).
KEEP_ALIVE_SECONDS = 10.0

EVENT_TYPES = {
    "chat.message": "message",
    "chat.state": "state",
    "chat.typing": "typing",
    "chat.read": "read",
    "chat.ended": "ended",
}


def max_message_chars() -> int:
    return limits.max_message_chars()


def max_frame_chars() -> int:
    # JSON may escape every character of the body (\uXXXX: 6 characters each), plus the envelope.
    return max_message_chars() * 6 + 1024


def is_client_id(value: Any) -> bool:
    return isinstance(value, str) and services.CLIENT_ID.match(value) is not None


def is_positive_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def is_non_negative_id(value: Any) -> bool:
    return value == 0 or is_positive_id(value)


# ----------------------------------------------------------------------------------- limits


class FrameRate:
    """Frames of one socket in the last minute (a sliding window in memory: it is per socket, so
    Redis is not needed; messages are also limited per visitor across sockets, in Redis)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.times: deque[float] = deque()

    def allow(self) -> bool:
        now = time.monotonic()
        while self.times and now - self.times[0] > 60:
            self.times.popleft()
        self.times.append(now)
        return len(self.times) <= self.limit


def client_address(scope: dict[str, Any]) -> str:
    """The visitor's address: X-Forwarded-For only from a trusted proxy (the front door on loopback),
    as helpdesk.middleware.TrustedProxyMiddleware does for HTTP."""
    client = scope.get("client") or ("", 0)
    peer = str(client[0] or "")
    proxies = list(settings.TRUSTED_PROXIES)
    forwarded = _header(scope, b"x-forwarded-for")
    if proxies and forwarded and _in_networks(peer, proxies):
        for hop in reversed([hop.strip() for hop in forwarded.split(",") if hop.strip()]):
            if not _in_networks(hop, proxies):
                return hop
    return peer or "unknown"


def _in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        with contextlib.suppress(ValueError):
            if ip in ipaddress.ip_network(network, strict=False):
                return True
    return False


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def normalise_origin(origin: str) -> str:
    parts = urlsplit(origin.strip().lower())
    if not parts.scheme or not parts.netloc:
        return ""
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    netloc = parts.hostname or ""
    if parts.port and parts.port != default_port:
        netloc = f"{netloc}:{parts.port}"
    return f"{parts.scheme}://{netloc}"


def origin_allowed(*, origin: str, host: str, allowed_origins: list[str]) -> bool:
    """The widget's allowed origins, or ours: the site's configured address, or the very address
    the socket was opened on (a page we served ourselves, e.g. the demo host page)."""
    origin = normalise_origin(origin)
    if not origin:
        return False
    ours = {normalise_origin(settings.HELPDESK_SITE_URL)}
    if host:
        ours |= {normalise_origin(f"http://{host}"), normalise_origin(f"https://{host}")}
    return origin in ours or origin in {normalise_origin(allowed) for allowed in allowed_origins}


# ----------------------------------------------------------------------------------- shared base


class ChatSocket(AsyncJsonWebsocketConsumer):
    """Frame checks shared by both sockets: size before parsing, JSON objects only."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler, a hop to its database
        # thread for each frame and each relayed event; these sockets touch the database only
        # through database_sync_to_async and the line writer, which look after their connections.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            await self.close(code=CLOSE_MALFORMED)
            return
        if len(text_data) > max_frame_chars():
            await self.close(code=CLOSE_TOO_LARGE)
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.close(code=CLOSE_MALFORMED)
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.close(code=CLOSE_MALFORMED)
            return
        if not self.frame_rate.allow():
            await self.close(code=CLOSE_RATE_LIMITED)
            return
        await self.receive_json(content)

    async def refuse(self, code: int) -> None:
        """Turn the connection away with `code`. Accepted first: a socket closed during the handshake
        reaches the browser as a bare 1006 (uvicorn answers HTTP 403), and the widget needs the code
        to tell a bad token (start over) from an ended chat or a rate limit (wait)."""
        await self.accept()
        await self.close(code=code)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        self.closing = True
        await super().close(code=code, reason=reason)

    async def send_json(self, content: Any, close: bool = False) -> None:
        if not getattr(self, "closing", False):
            await super().send_json(content, close=close)

    @property
    def frame_rate(self) -> FrameRate:
        if not hasattr(self, "_frame_rate"):
            self._frame_rate = FrameRate(FRAMES_PER_MINUTE)
        return self._frame_rate

    async def join_group(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)

    async def leave_groups(self) -> None:
        for group in list(getattr(self, "joined", set())):
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = set()


class SentIds:
    """The message ids a socket has sent lately, so a replayed message and its live copy go out once."""

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._order: deque[int] = deque()

    def add(self, message_id: int) -> bool:
        """Remember the id; False if it was already sent."""
        if message_id in self._ids:
            return False
        self._ids.add(message_id)
        self._order.append(message_id)
        if len(self._order) > SENT_IDS_REMEMBERED:
            self._ids.discard(self._order.popleft())
        return True


# ----------------------------------------------------------------------------------- visitor


class VisitorChatConsumer(ChatSocket):
    chat_id: int

    async def connect(self) -> None:
        self.joined: set[str] = set()
        self.address: str | None = None
        self.sent = SentIds()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        claims = tokens.visitor_token_claims(token)
        if claims is None:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        chat = await database_sync_to_async(_open_chat)(claims[0])
        if chat is not None and chat.visitor_id != claims[1]:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        if chat is None:
            await self.refuse(CLOSE_NOT_FOUND)
            return
        if not origin_allowed(origin=_header(self.scope, b"origin"), host=_header(self.scope, b"host"),
                              allowed_origins=list(chat.widget.allowed_origins)):
            await self.refuse(CLOSE_FORBIDDEN)
            return
        address = client_address(self.scope)
        if not await sync_to_async(limits.connection_acquire, thread_sensitive=False)(
                ip=address, connection_id=self.channel_name):
            await self.refuse(CLOSE_RATE_LIMITED)
            return
        self.address = address
        self.kept_alive_at = time.monotonic()
        self.chat_id = chat.pk
        self.visitor_key = str(chat.visitor_id)
        self.visitor_name = chat.visitor_name
        # Joined before anything is read back, so a message committed meanwhile is not missed:
        # it waits in this channel and is sent after the replay (once; SentIds drops the copy).
        await self.join_group(realtime.chat_group(chat.pk))
        await self.accept()
        # The chat as it is now, first: a widget reconnecting after a refresh or a drop renders its
        # state at once instead of waiting for the next change (read after joining, so any later
        # change arrives after this and wins).
        await self.send_json(await database_sync_to_async(_visitor_connect_state)(chat.pk))
        after = (query.get("after") or [""])[0]
        if after.isdigit():
            await self._replay(int(after))

    async def disconnect(self, code: int) -> None:
        await self.leave_groups()
        address = getattr(self, "address", None)
        if address is not None:
            self.address = None
            await sync_to_async(_visitor_left, thread_sensitive=False)(address, self.channel_name, self.chat_id)

    async def _keep_alive(self) -> None:
        """The widget's ping: this socket still counts against its address's connection limit and
        the visitor is still here (the idle sweep leaves the chat alone). At most every
        KEEP_ALIVE_SECONDS, whatever the client pings."""
        now = time.monotonic()
        interval = min(KEEP_ALIVE_SECONDS, limits.connection_ttl_seconds() / 3)
        if self.address is None or now - self.kept_alive_at < interval:
            return
        self.kept_alive_at = now
        await sync_to_async(_visitor_kept_alive, thread_sensitive=False)(self.address, self.channel_name, self.chat_id)

    # ------------------------------------------------------------------ from the widget

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content["type"]
        if kind == "message":
            await self._message(content)
        elif kind == "typing":
            await self._typing(content)
        elif kind == "read":
            await self._read(content)
        elif kind == "resume":
            after = content.get("after", 0)
            if not is_non_negative_id(after):
                await self.close(code=CLOSE_MALFORMED)
                return
            await self._replay(after)
        elif kind == "ping":
            await self._keep_alive()
            await self.send_json({"type": "pong"})
        else:
            await self.close(code=CLOSE_MALFORMED)

    async def _message(self, content: dict[str, Any]) -> None:
        client_id, body = content.get("client_id"), content.get("body")
        if not is_client_id(client_id) or not isinstance(body, str):
            await self.close(code=CLOSE_MALFORMED)
            return
        if len(body) > max_message_chars():
            await self.send_json({"type": "error", "code": "too_long", "client_id": client_id,
                                  "max_chars": max_message_chars()})
            return
        # Stored with the other sockets' lines of the moment (lines.py); the service also counts the
        # visitor's rate (a resend of a stored message does not count).
        outcome = _visitor_line_outcome(await line_writer().store(
            VisitorLine(chat_id=self.chat_id, client_id=client_id, body=body)))
        if isinstance(outcome, Stored):
            # The service has returned: its transaction committed, the message is in PostgreSQL.
            await self.send_json({"type": "ack", "client_id": client_id, "id": outcome.id})
        elif isinstance(outcome, Close):
            await self.close(code=outcome.code)
        else:
            await self.send_json({"type": "error", "code": outcome.code, "client_id": client_id,
                                  "detail": outcome.detail})

    async def _typing(self, content: dict[str, Any]) -> None:
        is_typing = content.get("is_typing")
        if not isinstance(is_typing, bool):
            await self.close(code=CLOSE_MALFORMED)
            return
        await self._relay({"type": "chat.typing", "chat": self.chat_id, "who": "visitor",
                           "name": self.visitor_name, "is_typing": is_typing})

    async def _read(self, content: dict[str, Any]) -> None:
        up_to = content.get("up_to")
        if not is_positive_id(up_to):
            await self.close(code=CLOSE_MALFORMED)
            return
        await self._relay({"type": "chat.read", "chat": self.chat_id, "up_to": up_to, "by": "visitor"})

    async def _relay(self, event: dict[str, Any]) -> None:
        """Typing and read receipts are not stored: straight to the chat's group (lost if Redis is away)."""
        with contextlib.suppress(Exception):
            await self.channel_layer.group_send(
                realtime.chat_group(self.chat_id),
                {"type": "realtime.event", "event": event, "origin": self.channel_name},
            )

    async def _replay(self, after: int) -> None:
        messages = await database_sync_to_async(_messages_since)(self.chat_id, after, False)
        for payload in messages:
            await self._send_message(payload)
        await self.send_json({"type": "resumed", "after": after})

    # ------------------------------------------------------------------ from the channel layer

    async def realtime_event(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if not isinstance(event, dict) or event.get("chat") != self.chat_id:
            return
        kind = EVENT_TYPES.get(event.get("type", ""))
        if kind is None or message.get("origin") == self.channel_name:
            return
        if kind == "message":
            if event.get("is_internal") is not False:
                return  # an internal note, or an event that does not say: never to the visitor
            await self._send_message(event)
            return
        if kind == "typing" and event.get("who") == "visitor":
            return
        await self.send_json({**event, "type": kind})

    async def _send_message(self, payload: dict[str, Any]) -> None:
        if payload.get("is_internal") is not False or not self.sent.add(payload["id"]):
            return
        visible = {key: value for key, value in payload.items() if key != "is_internal"}
        await self.send_json({**visible, "type": "message", "chat": self.chat_id})


# ----------------------------------------------------------------------------------- agent


class AgentChatConsumer(ChatSocket):
    user: User

    async def connect(self) -> None:
        self.joined: set[str] = set()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        if not permissions.is_staff_member(user):
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.user = user
        # chat id -> (may see it, when that was read); kept fresh by _refresh_access in the background
        self.access: dict[int, tuple[bool, float]] = {}
        self.access_refresher: asyncio.Task | None = None
        self.sent: dict[int, SentIds] = {}
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "access_refresher", None) is not None:
            self.access_refresher.cancel()
        await self.leave_groups()

    # ------------------------------------------------------------------ from the console

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content["type"]
        if kind == "heartbeat":
            await self._heartbeat(content)
            return
        if kind == "ping":
            await self.send_json({"type": "pong"})
            return
        handler = {"join": self._join, "leave": self._leave, "message": self._message,
                   "typing": self._typing, "read": self._read}.get(kind)
        chat_id = content.get("chat")
        if handler is None or not is_positive_id(chat_id):
            await self.close(code=CLOSE_MALFORMED)
            return
        if kind != "join" and chat_id not in self.sent:
            await self.send_json({"type": "error", "code": "not_joined", "chat": chat_id})
            return
        await handler(chat_id, content)

    async def _join(self, chat_id: int, content: dict[str, Any]) -> None:
        after = content.get("after")
        if after is not None and not is_non_negative_id(after):
            await self.close(code=CLOSE_MALFORMED)
            return
        if chat_id not in self.sent and len(self.sent) >= MAX_JOINED_CHATS:
            await self.send_json({"type": "error", "code": "too_many_chats", "chat": chat_id})
            return
        if not await self._may_see(chat_id, fresh=True):
            # Same answer for "does not exist" and "not yours": chat ids cannot be probed.
            await self.send_json({"type": "error", "code": "not_found", "chat": chat_id})
            return
        self.sent.setdefault(chat_id, SentIds())
        if self.access_refresher is None:
            self.access_refresher = asyncio.ensure_future(self._refresh_access())
        await self.join_group(realtime.chat_group(chat_id))
        await self.send_json({"type": "joined", "chat": chat_id})
        if after is not None:
            for payload in await database_sync_to_async(_messages_since)(chat_id, after, True):
                await self._send_message(chat_id, payload)
            await self.send_json({"type": "resumed", "chat": chat_id, "after": after})

    async def _leave(self, chat_id: int, content: dict[str, Any]) -> None:
        group = realtime.chat_group(chat_id)
        self.joined.discard(group)
        self.sent.pop(chat_id, None)
        self.access.pop(chat_id, None)
        await self.channel_layer.group_discard(group, self.channel_name)
        await self.send_json({"type": "left", "chat": chat_id})

    async def _message(self, chat_id: int, content: dict[str, Any]) -> None:
        client_id, body = content.get("client_id", ""), content.get("body")
        is_internal = content.get("is_internal", False)
        if (client_id != "" and not is_client_id(client_id)) or not isinstance(body, str) \
                or not isinstance(is_internal, bool):
            await self.close(code=CLOSE_MALFORMED)
            return
        if len(body) > max_message_chars():
            await self.send_json({"type": "error", "code": "too_long", "chat": chat_id, "client_id": client_id,
                                  "max_chars": max_message_chars()})
            return
        outcome = await in_store_thread(_store_agent_message)(
            chat_id, self.user.pk, client_id, body, is_internal)
        if isinstance(outcome, Stored):
            await self.send_json({"type": "ack", "chat": chat_id, "client_id": client_id, "id": outcome.id})
        elif isinstance(outcome, Close):
            await self.send_json({"type": "error", "code": "not_found", "chat": chat_id, "client_id": client_id})
        else:
            await self.send_json({"type": "error", "code": outcome.code, "chat": chat_id, "client_id": client_id,
                                  "detail": outcome.detail})

    async def _typing(self, chat_id: int, content: dict[str, Any]) -> None:
        is_typing = content.get("is_typing")
        if not isinstance(is_typing, bool):
            await self.close(code=CLOSE_MALFORMED)
            return
        if await self._may_see(chat_id):
            await self._relay(chat_id, {"type": "chat.typing", "chat": chat_id, "who": "agent",
                                        "name": self.user.name, "is_typing": is_typing})

    async def _read(self, chat_id: int, content: dict[str, Any]) -> None:
        up_to = content.get("up_to")
        if not is_positive_id(up_to):
            await self.close(code=CLOSE_MALFORMED)
            return
        if await self._may_see(chat_id):
            await self._relay(chat_id, {"type": "chat.read", "chat": chat_id, "up_to": up_to, "by": "agent"})

    async def _relay(self, chat_id: int, event: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            await self.channel_layer.group_send(
                realtime.chat_group(chat_id), {"type": "realtime.event", "event": event, "origin": self.channel_name}
            )

    async def _heartbeat(self, content: dict[str, Any]) -> None:
        """Keep the agent's chat presence alive (it expires on its own without heartbeats). A status
        in the frame sets it (the console's toggle); without one the current status is refreshed."""
        status = content.get("status")
        if status is not None and status not in ("online", "away", "offline"):
            await self.close(code=CLOSE_MALFORMED)
            return
        status = await database_sync_to_async(_presence_heartbeat)(self.user.pk, status)
        await self.send_json({"type": "heartbeat", "status": status})

    # ------------------------------------------------------------------ from the channel layer

    async def realtime_event(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if not isinstance(event, dict):
            return
        chat_id = event.get("chat")
        kind = EVENT_TYPES.get(event.get("type", ""))
        if kind is None or chat_id not in self.sent or message.get("origin") == self.channel_name:
            return
        # A new state (transferred, ended...) may change who sees the chat: read access afresh.
        if not await self._may_see(chat_id, fresh=kind in ("state", "ended")):
            return
        if kind == "message":
            await self._send_message(chat_id, event)
        else:
            await self.send_json({**event, "type": kind})

    async def _send_message(self, chat_id: int, payload: dict[str, Any]) -> None:
        sent = self.sent.get(chat_id)
        if sent is not None and sent.add(payload["id"]):
            await self.send_json({**payload, "type": "message", "chat": chat_id})

    # ------------------------------------------------------------------ helpers

    async def _refresh_access(self) -> None:
        """Re-read the agent's access to all their joined chats (one query) twice per
        ACCESS_FRESH_SECONDS, so forwarding an event normally waits for no query at all."""
        while True:
            await asyncio.sleep(access_fresh_seconds() / 2)
            chat_ids = list(self.sent)
            if not chat_ids:
                continue
            try:
                visible = await database_sync_to_async(_agent_visible_chats)(self.user.pk, chat_ids)
            except Exception:
                logger.warning("chat access refresh failed", exc_info=True)
                continue  # _may_see reads it itself once the snapshot is too old
            now = time.monotonic()
            for chat_id in chat_ids:
                self.access[chat_id] = (chat_id in visible, now)

    async def _may_see(self, chat_id: int, *, fresh: bool = False) -> bool:
        known = self.access.get(chat_id)
        if not fresh and known is not None and time.monotonic() - known[1] < access_fresh_seconds():
            return known[0]
        allowed = await database_sync_to_async(_agent_may_see_chat)(self.user.pk, chat_id)
        self.access[chat_id] = (allowed, time.monotonic())
        return allowed


# ----------------------------------------------------------------------------------- database side
# Each runs in the sync thread; they read the chat afresh every time (its state changes under us).


def _open_chat(chat_id: int) -> Chat | None:
    """The chat if it is still open on an active widget."""
    chat = Chat.objects.select_related("widget").filter(pk=chat_id).first()
    if chat is None or not chat.widget.is_active or chat.state == ChatState.ENDED:
        return None
    return chat


@dataclass(frozen=True)
class Stored:
    id: int


@dataclass(frozen=True)
class Close:
    code: int


@dataclass(frozen=True)
class Refusal:
    """Why a service refused a message: sent to the client as an error frame naming its client_id."""

    code: str
    detail: str

    @classmethod
    def of(cls, error: ValidationError | PermissionDenied) -> Refusal:
        code = getattr(error, "code", None) or ("forbidden" if isinstance(error, PermissionDenied) else "refused")
        return cls(code=str(code), detail="; ".join(getattr(error, "messages", [str(error)])))


def _visitor_connect_state(chat_id: int) -> dict[str, Any]:
    """The `state` frame a visitor socket opens with: the chat's state, its place in the queue and
    the estimated wait while it waits, the agent's name once one has it, and the id of its last
    public message (the widget resumes after the last one it shows)."""
    chat = Chat.objects.select_related("ticket", "agent").get(pk=chat_id)
    position, wait = services.chat_queue_position(chat=chat)
    with contextlib.suppress(Exception):
        presence.visitor_seen(chat_id=chat_id)
    last_message_id = (
        Message.objects.filter(ticket_id=chat.ticket_id, visibility=Visibility.PUBLIC)
        .order_by("-pk").values_list("pk", flat=True).first()
    )
    return {
        **events.state_payload(chat=chat, position=position or None, estimated_wait=wait if position else None),
        "type": "state",
        "last_message_id": last_message_id or 0,
    }


def _visitor_kept_alive(address: str, connection_id: str, chat_id: int) -> None:
    limits.connection_refresh(ip=address, connection_id=connection_id)
    with contextlib.suppress(Exception):
        presence.visitor_seen(chat_id=chat_id)


def _visitor_left(address: str, connection_id: str, chat_id: int) -> None:
    limits.connection_release(ip=address, connection_id=connection_id)
    # The idle time counts from when they left, not from their last ping.
    with contextlib.suppress(Exception):
        presence.visitor_seen(chat_id=chat_id)


def _visitor_line_outcome(outcome: LineOutcome) -> Stored | Close | Refusal:
    """The stored line's id; a close code if the chat ended (or is gone) or the visitor is over the
    rate limit; otherwise why the service refused it. A resend of a line stored before the chat
    ended is still acknowledged (the service finds it by client id before it looks at the state)."""
    if isinstance(outcome, AppendedLine):
        return Stored(outcome.message_id)
    if isinstance(outcome, services.ChatEnded):
        return Close(CLOSE_NOT_FOUND)
    if isinstance(outcome, services.ChatRateLimited):
        return Close(CLOSE_RATE_LIMITED)
    if isinstance(outcome, services.ChatMessageTooLong):
        return Refusal(code="too_long", detail="; ".join(outcome.messages))
    return Refusal.of(outcome)


def _store_agent_message(
    chat_id: int, user_id: int, client_id: str, body: str, is_internal: bool
) -> Stored | Close | Refusal:
    agent = User.objects.filter(pk=user_id).first()
    chat = Chat.objects.select_related("ticket").filter(pk=chat_id).first()
    if agent is None or chat is None or not permissions.can_work_ticket(agent, chat.ticket):
        return Close(CLOSE_NOT_FOUND)
    try:
        message = services.chat_agent_message(chat=chat, agent=agent, body=body, is_internal=is_internal,
                                              client_id=client_id)
    except (ValidationError, PermissionDenied) as error:
        return Refusal.of(error)
    return Stored(message.pk)


def _messages_since(chat_id: int, after: int, include_internal: bool) -> list[dict[str, Any]]:
    """The chat's messages after `after` (and those that committed in the overlap window before it),
    in id order, as chat.message payloads."""
    chat = Chat.objects.filter(pk=chat_id).first()
    if chat is None:
        return []
    messages = Message.objects.filter(ticket_id=chat.ticket_id).select_related("author_user").order_by("pk")
    if not include_internal:
        # The visitor's replay carries their files as signed links (channels_intake.chat.files).
        messages = messages.filter(visibility=Visibility.PUBLIC).prefetch_related("attachments")
    if after:
        seen_at = Message.objects.filter(ticket_id=chat.ticket_id, pk=after).values_list("created_at", flat=True).first()
        condition = Q(pk__gt=after)
        if seen_at is not None:
            condition |= Q(created_at__gte=seen_at - timedelta(seconds=RESUME_OVERLAP_SECONDS))
        messages = messages.filter(condition)
    payload = events.message_payload if include_internal else files.message_payload
    return [payload(chat=chat, message=message) for message in messages[:MAX_REPLAYED_MESSAGES]]


def _agent_visible_chats(user_id: int, chat_ids: list[int]) -> set[int]:
    """Which of these chats the agent may see now (helpdesk.permissions' ticket visibility)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or not permissions.is_staff_member(user):
        return set()
    tickets = permissions.visible_tickets(user, Ticket.objects.filter(chat__pk__in=chat_ids))
    return set(tickets.values_list("chat__pk", flat=True))


def _agent_may_see_chat(user_id: int, chat_id: int) -> bool:
    """helpdesk.permissions.can_view_ticket on the chat's ticket, with the agent read afresh."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or not permissions.is_staff_member(user):
        return False
    ticket = Ticket.objects.filter(chat__pk=chat_id).only("pk", "team_id", "assignee_id").first()
    return ticket is not None and permissions.can_view_ticket(user, ticket)


def _presence_heartbeat(user_id: int, status: str | None) -> str:
    user = User.objects.get(pk=user_id)
    if status is None:
        status = services.agent_chat_presence(user=user)
        if status == "offline":
            return status
    services.agent_chat_presence_set(user=user, status=status)
    return status
