"""Fixtures of the outbound tests: a real SMTP sink (aiosmtpd) on loopback that the email backend talks to."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller

from tests.channels_intake.helpers import free_port


@dataclass
class Delivery:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def mail(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.raw)  # type: ignore[return-value]


@dataclass
class SinkHandler:
    """Keeps every message it is given. `refuse_with` makes it answer DATA with that reply instead:
    always, or only for the first `refuse_first` attempts when that is set."""

    deliveries: list[Delivery] = field(default_factory=list)
    refuse_with: str = ""
    refuse_first: int = 0
    attempts: int = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.attempts += 1
        if self.refuse_with and (not self.refuse_first or self.attempts <= self.refuse_first):
            return self.refuse_with
        self.deliveries.append(
            Delivery(sender=envelope.mail_from, recipients=list(envelope.rcpt_tos), raw=envelope.original_content)
        )
        return "250 OK"


@pytest.fixture
def celery_eager_retrying():
    """Tasks run where they are queued, retries included: as on a worker, a task's `self.retry()`
    is not raised to the caller (eager propagation would stop at the first retry) but run again
    at once, countdown ignored."""
    from helpdesk.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def smtp_sink(settings):
    """A local SMTP server; Django's SMTP backend is pointed at it for the test."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "", ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    yield handler
    controller.stop()
