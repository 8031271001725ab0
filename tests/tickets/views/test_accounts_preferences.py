"""Per-user language and time zone."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from tests.factories import make_agent, make_customer, make_team

pytestmark = pytest.mark.django_db


def test_customer_saves_language_and_time_zone(client):
    customer = make_customer()
    client.force_login(customer.user)

    response = client.post("/accounts/preferences/", {
        "display_name": "  Carol   Chen ", "language": "zh-hant", "timezone": "Asia/Taipei"})

    assert response.status_code == 302
    customer.user.refresh_from_db()
    customer.refresh_from_db()
    assert (customer.user.display_name, customer.user.language, customer.user.timezone) == (
        "Carol Chen", "zh-hant", "Asia/Taipei")
    assert (customer.language, customer.timezone) == ("zh-hant", "Asia/Taipei")
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "zh-hant"


def test_pages_follow_the_saved_language(client):
    agent = make_agent(make_team())
    client.force_login(agent)
    client.post("/accounts/preferences/", {"display_name": "", "language": "zh-hans", "timezone": ""})

    page = client.get("/accounts/preferences/")

    assert page.status_code == 200
    assert '<html lang="zh-hans">' in page.content.decode()


def test_unknown_language_or_time_zone_is_refused(client):
    customer = make_customer()
    client.force_login(customer.user)

    response = client.post("/accounts/preferences/", {"display_name": "", "language": "xx", "timezone": "Mars/Olympus"})

    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("Select a valid choice.") == 2
    customer.user.refresh_from_db()
    assert (customer.user.language, customer.user.timezone) == ("", "")


def test_time_zone_choices_cover_zoneinfo(client):
    client.force_login(make_customer().user)

    body = client.get("/accounts/preferences/").content.decode()

    assert '<option value="America/Argentina/Buenos_Aires">' in body
    assert '<option value="zh-hant">' in body


def test_preferences_need_sign_in(client):
    response = client.get("/accounts/preferences/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/accounts/preferences/"
