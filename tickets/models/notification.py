"""Agents' email notifications: which (event, recipient) mails went out, so a retried task never sends twice."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.audit import Event
from tickets.models.people import User


class NotificationState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class NotificationDelivery(models.Model):
    """One notification mail about one audit event to one agent.

    The row is created and locked while the mail is being sent; only a `pending` row is sent, so a
    retried or duplicated task finds `sent` and does nothing.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notification_deliveries",
                              verbose_name=_("event"))
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_deliveries",
                                  verbose_name=_("recipient"))
    kind = models.CharField(_("kind"), max_length=32)
    state = models.CharField(_("state"), max_length=16, choices=NotificationState.choices,
                             default=NotificationState.PENDING)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification delivery")
        verbose_name_plural = _("notification deliveries")
        constraints = [
            models.UniqueConstraint(fields=["event", "recipient"], name="notification_delivery_event_recipient_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.event_id} to {self.recipient_id}: {self.state}"
