"""Working a ticket together: followers, links between tickets, side conversations with third
parties by email (tickets.collaboration)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.people import User
from tickets.models.ticket import Ticket


class TicketFollower(models.Model):
    """An agent who is told about a ticket's updates without holding it."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="followers", verbose_name=_("ticket"))
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="followed_tickets", verbose_name=_("agent"))
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("follower")
        verbose_name_plural = _("followers")
        constraints = [models.UniqueConstraint(fields=["ticket", "user"], name="ticket_follower_unique")]
        indexes = [models.Index(fields=["user"], name="ticket_follower_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} follows #{self.ticket_id}"


class LinkKind(models.TextChoices):
    RELATED = "related", _("Related to")
    # source is an incident of the problem ticket `target`.
    INCIDENT_OF = "incident_of", _("Incident of problem")


class TicketLink(models.Model):
    """A link between two tickets. `related` is stored once per pair (lower id as source)."""

    source = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out", verbose_name=_("ticket"))
    target = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in", verbose_name=_("linked ticket"))
    kind = models.CharField(_("kind"), max_length=16, choices=LinkKind.choices)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("ticket link")
        verbose_name_plural = _("ticket links")
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="ticket_link_unique"),
            models.CheckConstraint(condition=~models.Q(source=models.F("target")), name="ticket_link_not_self"),
        ]
        indexes = [models.Index(fields=["target", "kind"], name="ticket_link_target_idx")]

    def __str__(self) -> str:
        return f"#{self.source_id} {self.kind} #{self.target_id}"


class SideConversationState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class SideConversation(models.Model):
    """An email thread with a third party (a supplier, another department) kept with the ticket,
    invisible to the requester."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="side_conversations", verbose_name=_("ticket")
    )
    subject = models.CharField(_("subject"), max_length=255)
    participants = ArrayField(models.EmailField(max_length=254), default=list, verbose_name=_("participants"))
    state = models.CharField(_("state"), max_length=16, choices=SideConversationState.choices,
                             default=SideConversationState.OPEN)
    # In the reply address and Message-IDs, so a reply finds the conversation (not the ticket).
    token = models.CharField(_("token"), max_length=32, unique=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("side conversation")
        verbose_name_plural = _("side conversations")
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.subject


class SideConversationMessage(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND = "outbound", _("Sent")
        INBOUND = "inbound", _("Received")

    conversation = models.ForeignKey(
        SideConversation, on_delete=models.CASCADE, related_name="messages", verbose_name=_("side conversation")
    )
    direction = models.CharField(_("direction"), max_length=16, choices=Direction.choices)
    author_user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("author")
    )
    from_email = models.EmailField(_("from"), max_length=254, blank=True)
    body_html = models.TextField(_("body (HTML)"), blank=True)
    body_text = models.TextField(_("body"), blank=True)
    # The Message-ID (outbound: ours; inbound: theirs), unique so a mail fetched twice is stored once.
    message_id = models.CharField(_("Message-ID"), max_length=512, unique=True)
    # Outbound only: queued → sent / failed, like ticket replies.
    delivery_state = models.CharField(_("delivery"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("side conversation message")
        verbose_name_plural = _("side conversation messages")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.direction} in {self.conversation_id}"
