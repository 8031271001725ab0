"""`manage.py serve` (what `make run` runs): the whole product on this machine, as one process tree.

Embedded PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL point elsewhere), migrations,
static files, demo data on first run, then the web server, Celery worker and beat (and the SMTP
intake listener once that command exists, and the local SMTP sink for outbound mail when no
EMAIL_HOST is set), their output prefixed with their names. Ctrl-C or
SIGTERM stops everything; a child that dies takes the tree down with a non-zero exit.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from helpdesk import devservers

CELERY_QUEUES = "default,email_in,email_out,sla,metrics,webhooks"
DEMO_USERNAME = "admin"
DEMO_LOGINS = "admin / agent / manager / customer@example.com, password 'demo' (demo only)"
# The phone webhooks refuse everything without a secret; the demo (embedded database with demo
# data) gets this one unless HELPDESK_PHONE_WEBHOOK_SECRET is set, so README's curl works as is.
DEMO_PHONE_SECRET = "demo-phone-secret"  # noqa: S105 - demo only, printed at start
WEB_READY_TIMEOUT_SECONDS = 60.0


class _Stop(Exception):
    """Raised by the signal handlers while the children are not running yet."""


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = field(default=None, repr=False)


class Output:
    """Interleaves the children's output line by line, each line prefixed with the child's name."""

    COLORS = ("36", "33", "35", "32", "34", "31")

    def __init__(self, names: list[str]) -> None:
        self.lock = threading.Lock()
        self.width = max(len(name) for name in names)
        self.use_color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        self.colors = {name: self.COLORS[index % len(self.COLORS)] for index, name in enumerate(names)}

    def prefix(self, name: str) -> bytes:
        label = f"{name:<{self.width}} | "
        if self.use_color and name in self.colors:
            label = f"\033[{self.colors[name]}m{label}\033[0m"
        return label.encode()

    def write(self, name: str, line: bytes) -> None:
        with self.lock:
            sys.stdout.buffer.write(self.prefix(name) + line.rstrip(b"\r\n") + b"\n")
            sys.stdout.buffer.flush()

    def say(self, message: str) -> None:
        for line in message.splitlines() or [""]:
            self.write("serve", line.encode())

    def stream(self, name: str) -> _LineStream:
        """A file-like object whose lines come out prefixed with `name` (for call_command)."""
        return _LineStream(self, name)

    def pump(self, child: Child) -> None:
        assert child.process is not None and child.process.stdout is not None
        for line in iter(child.process.stdout.readline, b""):
            self.write(child.name, line)


class _LineStream:
    def __init__(self, output: Output, name: str) -> None:
        self.output = output
        self.name = name
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.output.write(self.name, line.encode())
        return len(text)

    def flush(self) -> None:
        # migrate flushes after "Applying x..." and writes " OK" later: keep partial lines.
        pass

    def finish(self) -> None:
        if self.pending:
            self.output.write(self.name, self.pending.encode())
            self.pending = ""


def _static_fingerprint() -> str:
    """A digest of every static source file's path, size and mtime, and of where they go."""
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    static_root = Path(settings.STATIC_ROOT)
    digest.update(f"{static_root}\0{static_root.is_dir()}\0{settings.STORAGES['staticfiles']}\n".encode())
    for finder in get_finders():
        for path, storage in finder.list(["CVS", ".*", "*~"]):
            status = os.stat(storage.path(path))
            digest.update(f"{path}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _free_ports(count: int) -> list[int]:
    """Loopback ports nobody listens on now, for the servers behind the front door."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _answers(url: str) -> bool:
    """Whether the web server answers through the front door (which says 502 until it does)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http:// URL
            return response.status < 500
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


class Supervisor:
    """Runs the children, each in its own process group, and stops all of them together."""

    def __init__(self, children: list[Child], output: Output, grace_seconds: float) -> None:
        self.children = children
        self.output = output
        self.grace_seconds = grace_seconds
        self.stop_requested = threading.Event()
        self.kill_requested = threading.Event()

    def request_stop(self, signal_name: str) -> None:
        if self.stop_requested.is_set():
            self.output.say(f"{signal_name} again: killing the children.")
            self.kill_requested.set()
        else:
            self.output.say(f"{signal_name} received: stopping.")
        self.stop_requested.set()

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
            # The front door on loopback is the only proxy: it sets X-Forwarded-For to the client.
            "TRUSTED_PROXIES": os.environ.get("TRUSTED_PROXIES", "127.0.0.1"),
        }
        for child in self.children:
            child.process = subprocess.Popen(
                child.argv,
                cwd=settings.BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Own process group: the terminal's Ctrl-C reaches only us, and we stop each
                # child with all of its own children (uvicorn and celery workers) at once.
                start_new_session=True,
            )
            child.reader = threading.Thread(target=self.output.pump, args=(child,), daemon=True)
            child.reader.start()

    def wait_for_failure_or_stop(self, on_tick) -> Child | None:
        """Block until a stop is requested (None) or a child exits on its own (that child)."""
        while not self.stop_requested.is_set():
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    return child
            on_tick()
            self.stop_requested.wait(0.25)
        return None

    def _signal_groups(self, signum: int) -> None:
        for child in self.children:
            if child.process is None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.process.pid, signum)

    def stop_all(self) -> None:
        self._signal_groups(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline and not self.kill_requested.is_set():
            if all(child.process is None or child.process.poll() is not None for child in self.children):
                break
            time.sleep(0.1)
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                self.output.say(f"{child.name} did not stop within {self.grace_seconds:.0f} s: killing it.")
        # SIGKILL also reaches grandchildren left behind by a leader that already exited: a process
        # group id stays taken while any member lives, so it can only be ours.
        self._signal_groups(signal.SIGKILL)
        for child in self.children:
            if child.process is not None:
                child.process.wait()
            if child.reader is not None:
                child.reader.join(timeout=2)


class Command(BaseCommand):
    help = (
        "Run helpdesk locally: embedded PostgreSQL/Redis, migrations, demo data, web server, "
        "Celery worker and beat, SMTP intake. Ctrl-C stops everything."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--grace-seconds",
            type=float,
            default=float(os.environ.get("HELPDESK_SHUTDOWN_GRACE_SECONDS", "10")),
            help="how long children get to exit after SIGTERM before SIGKILL (default 10)",
        )
        parser.add_argument(
            "--no-demo-data",
            action="store_true",
            help="do not create the demo data (it is only ever created in the embedded database)",
        )

    def handle(self, *args, **options) -> None:
        host = os.environ.get("HELPDESK_HOST", "127.0.0.1")
        port = int(os.environ.get("HELPDESK_PORT", "8000"))
        if not _port_is_free(host, port):
            raise CommandError(
                f"Port {port} on {host} is already in use (another `make run`?). Stop that program "
                f"or choose another port with HELPDESK_PORT=<port>."
            )
        # Links in mails (notifications, survey ratings) point at the address this serves, unless
        # the site's public address is configured; the children read it from the environment.
        os.environ.setdefault("HELPDESK_SITE_URL", f"http://{host}:{port}")
        children = self._children(host, port)
        output = Output(["serve", *(child.name for child in children)])
        supervisor: Supervisor | None = None

        def on_signal(signum: int, _frame) -> None:
            if supervisor is None:
                raise _Stop(signal.Signals(signum).name)
            supervisor.request_stop(signal.Signals(signum).name)

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, on_signal)

        services = None
        exit_code = 0
        try:
            try:
                services = devservers.ensure_services(progress=output.say)
            except devservers.DevServerError as error:
                raise CommandError(str(error)) from error
            seed = not options["no_demo_data"] and services.postgres != devservers.EXTERNAL
            has_demo_data = self._prepare(output, seed=seed)
            demo_phone_secret = has_demo_data and not os.environ.get("HELPDESK_PHONE_WEBHOOK_SECRET")
            if demo_phone_secret:
                os.environ["HELPDESK_PHONE_WEBHOOK_SECRET"] = DEMO_PHONE_SECRET
            supervisor = Supervisor(children, output, grace_seconds=options["grace_seconds"])
            output.say("Starting " + ", ".join(child.name for child in children) + ".")
            supervisor.start()
            url = f"http://{host}:{port}/"
            banner_due = True
            started_at = time.monotonic()

            def on_tick() -> None:
                nonlocal banner_due
                if banner_due and _answers(f"{url}healthz"):
                    banner_due = False
                    output.say(f"helpdesk is running at {url}")
                    if has_demo_data:
                        output.say(f"Demo logins: {DEMO_LOGINS}")
                    if demo_phone_secret:
                        output.say(f"Demo phone webhook secret: {DEMO_PHONE_SECRET} (README → Phone)")
                    output.say("Press Ctrl-C to stop.")
                elif banner_due and time.monotonic() - started_at > WEB_READY_TIMEOUT_SECONDS:
                    banner_due = False
                    output.say(f"web does not answer on {url} after {WEB_READY_TIMEOUT_SECONDS:.0f} s.")

            failed = supervisor.wait_for_failure_or_stop(on_tick)
            if failed is not None:
                assert failed.process is not None
                output.say(
                    f"{failed.name} exited unexpectedly with code {failed.process.returncode}; "
                    "stopping everything."
                )
                exit_code = 1
        except (_Stop, KeyboardInterrupt):
            output.say("Interrupted.")
        finally:
            # Also after an error while starting the children: none may outlive us.
            if supervisor is not None:
                supervisor.stop_all()
            if services is not None:
                stopped = services.stop()
                if stopped:
                    output.say("Stopped embedded " + " and ".join(stopped) + ".")
        if exit_code:
            raise SystemExit(exit_code)

    def _prepare(self, output: Output, *, seed: bool) -> bool:
        """Migrate, collect static files, seed demo data once; returns whether demo data exists."""
        stream = output.stream("serve")
        output.say("Applying migrations.")
        call_command("migrate", interactive=False, verbosity=1, stdout=stream)
        self._collect_static(output, stream)
        has_demo_data = self._ensure_demo_data(output, stream, seed=seed)
        stream.finish()
        # The children open their own connections; ours would only sit idle.
        connections.close_all()
        return has_demo_data

    def _ensure_demo_data(self, output: Output, stream: _LineStream, *, seed: bool) -> bool:
        if not seed:
            return False
        if get_user_model().objects.filter(username=DEMO_USERNAME).exists():
            self._ensure_metrics_history(output, stream)
            return True
        if "seed_demo" not in get_commands():
            output.say("Warning: the seed_demo command does not exist yet; no demo data.")
            return False
        output.say("Creating demo data (first run).")
        call_command("seed_demo", stdout=stream)
        return True

    def _ensure_metrics_history(self, output: Output, stream: _LineStream) -> None:
        # Demo data made before the dashboards existed lacks their 90 days of history; seed_demo
        # adds only that (it skips what is present).
        from tickets.demo.history import history_present

        if not history_present():
            output.say("Adding the demo metrics history.")
            call_command("seed_demo", stdout=stream)
        # Likewise the routing and automation demo (teams' strategies, rules, macros).
        from tickets.demo.automation import seed_automation
        from tickets.models import Rule

        if not Rule.objects.exists():
            output.say("Adding the demo routing, rules and macros.")
            seed_automation(progress=lambda message: stream.write(message + "\n"))

    def _collect_static(self, output: Output, stream: _LineStream) -> None:
        if getattr(settings, "WHITENOISE_USE_FINDERS", False):
            output.say("Static files are served from their sources (WHITENOISE_USE_FINDERS).")
            return
        # collectstatic post-processes every file on each run (compression): tens of seconds with
        # node_modules, so it runs only when a source file or the storage changed.
        fingerprint_path = devservers.data_dir() / "collectstatic.fingerprint"
        fingerprint = _static_fingerprint()
        if fingerprint_path.exists() and fingerprint_path.read_text() == fingerprint:
            output.say("Static files unchanged since the last collectstatic.")
            return
        output.say("Collecting static files.")
        call_command("collectstatic", interactive=False, verbosity=0, stdout=stream)
        fingerprint_path.write_text(fingerprint)

    def _children(self, host: str, port: int) -> list[Child]:
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        devservers.data_dir().mkdir(parents=True, exist_ok=True)
        schedule = devservers.data_dir() / "celerybeat-schedule"
        # Plain HTTP under gunicorn's sync workers, websockets under uvicorn, one public address
        # through the front door (helpdesk/frontdoor.py explains why; bench/RESULTS.md measures it).
        http_port, websocket_port = _free_ports(2)
        web = [python, "-m", "gunicorn", "helpdesk.wsgi:application", "--bind", f"127.0.0.1:{http_port}"]
        web += ["--workers", os.environ.get("WEB_CONCURRENCY", "2"), "--worker-class", "sync"]
        web += ["--backlog", "2048", "--timeout", "120", "--access-logfile", "-", "--no-control-socket"]
        websocket = [python, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1"]
        websocket += ["--port", str(websocket_port), "--workers", "1", "--no-access-log"]
        websocket += ["--lifespan", "off"]  # Channels' ProtocolTypeRouter has no lifespan handler.
        front = [python, "-m", "helpdesk.frontdoor", "--listen", f"{host}:{port}"]
        front += ["--http", f"127.0.0.1:{http_port}", "--websocket", f"127.0.0.1:{websocket_port}"]
        celery = [python, "-m", "celery", "-A", "helpdesk"]
        worker = [*celery, "worker", "-Q", CELERY_QUEUES, "--concurrency", "2", "-l", "INFO"]
        beat = [*celery, "beat", "-l", "INFO", "-s", str(schedule)]
        children = [Child("front", front), Child("web", web), Child("ws", websocket), Child("worker", worker), Child("beat", beat)]
        if "run_smtp_intake" in get_commands():
            children.append(Child("smtp", [python, manage, "run_smtp_intake"]))
        if getattr(settings, "HELPDESK_SMTP_SINK", False) and "run_smtp_sink" in get_commands():
            # No EMAIL_HOST: outbound mail goes to the local sink (admin: "Sent mail (local sink)").
            # Another port when the usual one is taken; the children read it from the environment.
            sink_port = settings.HELPDESK_SMTP_SINK_PORT
            if not _port_is_free(settings.HELPDESK_SMTP_SINK_HOST, sink_port):
                sink_port = _free_ports(1)[0]
            os.environ["HELPDESK_SMTP_SINK_PORT"] = str(sink_port)
            children.append(Child("sink", [python, manage, "run_smtp_sink", "--port", str(sink_port)]))
        return children
