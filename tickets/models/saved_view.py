"""Saved views: named filters over the queue, personal or shared with a team."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.people import Team, User


class SavedView(models.Model):
    name = models.CharField(_("name"), max_length=100)
    owner = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="saved_views", verbose_name=_("owner")
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="saved_views", verbose_name=_("team")
    )
    # Keys and values as the queue's query string (validated against the filter allowlist on use).
    filters = models.JSONField(_("filters"), default=dict)
    sort = models.CharField(_("sort"), max_length=32, default="-updated")
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name
