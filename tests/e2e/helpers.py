"""Helpers for the browser tests (fixtures are in conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Page

from tests.factories import PASSWORD

VIEWPORT = {"width": 1440, "height": 900}
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Generous for a 2-core machine running Postgres, Redis, uvicorn and Chromium at once.
EXPECT_TIMEOUT_MS = 10_000

T = TypeVar("T")


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real login form and wait until the browser has left it."""
    page.goto("/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if "/login/" in page.url:
        alerts = page.get_by_role("alert").all_inner_texts()
        pytest.fail(f"signing in as {username!r} was refused: {alerts}", pytrace=False)


def in_db_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `function` in a fresh thread (no event loop, its own DB connection, closed after).

    Writes commit as they would in another process, and realtime broadcasts leave on commit.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        from django.db import connections

        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name="e2e-db")
    thread.start()
    thread.join(timeout=60)
    if thread.is_alive():
        pytest.fail("a database helper thread did not finish within 60 s", pytrace=False)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


