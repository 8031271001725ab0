"""Helpers of the chat socket tests: chats started through the services, sockets through the ASGI app."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from channels_intake.chat import services, tokens
from channels_intake.chat.models import Chat, ChatWidget

SHOP = "https://shop.example"
OUR_HOST = "testserver"  # in ALLOWED_HOSTS: the agent sockets' same-origin check passes
QUIET = 1.0  # seconds to wait for a frame that must not come
PATIENT = 10  # seconds to wait for a frame that must come (the machine may be busy)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()
    # Messages are stored in threads of the scenario's loop pool (consumers.in_store_thread); the
    # threads ended with the loop, and collecting them closes their database connections now, not
    # when the test database is dropped at the end of the session.
    gc.collect()


def db(function: Callable, *args, **kwargs):
    return database_sync_to_async(function)(*args, **kwargs)


def make_widget(team, **fields) -> ChatWidget:
    fields.setdefault("allowed_origins", [SHOP])
    fields.setdefault("deflection_enabled", False)
    return ChatWidget.objects.create(name=fields.pop("name", "Shop"), team=team, **fields)


def start_chat(widget: ChatWidget, *, name: str = "Ann Visitor", question: str = "Where is my parcel?") -> Chat:
    return services.chat_start(
        widget=widget, visitor_id=uuid.uuid4(), name=name, email=f"{uuid.uuid4().hex[:8]}@visitor.example",
        question=question, language="en", origin=SHOP,
    )


def visitor_token(chat: Chat) -> str:
    return tokens.visitor_token_issue(chat=chat)


def visitor_socket(token: str, *, origin: str | None = SHOP, after: int | None = None,
                   address: str = "203.0.113.7") -> WebsocketCommunicator:
    """A visitor socket through helpdesk.asgi.application (the real mount: no same-origin validator)."""
    from helpdesk.asgi import application

    path = f"/ws/chat/visitor/?token={token}" + (f"&after={after}" if after is not None else "")
    headers = [(b"host", OUR_HOST.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    communicator.scope["client"] = (address, 50000)
    return communicator


async def open_visitor(token: str, **kwargs) -> WebsocketCommunicator:
    """A connected visitor socket, past the `state` frame every visitor socket opens with."""
    communicator = visitor_socket(token, **kwargs)
    connected, code = await communicator.connect(timeout=PATIENT)
    assert connected, f"visitor socket refused with {code}"
    opening = await communicator.receive_json_from(timeout=PATIENT)
    assert opening["type"] == "state", opening
    communicator.opening_state = opening
    return communicator


async def open_agent(user) -> WebsocketCommunicator:
    from channels.routing import URLRouter

    from channels_intake.chat.ws_urls import agent_websocket_urlpatterns

    communicator = WebsocketCommunicator(URLRouter(agent_websocket_urlpatterns), "/ws/chat/agent/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect(timeout=PATIENT)
    assert connected, f"agent socket refused with {code}"
    return communicator


async def join(agent_socket: WebsocketCommunicator, chat_id: int, **fields) -> None:
    await agent_socket.send_json_to({"type": "join", "chat": chat_id, **fields})
    assert await agent_socket.receive_json_from(timeout=PATIENT) == {"type": "joined", "chat": chat_id}


async def next_of_type(communicator: WebsocketCommunicator, kind: str, *, skip: tuple[str, ...] = ("state",)) -> dict:
    """The next frame of `kind`, passing over frames of the types in `skip` (state changes from routing)."""
    while True:
        frame = await communicator.receive_json_from(timeout=PATIENT)
        if frame["type"] == kind:
            return frame
        assert frame["type"] in skip, f"expected {kind}, got {frame}"


async def frames_until_quiet(communicator: WebsocketCommunicator, *, skip: tuple[str, ...] = ("state",)) -> list[dict]:
    """Every frame that arrives until the socket is quiet for QUIET seconds, without the skipped types."""
    frames = []
    while not await communicator.receive_nothing(timeout=QUIET):
        frame = await communicator.receive_json_from(timeout=PATIENT)
        if frame["type"] not in skip:
            frames.append(frame)
    return frames


async def close_code(communicator: WebsocketCommunicator) -> int:
    """The code the server closed the socket with (after a frame it refused)."""
    output = await communicator.receive_output(timeout=PATIENT)
    while output["type"] == "websocket.send":
        output = await communicator.receive_output(timeout=PATIENT)
    assert output["type"] == "websocket.close", output
    # As the browser would: the connection ends, so the consumer finishes before the loop closes
    # (a consumer left waiting for frames is cancelled at teardown, which can hang the test).
    await communicator.disconnect(code=output.get("code") or 1000, timeout=PATIENT)
    return output.get("code")


async def refusal_code(communicator: WebsocketCommunicator) -> int:
    """The code a socket is turned away with. The server accepts and then closes: a socket refused
    during the handshake reaches a browser as a bare 1006, without the code."""
    connected, code = await communicator.connect(timeout=PATIENT)
    assert connected, f"refused in the handshake ({code}): the browser would not see the code"
    return await close_code(communicator)
