"""One entry of a ticket's thread (reply or note) and its attachments."""

from __future__ import annotations

import uuid

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models.people import Customer, User
from tickets.models.ticket import Channel, Ticket


class AuthorKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    SYSTEM = "system", _("System")


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public reply")
    INTERNAL = "internal", _("Internal note")


class DeliveryState(models.TextChoices):
    NOT_APPLICABLE = "", _("Not sent by email")
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    BOUNCED = "bounced", _("Bounced")


class Message(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages", verbose_name=_("ticket"))
    author_kind = models.CharField(_("author kind"), max_length=16, choices=AuthorKind.choices)
    author_user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="authored_messages",
        verbose_name=_("author (user)"),
    )
    author_customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="authored_messages",
        verbose_name=_("author (customer)"),
    )
    visibility = models.CharField(_("visibility"), max_length=16, choices=Visibility.choices)
    # body_html is always sanitised before it is stored (tickets.sanitize); body_text is plain text.
    body_html = models.TextField(_("body (HTML)"), blank=True)
    body_text = models.TextField(_("body (text)"), blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    # The channel's own id (Message-ID, chat client id, call id): makes intake idempotent.
    external_id = models.CharField(_("channel message id"), max_length=512, blank=True)
    delivery_state = models.CharField(
        _("delivery state"), max_length=16, choices=DeliveryState.choices, blank=True, default=""
    )
    raw_source = models.CharField(_("raw source reference"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index("ticket", "created_at", "id", name="message_ticket_created_idx"),
            GinIndex(OpClass(Upper("body_text"), name="gin_trgm_ops"), name="message_text_trgm"),
            # The outbound sweep looks for replies still queued; a handful among millions of rows.
            models.Index(
                "created_at", name="message_queued_created_idx", condition=models.Q(delivery_state="queued")
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                name="message_channel_external_id_unique",
                condition=~models.Q(external_id=""),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_visibility_display()} on #{self.ticket.number}"

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC

    @property
    def author_name(self) -> str:
        # A customer's contact name first: their sign-in user is often just their email address.
        if self.author_customer_id and self.author_customer:
            return self.author_customer.name
        if self.author_user_id and self.author_user:
            return self.author_user.name
        return str(_("System"))


def attachment_upload_to(instance: Attachment, filename: str) -> str:
    # Stored under a random name: the name a person gave lives only in the row, never on disk.
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("ticket"))
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments",
        verbose_name=_("message"),
    )
    file = models.FileField(_("file"), upload_to=attachment_upload_to, max_length=255)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"))
    is_inline = models.BooleanField(_("inline"), default=False)
    content_id = models.CharField(_("content id"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename
