"""Live chat: the widgets a website embeds, the chats visitors start, and the offers routing makes.

A chat's messages are the ticket's `Message` rows (channel `chat`): the ticket thread *is* the
transcript. These rows hold only what a ticket does not: who the visitor is on the widget, where
the chat is in its life (queued, offered, active, ended) and which agent has it.
"""

from __future__ import annotations

import secrets
import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models import BusinessHours, Team, Ticket, User


def new_widget_key() -> str:
    return secrets.token_urlsafe(16)


def default_prechat_fields() -> dict:
    return {
        "name": {"shown": True, "required": True},
        "email": {"shown": True, "required": False},
        "question": {"shown": True, "required": True},
        "custom": [],
    }


class ChatWidget(models.Model):
    """One embeddable chat launcher: which team answers it and which websites may embed it."""

    # Public: it is in the host page's <script> tag. It names the widget, it grants nothing.
    key = models.CharField(_("key"), max_length=64, unique=True, default=new_widget_key)
    name = models.CharField(_("name"), max_length=100)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="chat_widgets", verbose_name=_("team"))
    # A page may send its chats to one of these instead (the script tag's data-team="<slug>"), e.g. a
    # shop's billing page to Billing; any other team it names is refused.
    other_teams = models.ManyToManyField(
        Team, blank=True, related_name="+", verbose_name=_("other teams"),
        help_text=_("Teams a page may send this widget's chats to with data-team, besides its own team."),
    )
    # Origins like "https://shop.example" (scheme, host and port, no path); our own site is always allowed.
    allowed_origins = ArrayField(
        models.CharField(max_length=255), default=list, blank=True, verbose_name=_("allowed origins")
    )
    # {"name": {"shown": bool, "required": bool}, "email": {...}, "question": {...},
    #  "custom": [{"key": "order", "label": "Order number", "required": false, "max_length": 200}]}
    # A custom key that is a ticket custom field's key fills that field on the chat's ticket; the
    # others are kept on the chat (Chat.prechat_values) and shown to the agent.
    prechat_fields = models.JSONField(_("pre-chat fields"), default=default_prechat_fields, blank=True)
    # {"en": "Hi! How can we help?", "zh-hans": "...", "zh-hant": "..."}
    greeting = models.JSONField(_("greeting"), default=dict, blank=True)
    # Show knowledge-base suggestions before a person is asked for.
    deflection_enabled = models.BooleanField(_("suggest articles first"), default=True)
    # No hours: online whenever an agent of the team is.
    business_hours = models.ForeignKey(
        BusinessHours, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("business hours"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("chat widget")
        verbose_name_plural = _("chat widgets")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChatState(models.TextChoices):
    DEFLECTING = "deflecting", _("Showing articles")
    QUEUED = "queued", _("Waiting for an agent")
    OFFERED = "offered", _("Offered to an agent")
    ACTIVE = "active", _("In progress")
    ENDED = "ended", _("Ended")


# States in which a chat still occupies the widget's queue or an agent.
OPEN_CHAT_STATES = (ChatState.DEFLECTING, ChatState.QUEUED, ChatState.OFFERED, ChatState.ACTIVE)
WAITING_CHAT_STATES = (ChatState.QUEUED, ChatState.OFFERED)


class ChatEndReason(models.TextChoices):
    VISITOR_LEFT = "visitor_left", _("The visitor left")
    AGENT_ENDED = "agent_ended", _("The agent ended it")
    DEFLECTED = "deflected", _("Answered by an article")
    OFFLINE = "offline", _("No agent available")
    TIMEOUT = "timeout", _("Timed out")


class Chat(models.Model):
    widget = models.ForeignKey(ChatWidget, on_delete=models.PROTECT, related_name="chats", verbose_name=_("widget"))
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="chat", verbose_name=_("ticket"))
    # The browser's own id (kept in its storage): several chats of one visitor, and their customer record.
    visitor_id = models.UUIDField(_("visitor id"), default=uuid.uuid4, db_index=True)
    visitor_name = models.CharField(_("visitor name"), max_length=200, blank=True)
    visitor_email = models.EmailField(_("visitor email"), max_length=254, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    origin = models.CharField(_("origin"), max_length=255, blank=True)
    # The pre-chat form's custom answers that are not ticket custom fields: {key: text}.
    prechat_values = models.JSONField(_("pre-chat answers"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=ChatState.choices, default=ChatState.QUEUED)
    agent = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="chats", verbose_name=_("agent")
    )
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=16, choices=ChatEndReason.choices, blank=True)
    rating = models.PositiveSmallIntegerField(
        _("rating"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rating_comment = models.TextField(_("rating comment"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("chat")
        verbose_name_plural = _("chats")
        indexes = [
            models.Index(fields=["state", "widget"], name="chat_state_widget_idx"),
            models.Index(fields=["agent", "state"], name="chat_agent_state_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="chat_rating_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return f"chat {self.pk} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state != ChatState.ENDED


class ChatOfferState(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")


class ChatOffer(models.Model):
    """A waiting chat offered to one agent until `expires_at`; routing offers the next agent after."""

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="offers", verbose_name=_("chat"))
    agent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="chat_offers", verbose_name=_("agent"))
    offered_at = models.DateTimeField(_("offered at"))
    expires_at = models.DateTimeField(_("expires at"))
    state = models.CharField(
        _("state"), max_length=16, choices=ChatOfferState.choices, default=ChatOfferState.PENDING
    )

    class Meta:
        verbose_name = _("chat offer")
        verbose_name_plural = _("chat offers")
        indexes = [
            # The expiry sweep reads pending offers by due time; a handful among all offers.
            models.Index(
                fields=["expires_at"], name="chatoffer_pending_expires_idx",
                condition=models.Q(state="pending"),
            ),
            models.Index(fields=["chat", "agent"], name="chatoffer_chat_agent_idx"),
        ]
        constraints = [
            # At most one live offer per chat, whatever two routing processes do at once.
            models.UniqueConstraint(
                fields=["chat"], name="chatoffer_one_pending_per_chat", condition=models.Q(state="pending")
            )
        ]

    def __str__(self) -> str:
        return f"offer of chat {self.chat_id} to {self.agent_id} ({self.state})"
