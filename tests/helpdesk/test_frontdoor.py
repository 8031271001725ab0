"""The front door: one public port, plain HTTP to the WSGI server, websockets to the ASGI server.

The backends here are small asyncio servers that record what reached them, so each test can see
where a request went and what the front door changed on the way. tests/helpdesk/test_serve.py and
the browser tests run it in front of the real gunicorn and uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from helpdesk.frontdoor import MAX_HEAD_BYTES, Address, FrontDoor


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingBackend:
    """Answers each connection with its name and echoes what follows the request head."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.heads: list[bytes] = []
        self.address = Address("127.0.0.1", _free_port())

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        body = f"answered by {self.name}".encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        if head.split(b" ")[1].startswith(b"/ws/"):
            # Like an upgraded websocket: keep talking both ways until the client leaves.
            while data := await reader.read(1024):
                writer.write(b"echo:" + data)
                await writer.drain()
        writer.close()

    async def start(self) -> asyncio.Server:
        return await asyncio.start_server(self.handle, self.address.host, self.address.port)


@contextlib.asynccontextmanager
async def front_door(*, backends_up: bool = True):
    http, websocket = RecordingBackend("gunicorn"), RecordingBackend("uvicorn")
    servers = [await http.start(), await websocket.start()] if backends_up else []
    listen = Address("127.0.0.1", _free_port())
    ready = asyncio.Event()
    task = asyncio.create_task(
        FrontDoor(http_backend=http.address, websocket_backend=websocket.address).serve(listen, ready=ready)
    )
    await ready.wait()
    try:
        yield listen, http, websocket
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for server in servers:
            server.close()


async def _exchange(listen: Address, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(listen.host, listen.port)
    writer.write(request)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return response


def test_plain_http_goes_to_the_wsgi_server_and_websockets_to_the_asgi_server():
    async def scenario():
        async with front_door() as (listen, http, websocket):
            page = await _exchange(listen, b"GET /agent/?view=open HTTP/1.1\r\nHost: x\r\n\r\n")
            healthz = await _exchange(listen, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")

            reader, writer = await asyncio.open_connection(listen.host, listen.port)
            writer.write(
                b"GET /ws/agent/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            )
            handshake = await asyncio.wait_for(reader.readuntil(b"answered by uvicorn"), 10)
            # After the upgrade the connection carries frames both ways, for as long as it lives.
            for frame in (b"first", b"second"):
                writer.write(frame)
                assert await asyncio.wait_for(reader.readexactly(5 + len(frame)), 10) == b"echo:" + frame
            writer.close()
            return page, healthz, handshake, http, websocket

    page, healthz, handshake, http, websocket = asyncio.run(scenario())
    assert page.endswith(b"answered by gunicorn")
    assert healthz.endswith(b"answered by gunicorn")
    assert b"200 OK" in handshake
    assert [head.split(b"\r\n")[0] for head in http.heads] == [
        b"GET /agent/?view=open HTTP/1.1",
        b"GET /healthz HTTP/1.1",
    ]
    assert [head.split(b"\r\n")[0] for head in websocket.heads] == [b"GET /ws/agent/ HTTP/1.1"]


def test_a_path_that_only_mentions_ws_is_still_plain_http():
    async def scenario():
        async with front_door() as (listen, http, websocket):
            return await _exchange(listen, b"GET /agent/?next=/ws/agent/ HTTP/1.1\r\nHost: x\r\n\r\n")

    assert asyncio.run(scenario()).endswith(b"answered by gunicorn")


def test_a_forged_x_forwarded_for_is_replaced_by_the_address_the_front_door_saw():
    # Rate limits and login lockouts are keyed on the client address: a client must not pick it.
    async def scenario():
        async with front_door() as (listen, http, websocket):
            await _exchange(
                listen,
                b"POST /accounts/login/ HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n"
                b"x-forwarded-for: 198.51.100.7\r\nContent-Length: 0\r\n\r\n",
            )
            return http.heads[0]

    head = asyncio.run(scenario())
    forwarded = [line for line in head.split(b"\r\n") if line.lower().startswith(b"x-forwarded-for:")]
    assert forwarded == [b"X-Forwarded-For: 127.0.0.1"]
    assert b"203.0.113.9" not in head and b"198.51.100.7" not in head


def test_a_request_body_reaches_the_backend_unchanged():
    async def scenario():
        async with front_door() as (listen, http, websocket):
            reader, writer = await asyncio.open_connection(listen.host, listen.port)
            writer.write(b"GET /ws/echo/ HTTP/1.1\r\nHost: x\r\n\r\n")
            await reader.readuntil(b"answered by uvicorn")
            payload = bytes(range(256)) * 4096  # 1 MiB, every byte value, in many chunks
            writer.write(payload)
            await writer.drain()
            received = b""
            while len(received.replace(b"echo:", b"")) < len(payload):
                received += await asyncio.wait_for(reader.read(65536), 10)
            writer.close()
            return payload, received.replace(b"echo:", b"")

    sent, echoed = asyncio.run(scenario())
    assert echoed == sent


def test_the_client_gets_502_when_the_web_server_is_down():
    async def scenario():
        async with front_door(backends_up=False) as (listen, http, websocket):
            return await _exchange(listen, b"GET /agent/ HTTP/1.1\r\nHost: x\r\n\r\n")

    response = asyncio.run(scenario())
    assert response.startswith(b"HTTP/1.1 502 Bad Gateway")
    assert response.endswith(b"The web server is not answering.\n")


def test_an_oversized_request_head_gets_431_and_never_reaches_a_backend():
    async def scenario():
        async with front_door() as (listen, http, websocket):
            huge = b"GET / HTTP/1.1\r\nCookie: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n"
            response = await _exchange(listen, huge)
            return response, http.heads, websocket.heads

    response, http_heads, websocket_heads = asyncio.run(scenario())
    assert response.startswith(b"HTTP/1.1 431 ")
    assert http_heads == [] and websocket_heads == []
