"""The SMTP door: an aiosmtpd listener that stores each message before it says 250.

- RCPT: only our addresses (a team's, or a signed reply address of one) are accepted; anything
  else gets 550 at once, so we never take responsibility for mail we would have to bounce later.
- SIZE: advertised in EHLO and enforced (552) at HELPDESK_EMAIL_MAX_BYTES.
- DATA: the raw message is committed as a `RawInbound` row, then 250; when the database cannot be
  reached (or anything else fails) the answer is 451, and the sending server tries again later.
  Processing (parse, thread, ingest) happens afterwards in the `email_in` Celery task.

Database work runs in a small thread pool, each thread with its own Django connection, so the
event loop keeps talking to other clients while a message is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from channels_intake.email.mailboxes import Mailboxes, RecipientVerdict
from channels_intake.models import Door
from channels_intake.services import raw_inbound_store

logger = logging.getLogger(__name__)

TEMPORARY_FAILURE = "451 4.3.0 Temporary failure storing the message; please try again later"
MAILBOX_CACHE_SECONDS = 5.0  # a team address added in the admin is accepted within seconds
STORE_TIMEOUT_SECONDS = 120.0  # well below the 10 minutes a client waits after DATA (RFC 5321 4.5.3.2.6)
# RFC 5321 limits lines to 1,000 octets, but real mail (HTML from broken clients) has longer ones;
# refusing those would bounce the mail at the sender, so lines are limited only by the size.
LINE_LENGTH_LIMIT = 1024 * 1024


def _with_connection(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run database work in a pool thread the way Django runs a request: stale connections closed."""
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


class IntakeHandler:
    """aiosmtpd handler: RCPT and DATA hooks of the intake."""

    def __init__(self, *, max_workers: int = 4) -> None:
        self.max_workers = max_workers
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="smtp-intake-db")
        self._mailboxes: Mailboxes | None = None
        self._mailboxes_loaded_at = 0.0

    def close(self) -> None:
        """Close every pool thread's database connection (a connection belongs to its thread), then stop."""
        barrier = threading.Barrier(self.max_workers)

        def close_connections() -> None:
            # Each of the pool's threads blocks here once, so each closes its own connection.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)
            connections.close_all()

        futures.wait([self.executor.submit(close_connections) for _ in range(self.max_workers)])
        self.executor.shutdown(wait=True)

    async def _run(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(_with_connection, function, *args, **kwargs))

    async def mailboxes(self) -> Mailboxes:
        now = time.monotonic()
        if self._mailboxes is None or now - self._mailboxes_loaded_at > MAILBOX_CACHE_SECONDS:
            self._mailboxes = await self._run(Mailboxes.load)
            self._mailboxes_loaded_at = now
        return self._mailboxes

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            mailboxes = await self.mailboxes()
        except DatabaseError as error:
            logger.warning("SMTP intake: cannot read the mailbox addresses: %s", error)
            return "451 4.3.0 Temporary failure looking up the recipient; please try again later"
        except Exception:  # noqa: BLE001 - whatever broke, the sender should retry rather than bounce
            logger.exception("SMTP intake: cannot read the mailbox addresses")
            return "451 4.3.0 Temporary failure looking up the recipient; please try again later"
        verdict = mailboxes.verdict(address)
        if verdict is RecipientVerdict.INVALID_TOKEN:
            return f"550 5.1.1 <{address}>: this reply address is not valid"
        if verdict is not RecipientVerdict.ACCEPT:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content
        if raw is None:
            content = envelope.content
            raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else bytes(content or b"")
        peer = session.peer[0] if isinstance(session.peer, tuple) and session.peer else None
        try:
            row = await asyncio.wait_for(
                self._run(
                    raw_inbound_store,
                    raw=raw,
                    door=Door.SMTP,
                    envelope_sender=envelope.mail_from or "",
                    envelope_recipients=list(envelope.rcpt_tos),
                    remote_addr=peer,
                ),
                timeout=STORE_TIMEOUT_SECONDS,
            )
        except (DatabaseError, TimeoutError) as error:
            logger.warning("SMTP intake: could not store a message from %s: %s", envelope.mail_from, error)
            return TEMPORARY_FAILURE
        except Exception:  # noqa: BLE001 - nothing is acknowledged that is not stored
            logger.exception("SMTP intake: could not store a message from %s", envelope.mail_from)
            return TEMPORARY_FAILURE
        logger.info(
            "SMTP intake: stored message %s (%d bytes) from %s for %s",
            row.pk, row.size, envelope.mail_from, ", ".join(envelope.rcpt_tos),
        )
        return f"250 2.0.0 OK: queued as {row.pk}"


class IntakeSMTP(SMTP):
    line_length_limit = LINE_LENGTH_LIMIT


def tls_context() -> ssl.SSLContext | None:
    """The STARTTLS context when HELPDESK_SMTP_INTAKE_TLS_CERT (and _KEY) are set, else None."""
    certificate = settings.HELPDESK_SMTP_INTAKE_TLS_CERT
    if not certificate:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, settings.HELPDESK_SMTP_INTAKE_TLS_KEY or None)
    return context


class IntakeController(Controller):
    """Runs the listener on its own event loop in a background thread (aiosmtpd's Controller)."""

    def __init__(self, handler: IntakeHandler, *, host: str, port: int, **kwargs: Any) -> None:
        context = tls_context()
        super().__init__(
            handler,
            hostname=host,
            port=port,
            server_hostname=kwargs.pop("server_hostname", None) or socket.gethostname(),
            data_size_limit=int(settings.HELPDESK_EMAIL_MAX_BYTES),
            enable_SMTPUTF8=True,
            decode_data=False,
            ident="helpdesk intake",
            tls_context=context,
            require_starttls=bool(context) and settings.HELPDESK_SMTP_INTAKE_REQUIRE_STARTTLS,
            **kwargs,
        )

    def factory(self) -> SMTP:
        return IntakeSMTP(self.handler, **self.SMTP_kwargs)
