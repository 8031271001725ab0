"""Browser tests: the real ASGI app (HTTP + websockets) in a subprocess, driven by headless Chromium.

pytest-django's live_server is WSGI-only, and the workspace needs websockets, so `e2e_server` starts
the production shape of `make run` in subprocesses: the front door (helpdesk/frontdoor.py) on one
port, plain HTTP under gunicorn and websockets under uvicorn behind it, pointed at the pytest-django
test database and the tests' Redis database. Tests run with `transactional_db`: what a test creates is committed, so
the server process sees it, and the database is emptied after each test.

Playwright's sync API keeps an asyncio loop "running" in the main thread while it is started, which
makes Django refuse ORM calls there (SynchronousOnlyOperation) and makes async_to_sync (realtime
broadcasts) impossible. So:
- Playwright lives only while this package's tests run (package scope), with
  DJANGO_ALLOW_ASYNC_UNSAFE set for exactly that time (the test process is single-threaded, so the
  guard has nothing to protect here);
- data that must reach the server's websockets is written through `in_db_thread`, a plain thread
  with no event loop, exactly like another web or worker process would write it.

Mail: a test that asks for `mail_servers` also gets the email side of `make run` as real processes,
started for that test only (most browser tests need none of it): the SMTP intake, a Celery worker
and the local SMTP sink, on free ports, against the same database and Redis.

Chromium: Debian's /usr/bin/chromium (never `playwright install`). When it is missing the tests
skip loudly, except under CI, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.helpers import EXPECT_TIMEOUT_MS, SCREENSHOT_DIR, VIEWPORT

CHROMIUM = Path(os.environ.get("HELPDESK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT_SECONDS = 45.0

_server_key = pytest.StashKey["E2EServer"]()


# --- Chromium ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return str(CHROMIUM)
    message = (
        f"Browser tests need Debian's Chromium at {CHROMIUM} (`apt-get install -y chromium`; "
        "do not run `playwright install`)."
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but Chromium is missing. {message}", pytrace=False)
    pytest.skip(f"SKIPPED LOUDLY: {message}")


# --- the ASGI server -----------------------------------------------------------------------------


@dataclass
class E2EServer:
    processes: list[subprocess.Popen]
    base_url: str
    log_path: Path
    env: dict[str, str]

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def exit_code(self) -> int | None:
        """The exit code of the first server process that has exited, None while all run."""
        return next((code for code in (process.poll() for process in self.processes) if code is not None), None)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def assert_alive(self) -> None:
        code = self.exit_code()
        if code is not None:
            pytest.fail(f"an e2e server process exited with {code}; the log ends with:\n{self.log_tail()}", pytrace=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict[str, Any]) -> str:
    """A DATABASE_URL for django-environ naming the same database as `settings_dict`."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    if host.startswith("/"):
        # A unix socket directory: django-environ takes it percent-encoded in the host part.
        host = quote(host, safe="")
    port = settings_dict.get("PORT")
    netloc = f"{credentials}{host}" + (f":{port}" if port else "")
    return f"postgres://{netloc}/{quote(settings_dict['NAME'], safe='')}"


