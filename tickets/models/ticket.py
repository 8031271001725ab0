"""The ticket: one conversation with a customer, whatever channel it came through."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tickets.models.people import Customer, Organization, Team, User

# A sequence (created in the first migration) hands out human numbers, gap-tolerant and race-free.
TICKET_NUMBER_SEQUENCE = "tickets_ticket_number_seq"


class Status(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    ON_HOLD = "on_hold", _("On hold")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")


# Statuses in which a ticket still needs work from support; the queue indexes cover these.
UNSOLVED_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
ACTIVE_STATUSES = (Status.NEW, Status.OPEN)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class TicketType(models.TextChoices):
    QUESTION = "question", _("Question")
    INCIDENT = "incident", _("Incident")
    PROBLEM = "problem", _("Problem")
    TASK = "task", _("Task")


class Channel(models.TextChoices):
    WEB = "web", _("Web form")
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat")
    PHONE = "phone", _("Phone")
    API = "api", _("API")


class NextNumber(models.Func):
    function = "nextval"
    template = f"nextval('{TICKET_NUMBER_SEQUENCE}'::regclass)"
    output_field = models.BigIntegerField()


class Ticket(models.Model):
    number = models.BigIntegerField(_("number"), unique=True, db_default=NextNumber(), editable=False)
    subject = models.CharField(_("subject"), max_length=255)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    type = models.CharField(_("type"), max_length=16, choices=TicketType.choices, default=TicketType.QUESTION)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.WEB)
    requester = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("requester")
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("organization"),
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets", verbose_name=_("team")
    )
    assignee = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        verbose_name=_("assignee"),
    )
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True, verbose_name=_("tags"))
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    first_responded_at = models.DateTimeField(_("first responded"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    reopen_count = models.PositiveIntegerField(_("reopen count"), default=0)
    message_count = models.PositiveIntegerField(_("message count"), default=0)
    last_customer_message_at = models.DateTimeField(_("last customer message"), null=True, blank=True)
    last_agent_reply_at = models.DateTimeField(_("last agent reply"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_tickets",
        verbose_name=_("merged into"),
    )
    follow_up_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="follow_ups",
        verbose_name=_("follow-up of"),
    )
    # The nearest due time of the ticket's running SLA targets (None without one), kept by
    # tickets.sla.services.sla_timers_sync: the queue sorts and filters a million tickets on it
    # through an index, which a subquery over the timers cannot offer.
    sla_due_at = models.DateTimeField(_("SLA due"), null=True, blank=True)
    # When the status last changed (None: not since it was created): automations' "pending for 3
    # days" and "solved for 4 days" are measured from here.
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    # How many times the ticket was escalated up its teams' escalation path (0: never).
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0, db_default=0)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # Queue pages: open tickets of a team, most recently updated first (keyset on (updated_at, id)).
            models.Index(
                "team",
                models.F("updated_at").desc(),
                models.F("id").desc(),
                name="ticket_team_open_updated_idx",
                condition=models.Q(status__in=["new", "open", "pending", "on_hold"]),
            ),
            models.Index(
                "assignee",
                "status",
                models.F("updated_at").desc(),
                name="ticket_assignee_status_idx",
            ),
            models.Index(
                "team",
                "status",
                models.F("updated_at").desc(),
                models.F("id").desc(),
                name="ticket_team_status_updated_idx",
            ),
            models.Index(models.F("updated_at").desc(), models.F("id").desc(), name="ticket_updated_idx"),
            models.Index("requester", models.F("created_at").desc(), name="ticket_requester_idx"),
            # "Due soonest" and "Breaching soon": within a team, and across teams for managers.
            models.Index("team", "sla_due_at", "id", name="ticket_team_sla_due_idx"),
            models.Index("sla_due_at", "id", name="ticket_sla_due_idx"),
            models.Index("organization", models.F("created_at").desc(), name="ticket_org_idx"),
            # The backlog now by age (metrics.selectors): the unsolved, unmerged tickets alone, with
            # the dashboard's filter columns, instead of a bitmap scan of their scattered rows.
            models.Index(
                fields=["created_at"], name="ticket_backlog_idx",
                include=["team_id", "assignee_id", "channel", "priority", "organization_id"],
                condition=models.Q(status__in=UNSOLVED_STATUSES, merged_into__isnull=True),
            ),
            GinIndex(fields=["tags"], name="ticket_tags_gin"),
            GinIndex(OpClass(Upper("subject"), name="gin_trgm_ops"), name="ticket_subject_trgm"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def is_closed(self) -> bool:
        return self.status == Status.CLOSED


class CustomFieldDefinition(models.Model):
    """An admin-defined typed field stored in Ticket.custom_fields under `key`."""

    class FieldType(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", pgettext_lazy("custom field type", "Number")
        DECIMAL = "decimal", _("Decimal")
        DATE = "date", _("Date")
        CHECKBOX = "checkbox", _("Checkbox")
        SELECT = "select", _("Drop-down")

    class AppliesTo(models.TextChoices):
        TICKET = "ticket", _("Tickets")
        CUSTOMER = "customer", _("Customers")

    key = models.SlugField(_("key"), max_length=64, unique=True)
    label = models.CharField(_("label"), max_length=100)
    applies_to = models.CharField(_("applies to"), max_length=16, choices=AppliesTo.choices,
                                  default=AppliesTo.TICKET, db_default=AppliesTo.TICKET)
    field_type = models.CharField(_("type"), max_length=16, choices=FieldType.choices)
    choices = ArrayField(models.CharField(max_length=100), default=list, blank=True, verbose_name=_("choices"))
    is_required = models.BooleanField(_("required"), default=False)
    is_customer_visible = models.BooleanField(_("visible to customers"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.label
