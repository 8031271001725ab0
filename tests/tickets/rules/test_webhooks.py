"""Webhook actions against a real HTTP server on loopback: the signed JSON body, retries with
back-off after an error, failure after the limit. No mocks: the server checks what arrived."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from tests.factories import make_ticket
from tests.tickets.rules.conftest import cond, make_rule
from tickets.models import RuleRun, Webhook, WebhookDelivery, WebhookDeliveryState
from tickets.rules import webhooks
from tickets.rules.tasks import webhook_deliveries_retry

pytestmark = pytest.mark.django_db

SECRET = "s3cret-key"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the local server got, and the status codes it answers with (the last one repeats)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def next_status(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.next_status())
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/helpdesk"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook(receiver) -> Webhook:
    return Webhook.objects.create(name="CRM", url=receiver.url, secret=SECRET)


@pytest.fixture
def rule(webhook):
    return make_rule(name="Tell the CRM", all=[cond("ticket.subject", "contains", "order")],
                     actions=[{"type": "webhook", "webhook": str(webhook.pk)}])


def receiver_verifies(received: Received) -> bool:
    """The check a receiver does, written out independently of the sender's code."""
    parts = dict(part.split("=", 1) for part in received.headers["x-helpdesk-signature"].split(","))
    expected = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_a_trigger_posts_a_signed_json_body_after_commit(team, rule, receiver, celery_eager,
                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(team=team, subject="Where is my order?")

    assert len(receiver.requests) == 1
    received = receiver.requests[0]
    assert received.path == "/hooks/helpdesk"
    assert received.headers["content-type"] == "application/json"
    assert receiver_verifies(received)
    body = json.loads(received.body)
    assert body["event"] == "created"
    assert body["rule"] == {"id": rule.pk, "name": "Tell the CRM", "kind": "trigger"}
    assert (body["ticket"]["number"], body["ticket"]["subject"]) == (ticket.number, "Where is my order?")
    assert body["ticket"]["requester"]["email"] == ticket.requester.email
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)
    assert body["delivery"] == delivery.pk
    assert RuleRun.objects.get(rule=rule).actions == [{"type": "webhook", "result": f"delivery {delivery.pk}"}]


def test_a_tampered_body_or_another_secret_does_not_verify(team, rule, receiver, celery_eager,
                                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(team=team, subject="order 1")
    received = receiver.requests[0]
    header = received.headers["x-helpdesk-signature"]

    assert webhooks.verify(SECRET, received.body, header)
    assert not webhooks.verify(SECRET, received.body + b" ", header)
    assert not webhooks.verify("other", received.body, header)
    assert not webhooks.verify(SECRET, received.body, header, now=int(header.split(",")[0][2:]) + 3600)


def test_nothing_is_sent_inside_the_transaction(team, rule, receiver, celery_eager):
    make_ticket(team=team, subject="order 2")  # on-commit callbacks not run: the test's transaction is open

    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("pending", 0)


def test_a_server_error_is_retried_with_back_off_until_it_succeeds(team, rule, receiver, settings, celery_eager,
                                                                   django_capture_on_commit_callbacks):
    settings.HELPDESK_WEBHOOK_RETRY_SECONDS = 60
    receiver.statuses = [500, 503, 200]
    started = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(team=team, subject="order 3")

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.response_status, delivery.error) == (
        "pending", 1, 500, "HTTP 500")
    assert timedelta(seconds=59) < delivery.next_attempt_at - started < timedelta(seconds=75)
    assert webhook_deliveries_retry() == 0  # not due yet

    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert webhook_deliveries_retry() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("pending", 2, 503)
    second_wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=110) < second_wait <= timedelta(seconds=120)  # doubled

    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    webhook_deliveries_retry()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert len(receiver.requests) == 3
    assert all(receiver_verifies(received) for received in receiver.requests)
    assert len({received.body for received in receiver.requests}) == 1  # the same call each time


def test_a_delivery_fails_for_good_after_the_limit(team, rule, receiver, settings, celery_eager,
                                                   django_capture_on_commit_callbacks):
    settings.HELPDESK_WEBHOOK_MAX_ATTEMPTS = 3
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(team=team, subject="order 4")

    for _attempt in range(4):
        WebhookDelivery.objects.filter(state="pending").update(next_attempt_at=timezone.now())
        webhook_deliveries_retry()

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    assert len(receiver.requests) == 3
    ticket.refresh_from_db()
    assert ticket.subject == "order 4"  # the ticket never noticed


def test_an_unreachable_endpoint_is_retried(team, webhook, celery_eager, django_capture_on_commit_callbacks):
    Webhook.objects.filter(pk=webhook.pk).update(url="http://127.0.0.1:9/nothing-listens")
    make_rule(actions=[{"type": "webhook", "webhook": str(webhook.pk)}])
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(team=team)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("pending", 1, None)
    assert delivery.error


def test_an_inactive_webhook_is_not_called(team, webhook, receiver, celery_eager, django_capture_on_commit_callbacks):
    rule = make_rule(actions=[{"type": "webhook", "webhook": str(webhook.pk)}])
    Webhook.objects.filter(pk=webhook.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(team=team)

    assert receiver.requests == [] and not WebhookDelivery.objects.exists()
    assert RuleRun.objects.get(rule=rule).actions == [{"type": "webhook", "result": "webhook inactive"}]


def test_a_delivery_being_sent_is_not_sent_twice(team, rule, receiver, celery_eager):
    make_ticket(team=team, subject="order 5")
    delivery = WebhookDelivery.objects.get()

    assert webhooks.webhook_delivery_send(delivery_id=delivery.pk) == WebhookDeliveryState.DELIVERED
    assert webhooks.webhook_delivery_send(delivery_id=delivery.pk) == ""
    assert len(receiver.requests) == 1
