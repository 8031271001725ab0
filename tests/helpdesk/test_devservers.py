"""The embedded PostgreSQL and Redis lifecycle, against real servers in a private data dir."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpdesk import devservers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpdesk.devservers", *args],
        cwd=devservers.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _psql(database: str, statement: str) -> str:
    result = subprocess.run(
        [str(devservers.pg_bin("psql")), "-X", "-tA", "-h", "127.0.0.1", "-p", str(devservers.pg_port())]
        + ["-U", "postgres", "-d", database, "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture(scope="module")
def private_data_dir():
    # Not pytest's tmp_path: as root, PostgreSQL runs as helpdesk-pg, which cannot enter the
    # 0700 /tmp/pytest-of-root; this directory is made enterable on purpose.
    path = Path(tempfile.mkdtemp(prefix="helpdesk-devservers-"))
    path.chmod(0o755)
    ports = {"pg": _free_port(), "redis": _free_port()}
    yield path, ports
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def private_servers(private_data_dir, monkeypatch):
    """Environment pointing devservers at a private data dir and free ports; stops all at the end."""
    path, ports = private_data_dir
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("HELPDESK_REDIS_DB", raising=False)
    monkeypatch.setenv("HELPDESK_DATA_DIR", str(path))
    monkeypatch.setenv("HELPDESK_PG_PORT", str(ports["pg"]))
    monkeypatch.setenv("HELPDESK_REDIS_PORT", str(ports["redis"]))
    monkeypatch.setenv("HELPDESK_PG_FAST", "1")
    yield ports
    devservers.stop_services()


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_ensure_services_starts_both_with_database_and_extensions(private_servers):
    services = devservers.ensure_services()

    assert (services.postgres, services.redis) == (devservers.STARTED, devservers.STARTED)
    assert services.database_url == f"postgres://postgres@127.0.0.1:{private_servers['pg']}/helpdesk"
    assert services.redis_url.startswith(f"redis://127.0.0.1:{private_servers['redis']}/")
    extensions = {"pg_trgm", "btree_gin"}
    assert extensions <= set(_psql("helpdesk", "SELECT extname FROM pg_extension").split())
    assert extensions <= set(_psql("template1", "SELECT extname FROM pg_extension").split())
    assert devservers.redis_command(private_servers["redis"], "PING") == "PONG"

    assert services.stop() == ["postgres", "redis"]
    assert not _answers(private_servers["pg"])
    assert not _answers(private_servers["redis"])
    assert services.stop() == []


def test_another_process_reuses_running_servers_and_leaves_them_running(private_servers):
    services = devservers.ensure_services()
    script = (
        "from helpdesk import devservers\n"
        "other = devservers.ensure_services()\n"
        "print(other.postgres, other.redis, other.stop())\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=devservers.BASE_DIR, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "reused reused []"
    assert _answers(private_servers["pg"])
    assert devservers.redis_command(private_servers["redis"], "PING") == "PONG"
    assert services.stop() == ["postgres", "redis"]


def test_servers_started_on_demand_stop_when_their_last_user_lets_go(private_servers):
    starter = devservers.ensure_services()
    later_user = devservers.ensure_services()
    assert (later_user.postgres, later_user.redis) == (devservers.REUSED, devservers.REUSED)

    assert starter.stop() == []
    assert _answers(private_servers["pg"])
    assert later_user.stop() == ["postgres", "redis"]
    assert not _answers(private_servers["pg"])


def test_pinned_servers_keep_running_until_stopped_explicitly(private_servers):
    pinning = devservers.ensure_services(stop_when_unused=False)
    user = devservers.ensure_services()

    assert user.stop() == []
    assert pinning.stop() == []
    assert _answers(private_servers["pg"])
    assert _answers(private_servers["redis"])
    assert devservers.stop_services() == ["postgres", "redis"]
    assert not _answers(private_servers["redis"])


def test_data_survives_a_restart(private_servers):
    first = devservers.ensure_services()
    _psql("helpdesk", "CREATE TABLE kept (value text); INSERT INTO kept VALUES ('still here')")
    devservers.redis_command(private_servers["redis"], "SET", "kept", "still here")
    first.stop()

    second = devservers.ensure_services()

    assert second.postgres == devservers.STARTED
    assert _psql("helpdesk", "SELECT value FROM kept") == "still here"
    assert devservers.redis_command(private_servers["redis"], "GET", "kept") == "still here"
    _psql("helpdesk", "DROP TABLE kept")
    second.stop()


def test_port_taken_by_another_program_is_a_clear_error(private_servers):
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may be in TIME_WAIT
        squatter.bind(("127.0.0.1", private_servers["pg"]))
        squatter.listen()

        with pytest.raises(devservers.DevServerError) as raised:
            devservers.ensure_services()

    message = str(raised.value)
    assert f"127.0.0.1:{private_servers['pg']}" in message
    assert "HELPDESK_PG_PORT" in message
    assert "DATABASE_URL" in message
    assert devservers.running_redis() is None


def test_redis_port_taken_leaves_nothing_running(private_servers):
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may be in TIME_WAIT
        squatter.bind(("127.0.0.1", private_servers["redis"]))
        squatter.listen()

        with pytest.raises(devservers.DevServerError, match="HELPDESK_REDIS_PORT"):
            devservers.ensure_services()

    assert devservers.running_postgres() is None
    assert not _answers(private_servers["pg"])


def test_external_urls_are_left_alone(private_servers, monkeypatch, private_data_dir):
    monkeypatch.setenv("DATABASE_URL", "postgres://db.example:5432/helpdesk")
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/0")

    services = devservers.ensure_services()

    assert (services.postgres, services.redis) == (devservers.EXTERNAL, devservers.EXTERNAL)
    assert services.database_url == "postgres://db.example:5432/helpdesk"
    assert not _answers(private_servers["pg"])
    assert services.stop() == []


def test_cli_start_status_stop_twice(private_servers):
    for _round in range(2):
        started = _run_cli("start")
        assert started.returncode == 0, started.stderr
        assert f"127.0.0.1:{private_servers['pg']}/helpdesk" in started.stdout

        status = _run_cli("status")
        assert status.returncode == 0
        assert status.stdout.count("running") == 2

        stopped = _run_cli("stop")
        assert stopped.stdout.strip() == "stopped: postgres, redis"
        assert _run_cli("status").returncode == 3


def test_embedded_redis_url_database_number(monkeypatch):
    monkeypatch.setenv("HELPDESK_REDIS_PORT", "6390")
    monkeypatch.setenv("HELPDESK_REDIS_DB", "7")
    assert devservers.embedded_redis_url() == "redis://127.0.0.1:6390/7"

    monkeypatch.delenv("HELPDESK_REDIS_DB")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    assert devservers.embedded_redis_url() == "redis://127.0.0.1:6390/3"

    monkeypatch.delenv("PYTEST_VERSION")
    assert devservers.embedded_redis_url() == "redis://127.0.0.1:6390/0"
