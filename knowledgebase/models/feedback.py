"""What readers tell us: "Was this helpful?", what they searched for, and deflections."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ArticleFeedback(models.Model):
    translation = models.ForeignKey("knowledgebase.ArticleTranslation", on_delete=models.CASCADE,
                                    related_name="feedback", verbose_name=_("article"))
    is_helpful = models.BooleanField(_("helpful"))
    comment = models.TextField(_("comment"), blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("user"))
    # One vote per reader and article: the signed-in user, else the session.
    session_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("article feedback")
        verbose_name_plural = _("article feedback")
        ordering = ["-created_at"]
        # One vote per reader: concurrent first votes of the same reader cannot both insert.
        constraints = [
            models.UniqueConstraint(fields=["translation", "user"], condition=models.Q(user__isnull=False),
                                    name="kb_feedback_one_per_user"),
            models.UniqueConstraint(fields=["translation", "session_key"],
                                    condition=models.Q(user__isnull=True) & ~models.Q(session_key=""),
                                    name="kb_feedback_one_per_session"),
        ]

    def __str__(self) -> str:
        return f"{self.translation_id}: {'+' if self.is_helpful else '-'}"


class SearchQuery(models.Model):
    """One search as typed (help center, portal form, chat widget, agent reply box)."""

    class Source(models.TextChoices):
        HELP_CENTER = "help_center", _("Help center")
        PORTAL_FORM = "portal_form", _("Portal form")
        CHAT_WIDGET = "chat_widget", _("Chat widget")
        AGENT = "agent", _("Agent reply box")
        API = "api", _("API")

    query = models.CharField(_("query"), max_length=200)
    normalized_query = models.CharField(_("normalized query"), max_length=200, db_index=True)
    language = models.CharField(_("language"), max_length=10)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.API)
    result_count = models.PositiveIntegerField(_("results"))
    clicked_translation = models.ForeignKey(
        "knowledgebase.ArticleTranslation", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("clicked article"),
    )
    clicked_rank = models.PositiveSmallIntegerField(_("clicked position"), null=True, blank=True)
    session_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("search query")
        verbose_name_plural = _("search queries")

    def __str__(self) -> str:
        return self.query


class DeflectionOutcome(models.TextChoices):
    # The customer opened a suggested article and left without submitting: deflected.
    DEFLECTED = "deflected", _("Deflected")
    # They submitted the ticket (or asked for a person in chat) after all.
    SUBMITTED = "submitted", _("Submitted anyway")
    # Suggestions were shown and nothing is known yet.
    PENDING = "pending", _("Pending")


class Deflection(models.Model):
    """Suggestions shown to one customer in one form or chat; the outcome tells whether the
    knowledge base answered them. Reported in metrics as the deflection rate."""

    class Source(models.TextChoices):
        PORTAL_FORM = "portal_form", _("Portal form")
        CHAT_WIDGET = "chat_widget", _("Chat widget")

    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    session_key = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("user"))
    query = models.CharField(_("query"), max_length=200, blank=True)
    opened_translation = models.ForeignKey(
        "knowledgebase.ArticleTranslation", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("opened article"),
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=DeflectionOutcome.choices,
                               default=DeflectionOutcome.PENDING)
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", verbose_name=_("ticket"))
    language = models.CharField(_("language"), max_length=10, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("deflection")
        verbose_name_plural = _("deflections")
        indexes = [models.Index(fields=["session_key", "source", "-created_at"], name="kb_deflection_session")]

    def __str__(self) -> str:
        return f"{self.source}: {self.outcome}"
