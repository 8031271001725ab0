"""`manage.py run_smtp_sink`: the local SMTP server outbound mail goes to when no EMAIL_HOST is set.

`make run` starts it; every mail it is given is kept (admin: "Sent mail (local sink)") and never
relayed anywhere, so a person can see what the helpdesk sent without a mail server.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connections

from channels_intake.email.outbound import outbound_capture_store

logger = logging.getLogger(__name__)


class SinkHandler:
    """Stores each message (in a worker thread: the ORM is synchronous) and answers 250 once it is."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp-sink-db")

    def _store(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        close_old_connections()
        try:
            outbound_capture_store(raw=raw, sender=sender, recipients=recipients)
        finally:
            close_old_connections()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        raw = envelope.original_content or b""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self.executor, self._store, raw, envelope.mail_from or "", list(envelope.rcpt_tos)
            )
        except DatabaseError:
            logger.exception("The SMTP sink could not store a message")
            return "451 4.3.0 Not stored, try again later"
        return "250 OK: kept by the helpdesk's local sink, not delivered"

    def close(self) -> None:
        self.executor.submit(connections.close_all).result()
        self.executor.shutdown(wait=True)


class Command(BaseCommand):
    help = "Keep outbound mail in the database instead of delivering it (default 127.0.0.1:2526)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=None, help="address to listen on (HELPDESK_SMTP_SINK_HOST)")
        parser.add_argument("--port", type=int, default=None, help="port (HELPDESK_SMTP_SINK_PORT)")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        host = options["host"] or settings.HELPDESK_SMTP_SINK_HOST
        port = options["port"] or settings.HELPDESK_SMTP_SINK_PORT
        handler = SinkHandler()
        controller = Controller(
            handler, hostname=host, port=port, data_size_limit=settings.HELPDESK_EMAIL_MAX_BYTES + 1024 * 1024
        )
        try:
            controller.start()
        except (OSError, RuntimeError) as error:
            handler.close()
            if getattr(error, "errno", None) == errno.EADDRINUSE or "in use" in str(error).lower():
                raise CommandError(
                    f"Port {port} on {host} is already in use; choose another with HELPDESK_SMTP_SINK_PORT."
                ) from error
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"SMTP sink listening on {host}:{port}: outbound mail is kept, not delivered")
        self.stdout.flush()
        try:
            while not stop.wait(1.0):
                pass
        finally:
            controller.stop()
            handler.close()
            self.stdout.write("SMTP sink stopped.")
