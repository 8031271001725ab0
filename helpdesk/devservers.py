"""Embedded PostgreSQL and Redis, started from wheels, for `make run` and `make test`.

The URL functions are pure (settings import them); starting and stopping happens only when a
command or the test session asks for it.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PG_PORT = 55432
DEFAULT_REDIS_PORT = 56379


def data_dir() -> Path:
    return Path(os.environ.get("HELPDESK_DATA_DIR", BASE_DIR / ".data")).resolve()


def pg_port() -> int:
    return int(os.environ.get("HELPDESK_PG_PORT", DEFAULT_PG_PORT))


def redis_port() -> int:
    return int(os.environ.get("HELPDESK_REDIS_PORT", DEFAULT_REDIS_PORT))


def embedded_database_url() -> str:
    return f"postgres://postgres@127.0.0.1:{pg_port()}/helpdesk"


def embedded_redis_url() -> str:
    return f"redis://127.0.0.1:{redis_port()}/0"
