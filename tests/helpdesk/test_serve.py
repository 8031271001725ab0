"""`manage.py serve` (what `make run` runs) as a real process tree, in a private data dir."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from helpdesk import devservers

STARTUP_TIMEOUT_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--no-demo-data", "--grace-seconds", "10"],
            cwd=devservers.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no line with {text!r} in the output of serve:\n{self.output[-5000:]}")

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def wait(self, timeout: float = 90) -> int:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def kill_tree(self) -> None:
        for process in [*self.descendants(), psutil.Process(self.process.pid)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


@pytest.fixture(scope="module")
def serve_env():
    # Enterable by helpdesk-pg (see test_devservers); migrations run once for the module.
    data = Path(tempfile.mkdtemp(prefix="helpdesk-serve-"))
    data.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env |= {
        "HELPDESK_DATA_DIR": str(data),
        "HELPDESK_PG_PORT": str(_free_port()),
        "HELPDESK_REDIS_PORT": str(_free_port()),
        "HELPDESK_PORT": str(_free_port()),
        "HELPDESK_SMTP_INTAKE_PORT": str(_free_port()),
        "WEB_CONCURRENCY": "1",
        "WHITENOISE_USE_FINDERS": "1",
        "HELPDESK_PG_FAST": "1",
    }
    yield env
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def serve(serve_env):
    started: list[ServeProcess] = []

    def start() -> ServeProcess:
        started.append(ServeProcess(serve_env))
        return started[-1]

    yield start
    for process in started:
        if process.process.poll() is None:
            process.kill_tree()


def test_serve_runs_web_worker_and_beat_and_sigterm_stops_the_whole_tree(serve, serve_env):
    tree = serve()
    tree.wait_for_line("helpdesk is running at")
    port = serve_env["HELPDESK_PORT"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        assert response.status == 200
    descendants = tree.descendants()
    names = " ".join(" ".join(process.cmdline()) for process in descendants)
    assert "gunicorn" in names
    assert "uvicorn" in names
    assert "helpdesk.frontdoor" in names
    assert "run_smtp_intake" in names
    assert "worker" in names
    assert "beat" in names
    # The worker says it is ready once it consumes its queues (seconds after the banner on a busy
    # machine); stopping before that would test less than a user's Ctrl-C does.
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not any(line.startswith("worker | ") and " ready." in line for line in tree.lines):
        assert time.monotonic() < deadline, f"the worker never said it was ready:\n{tree.output[-5000:]}"
        time.sleep(0.2)

    tree.process.send_signal(signal.SIGTERM)

    assert tree.wait() == 0
    assert "serve  | SIGTERM received: stopping." in tree.output
    assert "serve  | Stopped embedded postgres and redis." in tree.output
    assert any(line.startswith("web    | ") for line in tree.lines)
    assert any(line.startswith("front  | ") for line in tree.lines)
    assert any(line.startswith("worker | ") for line in tree.lines)
    psutil.wait_procs(descendants, timeout=10)
    assert [process.pid for process in descendants if process.is_running()] == []


def test_serve_stops_everything_when_a_child_dies(serve):
    tree = serve()
    tree.wait_for_line("helpdesk is running at")
    descendants = tree.descendants()
    children = psutil.Process(tree.process.pid).children()
    worker = next(child for child in children if "celery" in child.cmdline() and "worker" in child.cmdline())

    worker.kill()

    assert tree.wait() == 1
    assert "serve  | worker exited unexpectedly with code -9; stopping everything." in tree.output
    psutil.wait_procs(descendants, timeout=10)
    assert [process.pid for process in descendants if process.is_running()] == []
