"""A small HTTP/1.1 load generator for loopback benchmarks (no wrk needed).

Sequential latency uses http.client with keep-alive. Concurrent load uses asyncio streams with
pre-built requests and minimal response parsing, so the client spends as little of the machine's
CPU as possible. Servers that close the connection after each response (gunicorn sync workers)
are handled by reconnecting.
"""

from __future__ import annotations

import asyncio
import http.client
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Latencies:
    """Request latencies in milliseconds and the statuses seen."""

    samples: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, milliseconds: float, status: int) -> None:
        self.samples.append(milliseconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def percentile(self, fraction: float) -> float:
        if not self.samples:
            return float("nan")
        ordered = sorted(self.samples)
        index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[index]

    @property
    def rate(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else float("nan")

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 400 or status == 0)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def raw(self, host: str, port: int) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


# --- one client, one request at a time -----------------------------------------------------------


class SequentialClient:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.connection = http.client.HTTPConnection(host, port, timeout=60)

    def send(self, request: Request) -> tuple[int, bytes, float]:
        """(status, body, milliseconds)."""
        started = time.perf_counter()
        try:
            self.connection.request(request.method, request.path, body=request.body or None,
                                    headers=dict(request.headers))
            response = self.connection.getresponse()
            body = response.read()
        except (http.client.HTTPException, ConnectionError):
            # The server closed a kept-alive connection between requests: once more on a new one.
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            started = time.perf_counter()
            self.connection.request(request.method, request.path, body=request.body or None,
                                    headers=dict(request.headers))
            response = self.connection.getresponse()
            body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.getheader("connection", "").lower() == "close":
            self.connection.close()
        return response.status, body, elapsed

    def close(self) -> None:
        self.connection.close()


def sequential(host: str, port: int, requests: Sequence[Request], *, warmup: int = 10) -> Latencies:
    """Send `requests` one after another on one keep-alive connection."""
    client = SequentialClient(host, port)
    try:
        for request in list(requests)[:warmup]:
            client.send(request)
        result = Latencies()
        started = time.perf_counter()
        for request in requests:
            status, _body, milliseconds = client.send(request)
            result.add(milliseconds, status)
        result.seconds = time.perf_counter() - started
        return result
    finally:
        client.close()


# --- many connections at once -------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; (status, server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()
        close = True
    return status, close


async def _worker(host: str, port: int, next_request: Callable[[], bytes], deadline: float,
                  result: Latencies, limit: list[int]) -> None:
    reader = writer = None
    while time.perf_counter() < deadline and (limit[0] != 0):
        if limit[0] > 0:
            limit[0] -= 1
        if writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        payload = next_request()
        assert reader is not None
        started = time.perf_counter()
        try:
            writer.write(payload)
            status, close = await _read_response(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            reader = writer = None
            result.add((time.perf_counter() - started) * 1000, 0)
            continue
        result.add((time.perf_counter() - started) * 1000, status)
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def concurrent(host: str, port: int, next_request: Callable[[], bytes], *, connections: int,
               seconds: float, max_requests: int = -1, warmup_seconds: float = 1.0) -> Latencies:
    """Keep `connections` requests in flight for `seconds` (or until `max_requests` were sent)."""

    async def run(duration: float, count: int) -> Latencies:
        result = Latencies()
        limit = [count]
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(*[_worker(host, port, next_request, deadline, result, limit)
                               for _ in range(connections)])
        result.seconds = time.perf_counter() - started
        return result

    if warmup_seconds:
        asyncio.run(run(warmup_seconds, -1))
    return asyncio.run(run(seconds, max_requests))


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
