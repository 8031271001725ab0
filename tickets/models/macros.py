"""Macros (canned responses): a reply text with safe placeholders plus field actions, personal or
shared, with translations per language (tickets.macros renders and applies them)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.people import Team, User


class Macro(models.Model):
    title = models.CharField(_("title"), max_length=150)
    # Owner set: a personal macro only they see. No owner: shared, with everyone or with one team.
    owner = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="macros", verbose_name=_("owner")
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="macros", verbose_name=_("team")
    )
    # The reply in the default language, with placeholders such as {{ ticket.number }}.
    reply_text = models.TextField(_("reply text"), blank=True)
    # Whether the reply goes in as an internal note rather than a public reply.
    reply_is_internal = models.BooleanField(_("add as internal note"), default=False)
    # Field changes applied with it, in the shape of tickets.rules.vocabulary's actions
    # (set status / priority / type / team / assignee, add and remove tags, custom fields).
    actions = models.JSONField(_("actions"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    usage_count = models.PositiveIntegerField(_("times used"), default=0)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("macro")
        verbose_name_plural = _("macros")
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


class MacroTranslation(models.Model):
    """The macro's title and reply in another language; chosen by the requester's language."""

    macro = models.ForeignKey(Macro, on_delete=models.CASCADE, related_name="translations", verbose_name=_("macro"))
    language = models.CharField(_("language"), max_length=10)
    title = models.CharField(_("title"), max_length=150, blank=True)
    reply_text = models.TextField(_("reply text"))

    class Meta:
        verbose_name = _("macro translation")
        verbose_name_plural = _("macro translations")
        constraints = [models.UniqueConstraint(fields=["macro", "language"], name="macro_translation_unique")]

    def __str__(self) -> str:
        return f"{self.macro} ({self.language})"
