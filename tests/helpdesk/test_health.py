"""/healthz, /readyz and the worker heartbeat behind them, against the test database and Redis."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest

from helpdesk.heartbeat import HEARTBEAT_KEY, redis_client
from helpdesk.tasks import worker_heartbeat


def test_healthz_answers_without_the_database(client):
    # No django_db mark: any query would fail the test.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_worker_heartbeat_task_stamps_redis_with_a_ttl():
    worker_heartbeat.apply()

    stamped = datetime.fromisoformat(redis_client().get(HEARTBEAT_KEY).decode())
    assert abs((datetime.now(tz=UTC) - stamped).total_seconds()) < 5
    assert 0 < redis_client().ttl(HEARTBEAT_KEY) <= 300


@pytest.mark.django_db
def test_readyz_is_ready_with_database_redis_and_a_recent_heartbeat(client):
    worker_heartbeat.apply()

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"] == {"ok": True}
    assert body["checks"]["worker"]["ok"] is True


@pytest.mark.django_db
def test_readyz_fails_without_any_heartbeat(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert response.json()["checks"]["worker"] == {"ok": False, "error": "no worker heartbeat"}


@pytest.mark.django_db
def test_readyz_fails_when_the_last_heartbeat_is_too_old(client):
    two_minutes_ago = datetime.now(tz=UTC) - timedelta(minutes=2)
    redis_client().set(HEARTBEAT_KEY, two_minutes_ago.isoformat(), ex=300)

    response = client.get("/readyz")

    assert response.status_code == 503
    worker = response.json()["checks"]["worker"]
    assert worker["ok"] is False
    assert worker["error"].startswith("last worker heartbeat 1")


@pytest.mark.django_db
def test_readyz_names_redis_when_redis_is_down(client, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis", "worker"]
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["database"] == {"ok": True}
