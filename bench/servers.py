"""The production HTTP servers, started on a loopback port for a benchmark and stopped after."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServerConfig:
    name: str  # as shown in the results
    kind: str  # "gunicorn", "uvicorn" or "frontdoor" (what `make run` serves: gunicorn + uvicorn behind it)
    workers: int

    def command(self, port: int) -> list[str]:
        if self.kind == "gunicorn":
            return [
                sys.executable, "-m", "gunicorn", "helpdesk.wsgi:application", "--bind", f"{HOST}:{port}",
                "--workers", str(self.workers), "--worker-class", "sync", "--backlog", "2048",
                "--log-level", "warning", "--timeout", "120", "--no-control-socket",
            ]
        if self.kind == "uvicorn":
            return [
                sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", HOST, "--port", str(port),
                "--workers", str(self.workers), "--lifespan", "off", "--no-access-log", "--log-level", "warning",
                "--backlog", "2048",
            ]
        if self.kind == "frontdoor":
            # One process group: the shell starts gunicorn and uvicorn, then becomes the front door.
            http_port, websocket_port = free_port(), free_port()
            http = ServerConfig(self.name, "gunicorn", self.workers).command(http_port)
            websocket = ServerConfig(self.name, "uvicorn", 1).command(websocket_port)
            front = [
                sys.executable, "-m", "helpdesk.frontdoor", "--listen", f"{HOST}:{port}",
                "--http", f"{HOST}:{http_port}", "--websocket", f"{HOST}:{websocket_port}",
            ]
            return ["sh", "-c", f"{shlex.join(http)} & {shlex.join(websocket)} & exec {shlex.join(front)}"]
        raise ValueError(self.kind)


SERVERS = {
    "gunicorn-2": ServerConfig("gunicorn (WSGI), 2 sync workers", "gunicorn", 2),
    "gunicorn-4": ServerConfig("gunicorn (WSGI), 4 sync workers", "gunicorn", 4),
    "uvicorn-2": ServerConfig("uvicorn (ASGI), 2 workers", "uvicorn", 2),
    "make-run": ServerConfig("make run: front door → gunicorn, 2 sync workers", "frontdoor", 2),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def running(config: ServerConfig, env: dict[str, str], log_path: Path) -> Iterator[int]:
    """Start the server, wait until /healthz answers, yield its port; stop it (its whole group) after."""
    port = free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            config.command(port), cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while not _healthy(port):
            if process.poll() is not None:
                raise RuntimeError(f"{config.name} exited with {process.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{config.name} did not answer /healthz within 90 s; see {log_path}")
            time.sleep(0.3)
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
