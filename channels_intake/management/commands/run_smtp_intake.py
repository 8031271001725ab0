"""`manage.py run_smtp_intake`: the SMTP listener of the email intake, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import errno
import logging
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from channels_intake.email.smtp import IntakeController, IntakeHandler


class Command(BaseCommand):
    help = (
        "Accept mail for the teams' addresses over SMTP (default 127.0.0.1:2525), store it, and queue "
        "it for processing."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=None, help="address to listen on (HELPDESK_SMTP_INTAKE_HOST)")
        parser.add_argument("--port", type=int, default=None, help="port (HELPDESK_SMTP_INTAKE_PORT)")

    def handle(self, *args: Any, **options: Any) -> None:
        # aiosmtpd logs every SMTP command at INFO: far too much for a busy listener.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        host = options["host"] or settings.HELPDESK_SMTP_INTAKE_HOST
        port = options["port"] or settings.HELPDESK_SMTP_INTAKE_PORT
        handler = IntakeHandler()
        controller = IntakeController(handler, host=host, port=port)
        try:
            controller.start()
        except OSError as error:
            handler.close()
            if error.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"Port {port} on {host} is already in use; choose another with HELPDESK_SMTP_INTAKE_PORT."
                ) from error
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        limit_mb = settings.HELPDESK_EMAIL_MAX_BYTES / 1_048_576
        self.stdout.write(
            f"SMTP intake listening on {host}:{port} (messages up to {limit_mb:.0f} MB)", ending="\n"
        )
        self.stdout.flush()
        try:
            while not stop.wait(1.0):
                pass
        finally:
            controller.stop()
            handler.close()
            self.stdout.write("SMTP intake stopped.")
