"""The per-ticket fact table every metric is computed from (PRODUCT.md, "Metric definitions").

One row per ticket, rebuilt from the ticket's row and its audit events by
`metrics.services.ticket_facts_refresh`; rollups and dashboards read these rows, never the events.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models import Channel, Organization, Priority, Team, Ticket, User

# The columns the dashboard filters facts by.
_FACT_DIMENSIONS = ("team_id", "agent_id", "channel", "priority", "organization_id")


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
    # The ticket's decided SLA targets, each {"metric": ..., "due": ISO instant, "met": bool}: met
    # before due, or missed (breached, or still running past due). Targets not yet due and
    # cancelled ones are left out. Kept here so a rollup delta can take the old contribution away.
    sla_targets = models.JSONField(_("decided SLA targets"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("ticket fact")
        verbose_name_plural = _("ticket facts")
        indexes = [
            # The day anchors' indexes carry what the dashboard reads with them (the filters'
            # dimensions and the measures), so 90 days of facts are an index-only range scan
            # instead of ~120,000 heap fetches (metrics.selectors; bench/RESULTS.md, "Metrics").
            models.Index(
                "created_at", name="ticketfact_created_cover_idx",
                include=["is_merged", "first_solved_at", *_FACT_DIMENSIONS],
            ),
            # Only solved tickets have a solve date: the partial index skips the backlog's rows.
            models.Index(
                "first_solved_at", name="ticketfact_solved_cover_idx",
                condition=models.Q(first_solved_at__isnull=False),
                include=["resolution_seconds", "resolution_business_seconds", "is_merged", "created_at",
                         *_FACT_DIMENSIONS],
            ),
            models.Index("team", "created_at", name="ticketfact_team_created_idx"),
            models.Index(
                "first_public_agent_reply_at", name="ticketfact_reply_cover_idx",
                condition=models.Q(first_public_agent_reply_at__isnull=False),
                include=["frt_seconds", "frt_business_seconds", "is_merged", *_FACT_DIMENSIONS],
            ),
            # The backlog's tickets that were never solved (about ten days of volume): the backlog
            # at a past instant reads these and the ones solved after it, not every fact.
            models.Index(
                "created_at", name="ticketfact_unsolved_idx",
                condition=models.Q(first_solved_at__isnull=True, is_merged=False),
                include=list(_FACT_DIMENSIONS),
            ),
            # Merged duplicates (about 2 %): the backlog trend takes them away from the rollups'
            # volume, which counts them, instead of counting the unmerged facts of the period.
            models.Index(
                "created_at", name="ticketfact_merged_idx", condition=models.Q(is_merged=True),
                include=list(_FACT_DIMENSIONS),
            ),
            models.Index("organization", "created_at", name="ticketfact_org_created_idx"),
        ]

    def __str__(self) -> str:
        return f"facts of ticket {self.ticket_id}"


class RollupMeasures(models.Model):
    """The counts and sums a rollup row holds (DailyRollup and TeamDailyRollup: same meaning and days)."""

    created = models.IntegerField(_("tickets created"), default=0)
    # First public agent replies on this day, and the sums of their first response times.
    first_replied = models.IntegerField(_("tickets first answered"), default=0)
    frt_seconds_sum = models.BigIntegerField(_("first response time, sum (seconds)"), default=0)
    frt_business_seconds_sum = models.BigIntegerField(
        _("first response time in business hours, sum (seconds)"), default=0
    )
    # First solves on this day (merged duplicates excluded) and what they were.
    solved = models.IntegerField(_("tickets solved"), default=0)
    resolution_seconds_sum = models.BigIntegerField(_("resolution time, sum (seconds)"), default=0)
    resolution_business_seconds_sum = models.BigIntegerField(
        _("resolution time in business hours, sum (seconds)"), default=0
    )
    fcr = models.IntegerField(_("solved at first contact"), default=0)
    reopened = models.IntegerField(_("solved and reopened"), default=0)
    solved_by_customer = models.IntegerField(_("solved by the customer"), default=0)
    public_agent_replies_sum = models.IntegerField(_("public agent replies of the solved tickets"), default=0)
    # SLA targets due on this day that were decided, and those met.
    sla_due = models.IntegerField(_("SLA targets due"), default=0)
    sla_met = models.IntegerField(_("SLA targets met"), default=0)

    class Meta:
        abstract = True


class DailyRollup(RollupMeasures):
    """Counts and sums of the facts per reporting day × team × agent × channel × priority.

    Maintained incrementally by the workers (metrics.rollups): each refresh of a ticket's facts
    takes the ticket's old contribution away and adds the new one, so the rows always equal a
    recomputation from the facts (checked nightly). Medians and p90 are not stored here: they are
    read from the fact table with percentile_cont (see docs/ARCHITECTURE.md, "Metrics").

    Each measure is counted on the day its event happened, in the reporting time zone
    (HELPDESK_METRICS_TIME_ZONE): volume on the creation day, first response on the day of the
    first public agent reply, resolution, FCR and reopens on the first-solve day, SLA targets on
    their due day. Team, agent, channel and priority are the ticket's (TicketFact). Plain integer
    ids rather than foreign keys: derived rows, rebuilt by `recompute_metrics`, never cascaded.
    """

    day = models.DateField(_("day"))
    team_id = models.BigIntegerField(_("team"), null=True, blank=True)
    agent_id = models.BigIntegerField(_("agent"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices)

    class Meta:
        verbose_name = _("daily rollup")
        verbose_name_plural = _("daily rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "team_id", "agent_id", "channel", "priority"], nulls_distinct=False,
                name="dailyrollup_key_unique",
            ),
        ]
        indexes = [
            # Every column the sums read, so a period's rows are an index-only range scan by day
            # rather than a sequential scan of every day's rows (about 1,000 rows a day at 1M tickets).
            models.Index(
                "day", name="dailyrollup_day_cover_idx",
                include=["team_id", "agent_id", "channel", "priority", "created", "first_replied",
                         "frt_seconds_sum", "frt_business_seconds_sum", "solved", "resolution_seconds_sum",
                         "resolution_business_seconds_sum", "fcr", "reopened", "solved_by_customer",
                         "sla_due", "sla_met"],
            ),
        ]

    def __str__(self) -> str:
        return f"rollup {self.day} team={self.team_id} agent={self.agent_id} {self.channel}/{self.priority}"


class SurveyKind(models.TextChoices):
    CSAT = "csat", _("Customer satisfaction (1–5)")
    NPS = "nps", _("Net Promoter Score (0–10)")
    CES = "ces", _("Customer effort (1–7)")


class SurveySource(models.TextChoices):
    EMAIL = "email", _("Email link")
    PORTAL = "portal", _("Portal")
    CHAT = "chat", _("End of chat")


class SurveyResponse(models.Model):
    """One answer to one survey question: a CSAT, NPS or CES score, with an optional comment.

    The ticket's team, agent, channel, priority and organization are copied when the answer is
    recorded, so the dashboards filter answers like tickets without a join, and an answer without
    a ticket (an NPS survey of a customer) still counts. This table is itself the fact table of
    the survey metrics: they are read from it directly (a few hundred thousand rows, indexed by day).
    """

    kind = models.CharField(_("kind"), max_length=8, choices=SurveyKind.choices)
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    source = models.CharField(_("source"), max_length=8, choices=SurveySource.choices)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="survey_responses",
        verbose_name=_("ticket"),
    )
    customer = models.ForeignKey(
        "tickets.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="survey_responses",
        verbose_name=_("customer"),
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("team")
    )
    agent = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("agent")
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, blank=True)
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices, blank=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("organization"),
    )
    language = models.CharField(_("language"), max_length=16, blank=True)
    responded_at = models.DateTimeField(_("answered"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # The survey this answers (metrics.surveys): one answer of each kind per invitation, so a second
    # click on a rating link or a changed rating updates this row instead of counting twice.
    invitation = models.ForeignKey(
        "metrics.SurveyInvitation", on_delete=models.SET_NULL, null=True, blank=True, related_name="responses",
        verbose_name=_("invitation"),
    )

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        indexes = [
            models.Index("kind", "responded_at", name="surveyresponse_kind_day_idx"),
            models.Index("ticket", name="surveyresponse_ticket_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                "invitation", "kind", name="surveyresponse_one_per_invitation_kind",
                condition=models.Q(invitation__isnull=False),
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="csat", score__gte=1, score__lte=5)
                    | models.Q(kind="nps", score__gte=0, score__lte=10)
                    | models.Q(kind="ces", score__gte=1, score__lte=7)
                ),
                name="surveyresponse_score_in_scale",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.score}"


class SurveyInvitationState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Sending failed")
    NOT_SENT = "not_sent", _("Not sent")


class SurveyInvitation(models.Model):
    """One survey put to a customer: the CSAT of one solved ticket, or an NPS question.

    Created when a ticket is solved (metrics.surveys) and mailed by a task once `send_after` has
    come; a portal or end-of-chat rating of a ticket that has none creates one that is not mailed.
    The signed links in the mail name this row. `state` says what became of the mail, and
    `skip_reason` why none was sent (opted out, no address, answered elsewhere first …).
    """

    kind = models.CharField(_("kind"), max_length=8, choices=SurveyKind.choices)
    source = models.CharField(_("offered by"), max_length=8, choices=SurveySource.choices)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="survey_invitations",
        verbose_name=_("ticket"),
    )
    customer = models.ForeignKey(
        "tickets.Customer", on_delete=models.CASCADE, related_name="survey_invitations",
        verbose_name=_("customer"),
    )
    email = models.EmailField(_("email"), max_length=254, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=SurveyInvitationState.choices, default=SurveyInvitationState.PENDING
    )
    skip_reason = models.CharField(_("reason not sent"), max_length=32, blank=True)
    error = models.TextField(_("error"), blank=True)
    send_after = models.DateTimeField(_("send after"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        indexes = [
            models.Index("ticket", "kind", "created_at", name="surveyinv_ticket_kind_idx"),
            models.Index("customer", "kind", "created_at", name="surveyinv_customer_kind_idx"),
            # The sweep for mails whose task was lost only looks at the few pending rows.
            models.Index(
                "send_after", name="surveyinv_pending_idx", condition=models.Q(state="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} survey {self.pk} ({self.state})"


class SurveyOptOut(models.Model):
    """A customer who asked for no more survey mails (the link in every survey mail)."""

    customer = models.OneToOneField(
        "tickets.Customer", on_delete=models.CASCADE, related_name="survey_opt_out", verbose_name=_("customer")
    )
    created_at = models.DateTimeField(_("opted out"), auto_now_add=True)

    class Meta:
        verbose_name = _("survey opt-out")
        verbose_name_plural = _("survey opt-outs")

    def __str__(self) -> str:
        return f"survey opt-out of customer {self.customer_id}"


class TeamDailyRollup(RollupMeasures):
    """DailyRollup without the agent: the same counts and sums per reporting day × team × channel ×
    priority, for the dashboard's reads that neither filter nor break down by agent.

    The agent multiplies the rows about seven times (1,920 keys a day for about 1,370 tickets a
    day at a million tickets: bench/RESULTS.md, "Metrics"), so summing 90 days of DailyRollup is
    no faster than counting the facts. Kept by the same deltas as DailyRollup in the same
    statement batch (metrics.rollups.rollups_apply), rebuilt with it and checked against the facts
    by the same drift check, so it always equals DailyRollup summed over the agents.
    """

    day = models.DateField(_("day"))
    team_id = models.BigIntegerField(_("team"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices)

    class Meta:
        verbose_name = _("daily team rollup")
        verbose_name_plural = _("daily team rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "team_id", "channel", "priority"], nulls_distinct=False,
                name="teamdailyrollup_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"team rollup {self.day} team={self.team_id} {self.channel}/{self.priority}"
