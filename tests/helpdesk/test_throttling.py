"""The API rate limit: a sliding window in Redis, per token, per user or per address."""

from types import SimpleNamespace

import pytest

from helpdesk import throttling


def request_as(user_id=None, token_id=None, address="192.0.2.1"):
    user = SimpleNamespace(is_authenticated=user_id is not None, pk=user_id)
    auth = SimpleNamespace(pk=token_id, key="k") if token_id else None
    return SimpleNamespace(user=user, auth=auth, META={"REMOTE_ADDR": address})


@pytest.fixture
def rates(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "user": "10/min", "anon": "2/min", "login": "3/min"}}


@pytest.fixture
def clock(monkeypatch):
    now = SimpleNamespace(value=0.0)
    monkeypatch.setattr(throttling.time, "time", lambda: now.value)
    return now


def attempt(request, throttle_class=throttling.PerUserOrTokenRateThrottle):
    throttle = throttle_class()
    return throttle.allow_request(request, None), throttle.wait()


def test_limit_within_a_window_and_retry_after_until_it_ends(rates, clock):
    clock.value = 1000 * 60 + 50  # 50 s into a window
    request = request_as(token_id=7)

    results = [attempt(request) for _ in range(11)]

    assert [allowed for allowed, _ in results] == [True] * 10 + [False]
    assert results[-1][1] == 10


def test_the_previous_window_counts_for_the_part_still_in_view(rates, clock):
    request = request_as(user_id=3)
    clock.value = 1000 * 60 + 50
    for _ in range(11):
        attempt(request)
    clock.value = 1001 * 60 + 30  # half of the previous window (11 counted) is still in view: 5.5

    results = [attempt(request) for _ in range(5)]

    assert [allowed for allowed, _ in results] == [True] * 4 + [False]
    assert results[-1][1] == 3  # 30 - 5 * 60 / 11 = 2.7 s until enough has slid out


def test_tokens_users_and_addresses_are_counted_apart(rates, clock):
    clock.value = 60.0
    for _ in range(10):
        attempt(request_as(token_id=1))

    assert attempt(request_as(token_id=1))[0] is False
    assert attempt(request_as(token_id=2))[0] is True
    assert attempt(request_as(user_id=1))[0] is True
    assert [attempt(request_as(address="192.0.2.9"))[0] for _ in range(3)] == [True, True, False]


def test_login_attempts_count_per_address_whoever_is_signed_in(rates, clock):
    clock.value = 60.0
    results = [attempt(request_as(user_id=n), throttling.LoginRateThrottle) for n in range(4)]

    assert [allowed for allowed, _ in results] == [True, True, True, False]


def test_a_rate_of_none_means_no_limit(settings, clock):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": None}}

    assert all(attempt(request_as(token_id=1))[0] for _ in range(50))
