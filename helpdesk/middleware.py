"""Project middleware: trusted proxies, per-user language and time zone, Content-Security-Policy."""

from __future__ import annotations

import ipaddress
import secrets
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation


def _in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""


class TrustedProxyMiddleware:
    """Believe X-Forwarded-For only when the direct peer is a configured proxy (TRUSTED_PROXIES).

    Otherwise anyone could pick the address that rate limits and lockouts are keyed on.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        proxies = list(settings.TRUSTED_PROXIES)
        peer = request.META.get("REMOTE_ADDR", "")
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if proxies and forwarded and _in_networks(peer, proxies):
            # Walk from the right: the first address that is not one of our proxies is the client.
            for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
                if not _in_networks(hop, proxies):
                    request.META["REMOTE_ADDR"] = hop
                    break
        return self.get_response(request)


class UserPreferencesMiddleware:
    """Activate the signed-in user's language and time zone (stored in UTC, shown in theirs)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        zone_name = ""
        if user is not None and user.is_authenticated:
            if user.language and not request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME):
                translation.activate(user.language)
                request.LANGUAGE_CODE = translation.get_language()
            zone_name = user.timezone
        zone_name = zone_name or request.COOKIES.get("hd_tz", "")
        if zone_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(zone_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """A strict CSP on every response: scripts only from us (and a per-request nonce), no plugins, no framing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            websocket_origin = settings.HELPDESK_WEBSOCKET_URL or ""
            connect = "'self' ws: wss:" if not websocket_origin else f"'self' {websocket_origin}"
            response["Content-Security-Policy"] = (
                "default-src 'self'; "
                f"script-src 'self' 'nonce-{request.csp_nonce}'; "
                "style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data: https:; "
                "font-src 'self'; "
                f"connect-src {connect}; "
                "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
            )
        return response
