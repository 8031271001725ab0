"""Sign-in for agents and customers: redirects, throttling with an atomic counter, no account enumeration."""

from __future__ import annotations

import itertools
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from tests.factories import PASSWORD, make_agent, make_customer, make_team
from tickets.services import accounts

pytestmark = pytest.mark.django_db

_addresses = itertools.count(1)


def fresh_ip() -> str:
    """A client address no other test used, so address counters never mix."""
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def post_login(client: Client, username: str, password: str, ip: str, **extra):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def normalised(html: str) -> str:
    """The page without the values that differ on every response (CSRF token, CSP nonce)."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value=""', html)
    html = re.sub(r'nonce="[^"]+"', 'nonce=""', html)
    return re.sub(r'"X-CSRFToken": "[^"]+"', '"X-CSRFToken": ""', html)


@pytest.fixture
def limits(settings):
    settings.HELPDESK_LOGIN_MAX_FAILURES = 3
    settings.HELPDESK_LOGIN_LOCKOUT_SECONDS = 600
    return settings


def test_customer_signs_in_with_email_and_lands_in_portal(client):
    customer = make_customer(email="carol@example.com")

    response = post_login(client, "Carol@Example.com", PASSWORD, fresh_ip())

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").url == "/portal/"
    assert int(client.session["_auth_user_id"]) == customer.user.pk


def test_agent_signs_in_with_username_and_lands_in_workspace(client):
    make_agent(make_team(), username="ada")

    response = post_login(client, "ada", PASSWORD, fresh_ip())

    assert response.status_code == 302
    assert client.get("/").url == "/agent/tickets/"


def test_safe_next_is_followed(client):
    make_customer(email="carol@example.com")

    response = client.post("/login/?next=/portal/new/", {"username": "carol@example.com", "password": PASSWORD},
                           REMOTE_ADDR=fresh_ip())

    assert response["Location"] == "/portal/new/"


@pytest.mark.parametrize("next_url", [
    "https://evil.example/", "//evil.example/x", "http://testserver.evil.example/", "javascript:alert(1)",
    "\\\\evil.example", "https:///evil.example",
])
def test_next_pointing_elsewhere_is_ignored(client, next_url):
    make_customer(email="carol@example.com")

    response = client.post("/login/", {"username": "carol@example.com", "password": PASSWORD, "next": next_url},
                           REMOTE_ADDR=fresh_ip())

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_page_keeps_only_a_safe_next(client):
    page = client.get("/login/?next=/portal/requests/5/").content.decode()
    evil = client.get("/login/?next=https://evil.example/").content.decode()

    assert '<input type="hidden" name="next" value="/portal/requests/5/">' in page
    assert '<input type="hidden" name="next" value="https://evil.example/">' not in evil
    assert 'name="next" value="/login/?next=https://evil.example/"' in evil  # only the language switcher's


def test_signed_in_user_visiting_login_goes_home_not_to_next(client):
    customer = make_customer()
    client.force_login(customer.user)

    response = client.get("/login/?next=/agent/tickets/")

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_unknown_account_wrong_password_inactive_and_locked_look_identical(client, limits):
    make_customer(email="carol@example.com")
    inactive = make_customer(email="gone@example.com")
    inactive.user.is_active = False
    inactive.user.save()
    ip = fresh_ip()
    locked_user = make_customer(email="locked@example.com")
    for _ in range(3):
        post_login(client, "locked@example.com", "wrong", fresh_ip())

    responses = {
        "unknown": post_login(client, "nobody@example.com", "whatever-123", ip),
        "wrong password": post_login(client, "carol@example.com", "whatever-123", fresh_ip()),
        "inactive": post_login(client, "gone@example.com", PASSWORD, fresh_ip()),
        "locked (right password)": post_login(client, "locked@example.com", PASSWORD, fresh_ip()),
    }

    bodies = {}
    for case, response in responses.items():
        assert response.status_code == 200, case
        assert "_auth_user_id" not in client.session, case
        body = response.content.decode()
        assert "We could not sign you in with these details." in body, case
        # The typed name is echoed back; take it out to compare the rest of the page byte for byte.
        bodies[case] = normalised(body).replace(re.search(r'name="username" value="([^"]*)"', body).group(1), "")
    assert len(set(bodies.values())) == 1
    assert locked_user.user.last_login is None


def test_lockout_after_max_failures_refuses_even_the_right_password(client, limits):
    make_customer(email="carol@example.com")

    for _ in range(3):
        assert post_login(client, "carol@example.com", "wrong", fresh_ip()).status_code == 200
    refused = post_login(client, "carol@example.com", PASSWORD, fresh_ip())

    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    assert accounts.login_failures(username="carol@example.com")["username"] == 4


def test_username_variants_count_as_one(client, limits):
    make_customer(email="carol@example.com")

    for variant in ("carol@example.com", " CAROL@example.com", "Carol@Example.COM "):
        post_login(client, variant, "wrong", fresh_ip())

    assert post_login(client, "carol@example.com", PASSWORD, fresh_ip()).status_code == 200
    assert "_auth_user_id" not in client.session


def test_one_address_guessing_many_accounts_is_locked_out(client, limits):
    make_customer(email="carol@example.com")
    ip = fresh_ip()

    for n in range(3):
        post_login(client, f"someone{n}@example.com", "guess", ip)
    refused = post_login(client, "carol@example.com", PASSWORD, ip)

    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    # Carol herself, from her own network, is not affected.
    assert post_login(client, "carol@example.com", PASSWORD, fresh_ip()).status_code == 302


def test_spoofed_forwarded_for_from_untrusted_peer_does_not_reset_address_lockout(client, limits):
    limits.TRUSTED_PROXIES = []
    make_customer(email="carol@example.com")
    ip = fresh_ip()

    for n in range(3):
        post_login(client, f"someone{n}@example.com", "guess", ip, HTTP_X_FORWARDED_FOR=f"203.0.113.{n + 1}")
    refused = post_login(client, "carol@example.com", PASSWORD, ip, HTTP_X_FORWARDED_FOR="203.0.113.99")

    assert "_auth_user_id" not in client.session
    assert refused.status_code == 200
    assert accounts.login_failures(ip=ip)["address"] == 4


def test_forwarded_for_is_believed_from_a_trusted_proxy(client, limits):
    limits.TRUSTED_PROXIES = ["10.0.0.0/8"]
    make_customer(email="carol@example.com")

    for n in range(3):
        post_login(client, f"someone{n}@example.com", "guess", "10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert accounts.login_failures(ip="203.0.113.7")["address"] == 3
    assert accounts.login_failures(ip="10.0.0.5")["address"] == 0
    # A different client behind the same proxy is not locked out by the first one's failures.
    assert post_login(client, "carol@example.com", PASSWORD, "10.0.0.5",
                      HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302


def test_signing_in_to_own_account_does_not_reset_the_address_count(client, limits):
    attacker = make_customer(email="mallory@example.com")
    ip = fresh_ip()

    post_login(client, "victim1@example.com", "guess", ip)
    post_login(client, "victim2@example.com", "guess", ip)
    assert post_login(client, "mallory@example.com", PASSWORD, ip).status_code == 302
    client.logout()
    post_login(client, "victim3@example.com", "guess", ip)

    assert accounts.login_failures(ip=ip)["address"] == 3
    assert post_login(client, attacker.email, PASSWORD, ip).status_code == 200  # now locked


def test_success_clears_the_username_count(client, limits):
    make_customer(email="carol@example.com")

    post_login(client, "carol@example.com", "wrong", fresh_ip())
    post_login(client, "carol@example.com", "wrong", fresh_ip())
    assert post_login(client, "carol@example.com", PASSWORD, fresh_ip()).status_code == 302

    assert accounts.login_failures(username="carol@example.com")["username"] == 0


def test_lockout_ends_after_the_window(client, settings):
    settings.HELPDESK_LOGIN_MAX_FAILURES = 1
    settings.HELPDESK_LOGIN_LOCKOUT_SECONDS = 1
    make_customer(email="carol@example.com")
    ip = fresh_ip()

    post_login(client, "carol@example.com", "wrong", ip)
    assert post_login(client, "carol@example.com", PASSWORD, ip).status_code == 200
    time.sleep(1.2)

    assert post_login(client, "carol@example.com", PASSWORD, ip).status_code == 302


def test_counter_is_atomic_under_concurrent_attempts(settings):
    settings.HELPDESK_LOGIN_MAX_FAILURES = 5
    settings.HELPDESK_LOGIN_LOCKOUT_SECONDS = 600
    start = threading.Barrier(24)

    def attempt(n: int) -> bool:
        start.wait()
        return accounts.login_attempt_begin(username="Carol@example.com", ip=f"192.0.2.{n}").allowed

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(attempt, range(24)))

    assert results.count(True) == 5
    assert accounts.login_failures(username="carol@example.com")["username"] == 24


def test_counter_window_is_always_set(settings):
    settings.HELPDESK_LOGIN_LOCKOUT_SECONDS = 600
    attempt = accounts.login_attempt_begin(username="carol", ip="192.0.2.1")
    client = accounts._redis()

    assert 0 < client.ttl(attempt.username_key) <= 600
    assert 0 < client.ttl(attempt.address_key) <= 600


def test_ipv6_clients_are_counted_per_64(limits):
    for n in range(3):
        accounts.login_attempt_begin(username=f"u{n}", ip=f"2001:db8:1:2::{n + 1}")

    assert accounts.login_attempt_begin(username="other", ip="2001:db8:1:2:ffff::1").allowed is False
    assert accounts.login_attempt_begin(username="other2", ip="2001:db8:1:3::1").allowed is True


def test_login_needs_the_csrf_token():
    make_customer(email="carol@example.com")
    client = Client(enforce_csrf_checks=True)

    response = post_login(client, "carol@example.com", PASSWORD, fresh_ip())

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_login_with_the_csrf_token_works():
    make_customer(email="carol@example.com")
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    token = client.cookies["csrftoken"].value

    response = client.post("/login/", {"username": "carol@example.com", "password": PASSWORD,
                                       "csrfmiddlewaretoken": token}, REMOTE_ADDR=fresh_ip())

    assert response.status_code == 302


def test_sign_out_is_post_only(client):
    customer = make_customer()
    client.force_login(customer.user)

    assert client.get("/accounts/logout/").status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_login_page_renders_with_links(client):
    response = client.get("/login/")

    body = response.content.decode()
    assert response.status_code == 200
    assert 'action="/login/"' in body
    assert 'href="/accounts/password/reset/"' in body
    assert 'href="/accounts/signup/"' in body
    assert response["Cache-Control"].startswith("max-age=0")
