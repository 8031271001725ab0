"""The browser-test harness itself: the ASGI server answers, static files load, the login form works."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_team

pytestmark = pytest.mark.browser


def test_server_answers_healthz(live):
    with urllib.request.urlopen(live.url("/healthz"), timeout=5) as response:
        assert response.status == 200
        assert json.load(response) == {"status": "ok"}


def test_login_page_renders_with_its_stylesheet_and_no_errors(new_page):
    page = new_page()
    page.goto("/login/")

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email or username")).to_be_editable()
    expect(page.get_by_label("Password", exact=True)).to_be_editable()
    stylesheet = page.evaluate("() => document.styleSheets.length && document.styleSheets[0].cssRules.length")
    assert stylesheet > 0
    assert page.problems == []


def test_agent_signs_in_through_the_form_and_lands_in_the_workspace(new_page):
    agent = in_db_thread(lambda: make_agent(make_team("Support"), username="alice", first_name="Alice"))
    page = new_page()

    login(page, agent.username)

    expect(page).to_have_url(re.compile(r"/agent/(tickets/)?(\?.*)?$"))
    assert page.problems == []
