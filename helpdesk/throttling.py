"""API rate limits per token (or user, or address), answered with 429 and Retry-After.

A sliding-window counter in Redis: one pipelined round trip of INCR/EXPIRE/GET per request,
whatever the rate. (DRF's SimpleRateThrottle keeps a list of every request time in the cache and
rewrites it on each request, which costs more the higher the limit.) Rates are read from
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] when used, so settings overrides apply at once.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from helpdesk.heartbeat import redis_client

logger = logging.getLogger(__name__)
KEY_PREFIX = "helpdesk:throttle"


class PerUserOrTokenRateThrottle(BaseThrottle):
    scope = "user"
    anonymous_scope = "anon"

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def get_rate(self, scope: str) -> str | None:
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate set for scope {scope!r}") from None

    def scope_and_ident(self, request: Any) -> tuple[str, str]:
        auth = getattr(request, "auth", None)
        if auth is not None and hasattr(auth, "key"):
            return self.scope, f"token:{auth.pk}"
        if request.user and request.user.is_authenticated:
            return self.scope, f"user:{request.user.pk}"
        return self.anonymous_scope, f"ip:{self.get_ident(request)}"

    def get_ident(self, request: Any) -> str:
        # REMOTE_ADDR was already corrected by TrustedProxyMiddleware; never trust the header here.
        return str(request.META.get("REMOTE_ADDR", ""))

    def allow_request(self, request: Any, view: Any) -> bool:
        scope, ident = self.scope_and_ident(request)
        rate = self.get_rate(scope)
        if rate is None:
            return True
        limit, duration = SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
        now = time.time()
        window = int(now // duration)
        elapsed = now - window * duration
        current_key = f"{KEY_PREFIX}:{scope}:{ident}:{window}"
        previous_key = f"{KEY_PREFIX}:{scope}:{ident}:{window - 1}"
        try:
            pipe = redis_client().pipeline(transaction=False)
            pipe.incr(current_key)
            pipe.expire(current_key, duration * 2)
            pipe.get(previous_key)
            current, _expiry_set, previous_raw = pipe.execute()
        except Exception:
            # Rate limiting must not take the API down with Redis; the failure is logged loudly.
            logger.exception("rate limit check failed", extra={"scope": scope})
            return True
        previous = int(previous_raw or 0)
        # The previous window still counts for the part of it that lies within the last `duration`.
        remaining_share = (duration - elapsed) / duration
        if previous * remaining_share + current <= limit:
            return True
        if current > limit or previous == 0:
            self.wait_seconds = duration - elapsed
        else:
            # Wait until enough of the previous window has slid out of view.
            self.wait_seconds = max(0.0, duration - elapsed - (limit - current) * duration / previous)
        return False

    def wait(self) -> float | None:
        if self.wait_seconds is None:
            return None
        return float(max(1, math.ceil(self.wait_seconds)))


class PerAddressRateThrottle(PerUserOrTokenRateThrottle):
    """Requests per client address, whoever they claim to be. With `rate_setting`, the rate is that
    setting's value read at each request (operators and tests change it), else DRF's rate for `scope`."""

    rate_setting = ""
    default_rate = ""

    def get_rate(self, scope: str) -> str | None:
        if self.rate_setting:
            return str(getattr(settings, self.rate_setting, self.default_rate))
        return super().get_rate(scope)

    def scope_and_ident(self, request: Any) -> tuple[str, str]:
        return self.scope, f"ip:{self.get_ident(request)}"


class LoginRateThrottle(PerAddressRateThrottle):
    """Sign-in attempts per client address, whoever they claim to be."""

    scope = "login"
