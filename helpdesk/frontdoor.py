"""One address for the whole product: plain HTTP to the WSGI server, websockets to the ASGI server.

Measured on this machine (bench/RESULTS.md), Django under gunicorn's sync workers serves pages
1.4–2× faster than under uvicorn, but only an ASGI server can hold websockets. `make run` (and the
docker-compose `front` service) therefore put this small TCP front door on the public port: it reads
the head of the first request on each connection, sends connections for `/ws/…` to uvicorn and all
others to gunicorn, and then only copies bytes. Any reverse proxy that routes `/ws/` the same way
(nginx, Caddy, a cloud load balancer) can take its place in production.

The front door is the client's first hop, so it replaces any X-Forwarded-For the client sent with
the address it saw; the backends trust that header only from loopback (TRUSTED_PROXIES).

    python -m helpdesk.frontdoor --listen 127.0.0.1:8000 --http 127.0.0.1:8001 --websocket 127.0.0.1:8002
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass

logger = logging.getLogger("helpdesk.frontdoor")

MAX_HEAD_BYTES = 64 * 1024  # larger request heads get 431, as nginx's default buffers would
HEAD_TIMEOUT_SECONDS = 30.0  # a client that never finishes its request head is dropped
CONNECT_TIMEOUT_SECONDS = 5.0
COPY_CHUNK_BYTES = 256 * 1024
LINGER_SECONDS = 2.0
CLOSE_TIMEOUT_SECONDS = 5.0
WEBSOCKET_PATH_PREFIX = b"/ws/"


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Address:
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit():
            raise argparse.ArgumentTypeError(f"expected host:port, got {text!r}")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def _error_response(status: str, message: str) -> bytes:
    body = (message + "\n").encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def is_websocket_request(request_line: bytes) -> bool:
    """Websocket routes all live under /ws/ (helpdesk.asgi), so the path alone decides."""
    parts = request_line.split(b" ")
    return len(parts) == 3 and parts[1].startswith(WEBSOCKET_PATH_PREFIX)


def rewrite_head(head: bytes, client_host: str) -> tuple[bytes, bytes]:
    """The request line, and the head with X-Forwarded-For set to the client we saw (only ours)."""
    lines = head[: -len(b"\r\n\r\n")].split(b"\r\n")
    request_line, header_lines = lines[0], lines[1:]
    kept = [line for line in header_lines if not line.lower().startswith(b"x-forwarded-for:")]
    kept.append(b"X-Forwarded-For: " + client_host.encode("ascii", "replace"))
    return request_line, b"\r\n".join([request_line, *kept]) + b"\r\n\r\n"


async def _reply_and_close(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes
) -> None:
    """Send an error, then read what the client still sends for a moment before closing (lingering
    close, as nginx does): closing with unread input resets the connection, and the client would
    lose the error before reading it."""
    writer.write(response)
    with contextlib.suppress(OSError, ConnectionError, TimeoutError):
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        deadline = asyncio.get_running_loop().time() + LINGER_SECONDS
        while await asyncio.wait_for(
            reader.read(COPY_CHUNK_BYTES), max(0.0, deadline - asyncio.get_running_loop().time())
        ):
            pass


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(COPY_CHUNK_BYTES):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        # Half-close: the other side still gets the rest of the response after our request ends.
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


class FrontDoor:
    def __init__(self, *, http_backend: Address, websocket_backend: Address) -> None:
        self.http_backend = http_backend
        self.websocket_backend = websocket_backend
        # asyncio keeps only weak references to the tasks serving connections; one parked on a
        # future nobody else holds would be garbage-collected mid-connection.
        self.connections: set[asyncio.Task] = set()

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
            task.add_done_callback(self.connections.discard)
        peer = client_writer.get_extra_info("peername")
        client_host = peer[0] if isinstance(peer, tuple) else "unknown"
        backend_writer: asyncio.StreamWriter | None = None
        try:
            try:
                head = await asyncio.wait_for(client_reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_SECONDS)
            except asyncio.LimitOverrunError:
                await _reply_and_close(
                    client_reader,
                    client_writer,
                    _error_response("431 Request Header Fields Too Large", "Request head too large."),
                )
                return
            except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                return  # the client left (or never spoke) before finishing its request head
            request_line, head = rewrite_head(head, client_host)
            backend = self.websocket_backend if is_websocket_request(request_line) else self.http_backend
            try:
                backend_reader, backend_writer = await asyncio.wait_for(
                    asyncio.open_connection(backend.host, backend.port, limit=COPY_CHUNK_BYTES),
                    CONNECT_TIMEOUT_SECONDS,
                )
            except (OSError, TimeoutError) as error:
                logger.error("backend %s unreachable: %s", backend, error)
                await _reply_and_close(
                    client_reader,
                    client_writer,
                    _error_response("502 Bad Gateway", "The web server is not answering."),
                )
                return
            backend_writer.write(head)
            upstream = asyncio.ensure_future(_copy(client_reader, backend_writer))
            # The backend decides when a connection ends (gunicorn closes after each response); a
            # client that would keep an idle keep-alive connection open is let go then.
            await _copy(backend_reader, client_writer)
            upstream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upstream
        finally:
            for writer in (backend_writer, client_writer):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(OSError, ConnectionError, TimeoutError):
                        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_SECONDS)

    async def serve(self, listen: Address, *, ready: asyncio.Event | None = None) -> None:
        server = await asyncio.start_server(
            self.handle, listen.host, listen.port, limit=MAX_HEAD_BYTES, backlog=2048, reuse_address=True
        )
        logger.info(
            "front door on %s: HTTP → %s, websockets → %s", listen, self.http_backend, self.websocket_backend
        )
        if ready is not None:
            ready.set()
        async with server:
            await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=Address.parse, required=True, help="public host:port")
    parser.add_argument("--http", type=Address.parse, required=True, help="WSGI server host:port (gunicorn)")
    parser.add_argument(
        "--websocket", type=Address.parse, required=True, help="ASGI server host:port (uvicorn)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    with contextlib.suppress(ImportError):
        import uvloop  # the copy loop is most of the front door's CPU; uvloop halves it

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    front = FrontDoor(http_backend=args.http, websocket_backend=args.websocket)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await front.serve(args.listen)

    try:
        asyncio.run(run())
    except OSError as error:
        print(f"front door cannot listen on {args.listen}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
