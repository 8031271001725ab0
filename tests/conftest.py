"""Root test configuration: embedded PostgreSQL and Redis for the session, a clean Redis per test.

App fixtures live in tests/<app>/conftest.py. Under pytest the embedded Redis URL uses database
1 + the xdist worker number (see helpdesk.devservers.redis_db), never the db 0 of `make run`.
"""

from __future__ import annotations

import functools
import os

import pytest

# Tests trade durability for speed; set before the servers start (a running server is reused as is).
os.environ.setdefault("HELPDESK_PG_FAST", "1")

from helpdesk import devservers  # noqa: E402

_services_key = pytest.StashKey[devservers.EmbeddedServices]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start (or reuse) the embedded servers before any test or database fixture runs.

    With pytest-xdist the controller runs this before it spawns the workers, and the workers reuse
    its servers; a file lock makes concurrent sessions safe.
    """
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def progress(message: str) -> None:
        if reporter is not None:
            reporter.write_line(message)

    try:
        config.stash[_services_key] = devservers.ensure_services(progress=progress)
    except devservers.DevServerError as error:
        pytest.exit(f"embedded servers: {error}", returncode=3)


def pytest_unconfigure(config: pytest.Config) -> None:
    # After sessionfinish, so the xdist controller lets go only once its workers are gone.
    services = config.stash.get(_services_key, None)
    if services is not None:
        services.stop()


@functools.cache
def _redis_client(url: str):
    # One connection for the session: a new one per test would leave thousands of sockets in
    # TIME_WAIT, and those can hold the embedded servers' ports when they restart.
    import redis

    return redis.Redis.from_url(url, socket_timeout=5)


@pytest.fixture(autouse=True)
def redis_flush():
    """Empty the test Redis database after each test, so counters and caches never leak."""
    from django.conf import settings

    # Read before the test: one that points REDIS_URL at a dead server must not break teardown.
    url = settings.REDIS_URL
    yield
    _redis_client(url).flushdb()


@pytest.fixture(autouse=True)
def chat_line_writer_disconnect():
    """Live chat stores visitors' lines from a thread of its own that keeps its database connection
    (channels_intake.chat.lines); close it after each test, or dropping the test database at the
    end would wait for it."""
    yield
    from channels_intake.chat import lines

    lines.close_connections()


@pytest.fixture
def celery_eager():
    """Run Celery tasks where they are queued (e.g. in the on-commit callback that queues them)."""
    from helpdesk.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous
