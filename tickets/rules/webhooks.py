"""Webhooks that rules call: stored first, then POSTed by a task with a signed JSON body.

The receiver verifies `X-Helpdesk-Signature: t=<unix time>,v1=<hex>` where the hex is
HMAC-SHA256(secret, f"{t}.{body}") over the exact body bytes, and should refuse an old `t`
(replays). A delivery is tried at once after the commit; an answer other than 2xx (or no answer)
is tried again after HELPDESK_WEBHOOK_RETRY_SECONDS × 2^(attempts − 1) (at most
HELPDESK_WEBHOOK_RETRY_MAX_SECONDS), up to HELPDESK_WEBHOOK_MAX_ATTEMPTS attempts, then it is
`failed`. The beat task `webhook_deliveries_retry` sends what is due, so a lost task or a worker
restart only delays a call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tickets.models import Ticket, Webhook, WebhookDelivery, WebhookDeliveryState

if TYPE_CHECKING:
    from tickets.rules.engine import CompiledRule

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Helpdesk-Signature"
USER_AGENT = "helpdesk-webhooks/1"


def max_attempts() -> int:
    return int(getattr(settings, "HELPDESK_WEBHOOK_MAX_ATTEMPTS", 8))


def retry_delay(attempts: int) -> timedelta:
    base = float(getattr(settings, "HELPDESK_WEBHOOK_RETRY_SECONDS", 60.0))
    ceiling = float(getattr(settings, "HELPDESK_WEBHOOK_RETRY_MAX_SECONDS", 6 * 3600.0))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), ceiling))


def timeout_seconds() -> float:
    return float(getattr(settings, "HELPDESK_WEBHOOK_TIMEOUT_SECONDS", 10.0))


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, tolerance_seconds: int = 300, now: float | None = None) -> bool:
    """What a receiver does (documented and tested here): the signature matches and is recent."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), f"t={timestamp},v1={parts.get('v1', '')}")


def webhook_payload(*, ticket: Ticket, rule: CompiledRule, event: str) -> dict[str, Any]:
    """The JSON body: the ticket as it stands when the rule fired, the rule, and the event."""
    from tickets.notifications import ticket_link

    return {
        "event": event,
        "rule": {"id": rule.id, "name": rule.name, "kind": rule.kind},
        "ticket": {
            "id": ticket.pk,
            "number": ticket.number,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
            "type": ticket.type,
            "channel": ticket.channel,
            "team": ticket.team_id,
            "assignee": ticket.assignee_id,
            "organization": ticket.organization_id,
            "tags": list(ticket.tags or []),
            "requester": {"name": ticket.requester.name, "email": ticket.requester.email},
            "created_at": ticket.created_at.isoformat() if ticket.created_at else None,
            "updated_at": ticket.updated_at.isoformat() if ticket.updated_at else None,
            "url": ticket_link(ticket.number),
        },
        "fired_at": timezone.now().isoformat(),
    }


def webhook_delivery_create(*, webhook: Webhook, ticket: Ticket, rule: CompiledRule, event: str) -> WebhookDelivery:
    """Store the call now (in the ticket's transaction); its task sends it once that commits."""
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, ticket=ticket, rule_id=rule.id, payload=webhook_payload(ticket=ticket, rule=rule, event=event),
        next_attempt_at=timezone.now(),
    )
    delivery_id = delivery.pk

    def enqueue() -> None:
        from tickets.rules.tasks import webhook_deliver

        webhook_deliver.delay(delivery_id)

    # robust: a broker outage leaves the delivery pending for the retry sweep.
    transaction.on_commit(enqueue, robust=True)
    return delivery


def _claim(delivery_id: int, *, now: datetime) -> WebhookDelivery | None:
    """Take a due delivery for one attempt: its next attempt moves past the timeout first, so
    another worker (or the sweep) leaves it alone while it is being sent, and a worker that dies
    mid-call leaves it due again afterwards."""
    lease = now + timedelta(seconds=timeout_seconds() + 30)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, state=WebhookDeliveryState.PENDING, next_attempt_at__lte=now,
    ).update(next_attempt_at=lease)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer other than 2xx: following it would send the signed body elsewhere.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and return the status code (raises OSError when there is no answer)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout_seconds()) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def webhook_delivery_send(*, delivery_id: int, now: datetime | None = None) -> str:
    """One attempt at a due pending delivery; returns its state afterwards ("" if it was not due
    or someone else has it)."""
    now = now or timezone.now()
    delivery = _claim(delivery_id, now=now)
    if delivery is None:
        return ""
    webhook = delivery.webhook
    body = json.dumps({**delivery.payload, "delivery": delivery.pk}, separators=(",", ":"), sort_keys=True,
                      ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(webhook.secret, body, int(time.time())),
        "X-Helpdesk-Delivery": str(delivery.pk),
    }
    status, error = None, ""
    if not webhook.is_active:
        error = "webhook deactivated"
    else:
        try:
            status = _post(webhook.url, body, headers)
        except (OSError, ValueError) as exc:  # refused, timed out, bad URL
            error = f"{type(exc).__name__}: {exc}"
    delivery.attempts += 1
    delivery.response_status = status
    if status is not None and 200 <= status < 300:
        delivery.state, delivery.delivered_at, delivery.error = WebhookDeliveryState.DELIVERED, timezone.now(), ""
        delivery.next_attempt_at = None
    else:
        delivery.error = (error or f"HTTP {status}")[:2000]
        if delivery.attempts >= max_attempts() or not webhook.is_active:
            delivery.state, delivery.next_attempt_at = WebhookDeliveryState.FAILED, None
            logger.warning("Webhook delivery %s to %s failed for good after %s attempts: %s", delivery.pk,
                           webhook.name, delivery.attempts, delivery.error)
        else:
            delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    delivery.save(update_fields=["attempts", "response_status", "state", "delivered_at", "error", "next_attempt_at"])
    return str(delivery.state)


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of pending deliveries due for an attempt, oldest first."""
    now = now or timezone.now()
    return list(WebhookDelivery.objects.filter(state=WebhookDeliveryState.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
