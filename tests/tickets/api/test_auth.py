"""Token and session auth, login throttling without account enumeration, per-token rate limits."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import PASSWORD, make_agent, make_ticket, make_user
from tests.tickets.api.conftest import token_client
from tickets.models import Role

pytestmark = pytest.mark.django_db
TOKEN_URL = "/api/v1/auth/token/"


def test_staff_get_a_token_with_username_and_use_it(agent, support):
    ticket = make_ticket(team=support)
    client = APIClient()

    response = client.post(TOKEN_URL, {"username": "ada", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=agent).key
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert [r["number"] for r in client.get("/api/v1/tickets/").json()["results"]] == [ticket.number]


def test_customer_gets_a_token_with_email(alice):
    response = APIClient().post(TOKEN_URL, {"username": "ALICE@example.com", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=alice.user).key}


def test_the_same_token_is_returned_again(agent):
    first = APIClient().post(TOKEN_URL, {"username": "ada", "password": PASSWORD}, format="json").json()
    second = APIClient().post(TOKEN_URL, {"username": "ada", "password": PASSWORD}, format="json").json()

    assert first == second


def test_unknown_user_and_wrong_password_get_the_same_answer(agent):
    wrong_password = APIClient().post(TOKEN_URL, {"username": "ada", "password": "nope"}, format="json")
    unknown_user = APIClient().post(TOKEN_URL, {"username": "nobody", "password": "nope"}, format="json")
    agent.is_active = False
    agent.save()
    disabled = APIClient().post(TOKEN_URL, {"username": "ada", "password": PASSWORD}, format="json")

    assert wrong_password.status_code == unknown_user.status_code == disabled.status_code == 400
    assert wrong_password.json() == unknown_user.json() == disabled.json() == {
        "error": {"code": "invalid_credentials", "message": "Unable to sign in with these credentials."}
    }
    assert not Token.objects.exists()


def test_missing_fields_are_reported(db):
    response = APIClient().post(TOKEN_URL, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"username", "password"}


def test_token_endpoint_is_throttled_per_address(agent, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "3/min"},
    }
    client = APIClient()
    for _ in range(3):
        assert client.post(TOKEN_URL, {"username": "ada", "password": "guess"}, format="json").status_code == 400

    blocked = client.post(TOKEN_URL, {"username": "ada", "password": PASSWORD}, format="json")

    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert blocked.json()["error"]["code"] == "throttled"
    # Another address is not affected.
    other = APIClient(REMOTE_ADDR="203.0.113.9").post(TOKEN_URL, {"username": "ada", "password": PASSWORD},
                                                      format="json")
    assert other.status_code == 200


def test_api_rate_limit_per_token_answers_429_with_retry_after(agent, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "2/min"},
    }
    client = token_client(agent)
    other_agent = token_client(make_agent())

    assert client.get("/api/v1/tickets/").status_code == 200
    assert client.get("/api/v1/tickets/").status_code == 200
    response = client.get("/api/v1/tickets/")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "throttled"
    assert other_agent.get("/api/v1/tickets/").status_code == 200


def test_bad_token_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get("/api/v1/tickets/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_token_of_a_deactivated_user_stops_working(agent):
    client = token_client(agent)
    agent.is_active = False
    agent.save()

    assert client.get("/api/v1/tickets/").status_code == 401


def test_session_auth_works_and_needs_csrf_for_writes(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice.user)
    ticket = make_ticket(requester=alice)

    assert client.get(f"/api/v1/tickets/{ticket.number}/").status_code == 200
    response = client.post("/api/v1/tickets/", {"subject": "x", "description": "y"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_customer_without_customer_profile_cannot_create(db):
    orphan = make_user(role=Role.CUSTOMER)

    response = token_client(orphan).post("/api/v1/tickets/", {"subject": "x", "description": "y"}, format="json")

    assert response.status_code == 403


def test_repeated_failures_lock_the_username_out_with_the_same_answer(agent, settings):
    settings.HELPDESK_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        APIClient(REMOTE_ADDR="198.51.100.1").post(TOKEN_URL, {"username": "ada", "password": "guess"}, format="json")

    # Even the right password, from another address, is refused while the username is locked.
    locked = APIClient(REMOTE_ADDR="198.51.100.2").post(TOKEN_URL, {"username": "ADA", "password": PASSWORD},
                                                        format="json")
    for _ in range(4):
        unknown = APIClient(REMOTE_ADDR="198.51.100.3").post(TOKEN_URL, {"username": "ghost", "password": "x"},
                                                             format="json")

    assert locked.status_code == unknown.status_code == 400
    assert locked.json() == unknown.json() == {
        "error": {"code": "invalid_credentials", "message": "Unable to sign in with these credentials."}
    }
    assert not Token.objects.exists()


def test_successful_sign_in_clears_the_username_failures(agent, settings):
    settings.HELPDESK_LOGIN_MAX_FAILURES = 3
    client = APIClient()
    for _ in range(2):
        client.post(TOKEN_URL, {"username": "ada", "password": "guess"}, format="json")
    assert client.post(TOKEN_URL, {"username": "ada", "password": PASSWORD}, format="json").status_code == 200

    assert APIClient(REMOTE_ADDR="198.51.100.7").post(
        TOKEN_URL, {"username": "ada", "password": PASSWORD}, format="json").status_code == 200
