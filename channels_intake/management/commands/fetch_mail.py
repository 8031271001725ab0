"""`manage.py fetch_mail [--mailbox ID]`: poll IMAP mailboxes now, in this process, and say what happened.

The same poll as the Celery beat job (`channels_intake.tasks.poll_mailboxes`); the stored messages
are processed by the worker as usual. Exits non-zero when a mailbox could not be polled.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from channels_intake.email.imap import enabled_mailbox_ids, mailbox_poll
from channels_intake.models import MailboxAccount


class Command(BaseCommand):
    help = "Fetch new mail from the enabled IMAP mailboxes (or one, even a disabled one) and store it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--mailbox", type=int, action="append", dest="mailbox_ids", metavar="ID",
                            help="poll only this mailbox (repeatable); disabled mailboxes too")
        parser.add_argument("--max", type=int, default=None, dest="max_messages",
                            help="at most this many messages per mailbox (HELPDESK_IMAP_MAX_PER_POLL)")

    def handle(self, *args: Any, **options: Any) -> None:
        mailbox_ids: list[int] = options["mailbox_ids"] or enabled_mailbox_ids()
        max_messages = options["max_messages"] or settings.HELPDESK_IMAP_MAX_PER_POLL
        names = dict(MailboxAccount.objects.filter(pk__in=mailbox_ids).values_list("pk", "name"))
        missing = [str(pk) for pk in mailbox_ids if pk not in names]
        if missing:
            raise CommandError(f"No IMAP mailbox with id {', '.join(missing)}.")
        if not mailbox_ids:
            self.stdout.write("No enabled IMAP mailbox.")
            return
        failed = 0
        for mailbox_id in mailbox_ids:
            result = mailbox_poll(mailbox_id=mailbox_id, max_messages=max_messages,
                                  include_disabled=bool(options["mailbox_ids"]))
            line = f"{names[mailbox_id]} (#{mailbox_id}): {result.summary()}"
            if result.is_ok:
                self.stdout.write(line)
            else:
                failed += 1
                self.stderr.write(line)
        if failed:
            raise CommandError(f"{failed} of {len(mailbox_ids)} mailboxes could not be polled.")
