"""The per-ticket fact table every metric is computed from (PRODUCT.md, "Metric definitions").

One row per ticket, rebuilt from the ticket's row and its audit events by
`metrics.services.ticket_facts_refresh`; rollups and dashboards read these rows, never the events.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models import Channel, Organization, Priority, Team, Ticket, User


class TicketFact(models.Model):
    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, primary_key=True, related_name="fact", verbose_name=_("ticket")
    )
    created_at = models.DateTimeField(_("created"))
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("team")
    )
    # The assignee when the ticket was first solved; the current assignee while it never was.
    agent = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("agent")
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices)
    organization = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("organization"),
    )
    first_public_agent_reply_at = models.DateTimeField(_("first public agent reply"), null=True, blank=True)
    # Durations in whole seconds: integers sort, sum and feed percentile_cont without interval casts.
    frt_seconds = models.PositiveIntegerField(_("first response time (seconds)"), null=True, blank=True)
    frt_business_seconds = models.PositiveIntegerField(
        _("first response time in business hours (seconds)"), null=True, blank=True
    )
    first_solved_at = models.DateTimeField(_("first solved"), null=True, blank=True)
    resolution_seconds = models.PositiveIntegerField(_("resolution time (seconds)"), null=True, blank=True)
    resolution_business_seconds = models.PositiveIntegerField(
        _("resolution time in business hours (seconds)"), null=True, blank=True
    )
    public_agent_replies = models.PositiveIntegerField(_("public agent replies"), default=0)
    reopen_count = models.PositiveIntegerField(_("reopen count"), default=0)
    # None until the ticket is first solved.
    is_fcr = models.BooleanField(_("first contact resolution"), null=True, blank=True)
    solved_by_customer = models.BooleanField(_("solved by the customer"), default=False)
    is_merged = models.BooleanField(_("merged"), default=False)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("ticket fact")
        verbose_name_plural = _("ticket facts")
        indexes = [
            models.Index("created_at", name="ticketfact_created_idx"),
            # Only solved tickets have a solve date: the partial index skips the backlog's rows.
            models.Index(
                "first_solved_at", name="ticketfact_first_solved_idx",
                condition=models.Q(first_solved_at__isnull=False),
            ),
            models.Index("team", "created_at", name="ticketfact_team_created_idx"),
        ]

    def __str__(self) -> str:
        return f"facts of ticket {self.ticket_id}"
