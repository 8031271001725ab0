"""Checking that a call event comes from our telephony: pure functions, no request objects.

Generic webhook (`POST /api/v1/intake/phone/events/`): the sender signs `<timestamp>.<body>` with
HMAC-SHA256 under the shared secret (HELPDESK_PHONE_WEBHOOK_SECRET) and sends

    X-Helpdesk-Timestamp: 1764653370            (Unix seconds)
    X-Helpdesk-Signature: sha256=<hex digest>

A timestamp further than HELPDESK_PHONE_SIGNATURE_TOLERANCE_SECONDS (5 minutes) from now is refused,
so a captured request cannot be replayed later; within the window a replay is harmless because
events are idempotent on (provider, call id, event).

Twilio (`X-Twilio-Signature`): base64 of HMAC-SHA1, keyed with the account's auth token, over the
full URL Twilio requested followed by every POST parameter's name and value, sorted by name
(https://www.twilio.com/docs/usage/security#validating-requests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

SIGNATURE_PREFIX = "sha256="


def generic_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` (what the sender puts after `sha256=`)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def generic_signature_valid(
    *, secrets: Iterable[str], timestamp: str, signature: str, body: bytes, tolerance_seconds: int,
    now: float | None = None,
) -> bool:
    """Whether `signature` (the header, `sha256=` optional) signs this body at this timestamp under
    one of `secrets`, and the timestamp is within the tolerance of now."""
    try:
        sent_at = int(timestamp.strip())
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance_seconds:
        return False
    presented = signature.strip()
    if presented.lower().startswith(SIGNATURE_PREFIX):
        presented = presented[len(SIGNATURE_PREFIX):]
    valid = False
    for secret in secrets:
        expected = generic_signature(secret=secret, timestamp=str(sent_at), body=body)
        # Every secret is tried (no early exit), each comparison in constant time.
        valid |= hmac.compare_digest(expected.encode(), presented.strip().lower().encode())
    return valid


def twilio_signature(*, auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's signature of a form POST: base64(HMAC-SHA1(token, url + name1 + value1 + …)), names sorted."""
    data = url + "".join(f"{name}{value}" for name, value in sorted(params, key=lambda item: (item[0], item[1])))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """The URL as given, and with the default port added or removed: Twilio signs the URL as it was
    configured, and a proxy in between may drop or add `:443` (Twilio's own helper tries both)."""
    parts = urlsplit(url)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    variants = [url]
    if default_port is None or parts.hostname is None:
        return variants
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port is None:
        variants.append(urlunsplit(parts._replace(netloc=f"{host}:{default_port}")))
    elif parts.port == default_port:
        variants.append(urlunsplit(parts._replace(netloc=host)))
    return variants


def twilio_signature_valid(*, auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    if not auth_token or not signature:
        return False
    pairs = list(params)
    valid = False
    for candidate in _url_variants(url):
        expected = twilio_signature(auth_token=auth_token, url=candidate, params=pairs)
        valid |= hmac.compare_digest(expected.encode(), signature.strip().encode())
    return valid
