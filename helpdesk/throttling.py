"""API rate limits per token (or user, or address), answered with 429 and Retry-After."""

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class PerUserOrTokenRateThrottle(SimpleRateThrottle):
    scope = "user"

    def get_rate(self) -> str | None:
        # Read at use time (DRF copies the rates onto the class at import), so overriding
        # REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] in settings or tests takes effect at once.
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}") from None

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        auth = getattr(request, "auth", None)
        if auth is not None and hasattr(auth, "key"):
            ident = f"token:{auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            self.scope = "anon"
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def get_ident(self, request):  # type: ignore[no-untyped-def]
        # REMOTE_ADDR was already corrected by TrustedProxyMiddleware; never trust the header here.
        return request.META.get("REMOTE_ADDR", "")


class LoginRateThrottle(PerUserOrTokenRateThrottle):
    scope = "login"

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        return self.cache_format % {"scope": self.scope, "ident": f"ip:{self.get_ident(request)}"}
