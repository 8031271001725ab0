"""Probes for load balancers and orchestrators: /healthz (process alive), /readyz (can serve)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from helpdesk.heartbeat import redis_client, worker_heartbeat_last

logger = logging.getLogger(__name__)

# Beat asks for a heartbeat every 15 s; several missed beats mean no worker is consuming.
HEARTBEAT_MAX_AGE_SECONDS = 90


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def _check_redis() -> dict:
    redis_client().ping()
    return {"ok": True}


def _check_worker() -> dict:
    last = worker_heartbeat_last()
    if last is None:
        return {"ok": False, "error": "no worker heartbeat"}
    age = (datetime.now(tz=UTC) - last).total_seconds()
    check = {
        "ok": age <= HEARTBEAT_MAX_AGE_SECONDS,
        "last_heartbeat": last.isoformat(),
        "age_seconds": round(age, 1),
    }
    if not check["ok"]:
        check["error"] = f"last worker heartbeat {age:.0f} s ago"
    return check


CHECKS = {"database": _check_database, "redis": _check_redis, "worker": _check_worker}


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database, Redis and a worker all answer; 503 naming the failing checks."""
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as error:
            # Only the error class goes out: messages can name hosts and users.
            logger.warning("readiness check %s failed", name, exc_info=True)
            results[name] = {"ok": False, "error": type(error).__name__}
    failing = [name for name, result in results.items() if not result["ok"]]
    return JsonResponse(
        {"status": "unavailable" if failing else "ok", "failing": failing, "checks": results},
        status=503 if failing else 200,
    )
