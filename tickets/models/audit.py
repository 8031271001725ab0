"""The audit trail: every state change of a ticket, who made it and through what."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.people import User
from tickets.models.ticket import Ticket


class ActorKind(models.TextChoices):
    AGENT = "agent", _("Agent")
    CUSTOMER = "customer", _("Customer")
    SYSTEM = "system", _("System")
    AUTOMATION = "automation", _("Automation")
    SLA = "sla", _("SLA")


class Event(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("ticket"))
    kind = models.CharField(_("kind"), max_length=32)
    actor_kind = models.CharField(_("actor kind"), max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("actor")
    )
    # The channel or automation the change came through ("web", "email", "api", "auto_close" ...).
    via = models.CharField(_("via"), max_length=32, blank=True)
    field = models.CharField(_("field"), max_length=64, blank=True)
    from_value = models.JSONField(_("from"), null=True, blank=True)
    to_value = models.JSONField(_("to"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index("ticket", "created_at", "id", name="event_ticket_created_idx"),
            models.Index("kind", "created_at", name="event_kind_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on #{self.ticket_id}"
