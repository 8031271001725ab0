"""What arrived from outside, stored before anything else happens to it.

Every door (SMTP listener, IMAP poller, HTTP relay endpoint) writes one `RawInbound` row and
commits it before it acknowledges the message; processing (parse, thread, ingest) runs later in a
Celery task and records its outcome on the same row. A message that cannot be processed stays
here as `failed`, with the reason, for an admin to download and retry: nothing is dropped.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models import Message, Ticket


class Door(models.TextChoices):
    SMTP = "smtp", _("SMTP listener")
    IMAP = "imap", _("IMAP polling")
    HTTP = "http", _("HTTP endpoint")


class RawInboundState(models.TextChoices):
    RECEIVED = "received", _("Received, not processed yet")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")
    # Kept and visible to admins, but neither ticketed nor answered (mail loops, our own address...).
    SUSPENDED = "suspended", _("Suspended")
    DUPLICATE = "duplicate", _("Duplicate of an earlier delivery")


class RawInbound(models.Model):
    """One delivery of one message through one door, with its raw bytes and what became of it.

    The raw message lives in the row (bytea), not in a file: the row's commit is then the single
    moment the message is durable, with no file written but never recorded (or recorded but never
    written), it is in every database backup, and the SMTP listener, the worker and the web
    process (admin download) need no shared disk. A message is at most HELPDESK_EMAIL_MAX_BYTES
    (35 MB by default), well within what PostgreSQL stores out of line (TOAST) without trouble.
    Lists never load it (`RawInbound.objects.defer("raw")` / `.only(...)`).
    """

    door = models.CharField(_("door"), max_length=8, choices=Door.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=RawInboundState.choices, default=RawInboundState.RECEIVED
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("processing attempts"), default=0)

    raw = models.BinaryField(_("raw message"))
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256 of the raw bytes"), max_length=64)
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)
    # The SMTP envelope (MAIL FROM / RCPT TO), or what a relay passed along; may differ from the headers.
    envelope_sender = models.CharField(_("envelope sender"), max_length=998, blank=True)
    envelope_recipients = ArrayField(
        models.CharField(max_length=998), default=list, blank=True, verbose_name=_("envelope recipients")
    )

    # Read from the headers when stored (header_message_id) or when processed (the rest).
    # Both in the form of `channels_intake.email.message_id_key` (an over-long id becomes its hash).
    header_message_id = models.CharField(_("Message-ID"), max_length=512, blank=True)
    external_id = models.CharField(_("idempotency key"), max_length=512, blank=True)
    from_address = models.CharField(_("from"), max_length=998, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    # Tickets have no participants yet: CC'd addresses are kept here, [{"address": ..., "name": ...}].
    cc = models.JSONField(_("CC"), default=list, blank=True)
    # Mail no automatic reply may ever answer (RFC 3834: Auto-Submitted, bulk, bounces, mailer-daemon...).
    is_auto_submitted = models.BooleanField(_("automatic mail"), default=False)

    error = models.TextField(_("error"), blank=True)
    note = models.TextField(_("note"), blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="raw_inbounds",
        verbose_name=_("ticket"),
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="raw_inbounds",
        verbose_name=_("message"),
    )
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("duplicate of")
    )

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        indexes = [
            # The admin list (newest first, filtered by state) and the sweep of rows never processed.
            models.Index("state", models.F("received_at").desc(), name="rawinbound_state_received_idx"),
            models.Index(models.F("received_at").desc(), name="rawinbound_received_idx"),
            # Idempotency across doors and "is the parent of this reply still waiting?" look-ups.
            models.Index(
                "external_id", name="rawinbound_external_id_idx", condition=~models.Q(external_id="")
            ),
            models.Index(
                "header_message_id", name="rawinbound_message_id_idx", condition=~models.Q(header_message_id="")
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_door_display()} {self.get_state_display()}"