def _wait_until_healthy(server: E2EServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    last_error = ""
    while time.monotonic() < deadline:
        if server.exit_code() is not None:
            break
        try:
            with urllib.request.urlopen(server.url("/healthz"), timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as error:
            last_error = str(error)
        time.sleep(0.2)
    code = server.exit_code()
    server.stop()
    pytest.fail(
        f"the e2e server did not answer /healthz within {SERVER_START_TIMEOUT_SECONDS:.0f} s "
        f"(last error: {last_error}, exit code: {code}); its log ends with:\n"
        f"{server.log_tail()}",
        pytrace=False,
    )


@pytest.fixture(scope="package")
def e2e_server(
    request: pytest.FixtureRequest, django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[E2EServer]:
    """The front door on a free loopback port, gunicorn and uvicorn behind it, on the test database."""
    from django.conf import settings

    port, http_port, websocket_port = _free_port(), _free_port(), _free_port()
    log_path = tmp_path_factory.mktemp("e2e-server") / "server.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        # No persistent connections: the test process truncates tables after each test and drops
        # the database at the end, which idle connections held by the server would get in the way of.
        "DB_CONN_MAX_AGE": "0",
        "REDIS_URL": settings.REDIS_URL,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "TRUSTED_PROXIES": "127.0.0.1",
        "WHITENOISE_USE_FINDERS": "1",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    # The settings module reads these on import; the server must not see the test process's overrides.
    for name in ("HELPDESK_REDIS_DB",):
        env.pop(name, None)
    commands = [
        [
            sys.executable, "-m", "gunicorn", "helpdesk.wsgi:application", "--bind", f"127.0.0.1:{http_port}",
            "--workers", "2", "--worker-class", "sync", "--log-level", "warning", "--no-control-socket",
        ],
        [
            sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1",
            "--port", str(websocket_port), "--no-access-log", "--log-level", "warning", "--lifespan", "off",
        ],
        [
            sys.executable, "-m", "helpdesk.frontdoor", "--listen", f"127.0.0.1:{port}",
            "--http", f"127.0.0.1:{http_port}", "--websocket", f"127.0.0.1:{websocket_port}",
        ],
    ]
    with log_path.open("wb") as log:
        processes = [
            subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            for command in commands
        ]
    server = E2EServer(processes=processes, base_url=f"http://127.0.0.1:{port}", log_path=log_path, env=env)
    request.config.stash[_server_key] = server
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        del request.config.stash[_server_key]
        server.stop()


# --- Playwright ----------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def chromium_browser(chromium_executable: str, e2e_server: E2EServer) -> Iterator[Any]:
    """One headless Chromium for the package; the server (and the test database) come up first."""
    from playwright.sync_api import expect, sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    manager = sync_playwright().start()
    try:
        expect.set_options(timeout=EXPECT_TIMEOUT_MS)
        chromium = manager.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        manager.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def live(e2e_server: E2EServer, transactional_db: None) -> Iterator[E2EServer]:
    """The running server, with this test's data committed where it can see it."""
    e2e_server.assert_alive()
    yield e2e_server
    e2e_server.assert_alive()


# --- the email side: SMTP intake, Celery worker, SMTP sink -------------------------------------


MAIL_START_TIMEOUT_SECONDS = 60.0
_mail_key = pytest.StashKey["MailServers"]()


@dataclass
class MailServers:
    """`make run`'s email processes: mail sent to `intake_port` becomes tickets, replies land in the sink."""

    processes: dict[str, subprocess.Popen]
    intake_port: int
    sink_port: int
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def exited(self) -> str | None:
        """The name and exit code of the first process that has exited, None while all run."""
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None:
                return f"{name} (exit code {code})"
        return None

    def assert_alive(self) -> None:
        exited = self.exited()
        if exited is not None:
            pytest.fail(f"the e2e mail process {exited} stopped; the log ends with:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        # Each leads its own process group: SIGTERM reaches the Celery worker's pool children too.
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _wait_until_mail_ready(mail: MailServers) -> None:
    """Until each process said it is ready (the worker consumes its queues, both SMTP ports listen)."""
    ready_lines = ("SMTP intake listening on", "SMTP sink listening on", " ready.")
    deadline = time.monotonic() + MAIL_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and mail.exited() is None:
        text = mail.log_path.read_text(errors="replace") if mail.log_path.exists() else ""
        if all(line in text for line in ready_lines):
            return
        time.sleep(0.2)
    exited = mail.exited()
    mail.stop()
    pytest.fail(
        f"the e2e mail processes were not ready within {MAIL_START_TIMEOUT_SECONDS:.0f} s "
        f"(stopped: {exited or 'none'}); their log ends with:\n{mail.log_tail()}",
        pytrace=False,
    )


@pytest.fixture
def mail_servers(request: pytest.FixtureRequest, live: E2EServer, tmp_path: Path) -> Iterator[MailServers]:
    """The SMTP intake, a Celery worker (every queue `make run` consumes) and the SMTP sink, for one test.

    Per test, not per package: the test process empties the Redis database (the Celery broker too)
    after each test, and a worker started afterwards declares its queues again. They stop before
    the test's data is deleted, so no task is left half done on a table being emptied.
    """
    from helpdesk.management.commands.serve import CELERY_QUEUES

    intake_port, sink_port = _free_port(), _free_port()
    env = {
        **live.env,
        "HELPDESK_SMTP_INTAKE_PORT": str(intake_port),
        "HELPDESK_SMTP_SINK_PORT": str(sink_port),
        # Celery says "ready." at INFO; the servers' own output stays at WARNING.
        "LOG_LEVEL": "INFO",
    }
    # Outbound mail goes to the sink, as under `make run` without EMAIL_HOST (helpdesk/settings.py).
    for name in ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_BACKEND", "CELERY_TASK_ALWAYS_EAGER"):
        env.pop(name, None)
    manage = str(REPO_ROOT / "manage.py")
    commands = {
        "smtp": [sys.executable, manage, "run_smtp_intake"],
        "sink": [sys.executable, manage, "run_smtp_sink"],
        "worker": [
            sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "-Q", CELERY_QUEUES, "--concurrency", "1",
            "-n", f"e2e-mail-{os.getpid()}@%h", "--without-mingle", "--without-gossip", "-l", "INFO",
        ],
    }
    log_path = tmp_path / "mail.log"
    with log_path.open("wb") as log:
        processes = {
            name: subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            for name, command in commands.items()
        }
    mail = MailServers(processes=processes, intake_port=intake_port, sink_port=sink_port, log_path=log_path)
    request.config.stash[_mail_key] = mail
    try:
        _wait_until_mail_ready(mail)
        yield mail
        mail.assert_alive()
    finally:
        del request.config.stash[_mail_key]
        mail.stop()


@pytest.fixture
def new_page(chromium_browser: Any, live: E2EServer) -> Iterator[Callable[..., Any]]:
    """new_page(**context_options) -> a page in a fresh browser context (own cookies), 1440x900.

    Console errors and failed same-origin requests are collected on `page.problems`, so a test can
    assert that a page raised no JavaScript error (CSP violations included).
    """
    contexts = []

    def open_page(**options: Any) -> Any:
        context = chromium_browser.new_context(
            base_url=live.base_url, viewport=VIEWPORT, locale="en-US", timezone_id="UTC", **options
        )
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        context.set_default_navigation_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda error: page.problems.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda message: page.problems.append(f"console.{message.type}: {message.text} ({message.location.get('url', '')})")
            if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico") else None,
        )
        page.on(
            "response",
            lambda response: page.problems.append(f"HTTP {response.status} {response.url}")
            if response.status >= 400 and response.url.startswith(live.base_url)
            and not response.url.endswith("/favicon.ico") else None,
        )
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if report.failed and "e2e" in item.nodeid:
        server = item.config.stash.get(_server_key, None)
        if server is not None:
            report.sections.append(("e2e server log (tail)", server.log_tail()))
        mail = item.config.stash.get(_mail_key, None)
        if mail is not None:
            report.sections.append(("e2e mail processes log (tail)", mail.log_tail()))
    return report

