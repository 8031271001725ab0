"""The category tree of the help center."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    """A node of the category tree. Names and descriptions are kept per language in JSONB
    ({"en": "...", "zh-hans": "...", "zh-hant": "..."}) so one category serves every language
    and a missing translation falls back to English rather than hiding the category."""

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        verbose_name=_("parent category"),
    )
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    names = models.JSONField(_("names by language"), default=dict)
    descriptions = models.JSONField(_("descriptions by language"), default=dict, blank=True)
    icon = models.CharField(_("icon"), max_length=40, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    # Internal categories hold agent-only articles; they never appear in the help center.
    is_internal = models.BooleanField(_("internal (agents only)"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.name_in("en")

    def name_in(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.slug

    def description_in(self, language: str) -> str:
        return self.descriptions.get(language) or self.descriptions.get("en") or ""
