"""Assignment routing state: where each team's round-robin stands (tickets.routing)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.people import Team, User


class TeamRoutingState(models.Model):
    """One row per routed team, locked while an agent is picked, so concurrent new tickets take
    turns instead of all going to the same agent."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="routing_state", verbose_name=_("team"))
    last_assigned_user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("last assigned")
    )
    last_assigned_at = models.DateTimeField(_("last assigned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("team routing state")
        verbose_name_plural = _("team routing states")

    def __str__(self) -> str:
        return f"routing of {self.team}"
