"""Business rules: triggers (run when a ticket changes) and automations (run on a schedule over
tickets matching time conditions), their execution log, and the webhooks their actions call.

Conditions and actions are stored as JSON in the shape `tickets.rules.vocabulary` defines and
validates; people build them with a form (tickets.rules admin pages), never by editing JSON.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.people import User
from tickets.models.ticket import Ticket


class RuleKind(models.TextChoices):
    TRIGGER = "trigger", _("Trigger")
    AUTOMATION = "automation", _("Automation")


class TriggerEvent(models.TextChoices):
    CREATED = "created", _("Ticket is created")
    UPDATED = "updated", _("Ticket is updated")
    CUSTOMER_REPLIED = "customer_replied", _("Customer replied")
    AGENT_REPLIED = "agent_replied", _("Agent replied")


class Rule(models.Model):
    kind = models.CharField(_("kind"), max_length=16, choices=RuleKind.choices)
    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Rules run in ascending position (then id): an earlier rule's changes are what later rules see.
    position = models.PositiveIntegerField(_("position"), default=0)
    # Triggers only: which ticket changes run it.
    events = ArrayField(
        models.CharField(max_length=32, choices=TriggerEvent.choices), default=list, blank=True,
        verbose_name=_("runs when"),
    )
    # {"all": [condition, …], "any": [condition, …]}; a condition is {"field", "operator", "value"}.
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    # [{"type": …, …}, …] in order.
    actions = models.JSONField(_("actions"), default=list, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    run_count = models.PositiveIntegerField(_("runs"), default=0)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["kind", "position", "id"]
        indexes = [models.Index(fields=["kind", "is_active", "position"], name="rule_kind_active_idx")]

    def __str__(self) -> str:
        return self.name


class RuleRunOutcome(models.TextChoices):
    APPLIED = "applied", _("Applied")
    FAILED = "failed", _("Failed")
    # Not run: the rule fired on this ticket too often in a short time (a loop between rules,
    # or with a webhook that updates the ticket).
    SUPPRESSED = "suppressed", _("Suppressed (loop protection)")


class RuleRun(models.Model):
    """One firing of a rule on a ticket: the execution log."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs", verbose_name=_("rule"))
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="rule_runs", verbose_name=_("ticket"))
    # The trigger event ("created", …) or "schedule" for an automation.
    event = models.CharField(_("event"), max_length=32)
    outcome = models.CharField(_("outcome"), max_length=16, choices=RuleRunOutcome.choices)
    # What each action did, in order ([{"type": …, "result": …}]).
    actions = models.JSONField(_("actions"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    # Automations: the moment the time condition counts from (the ticket's status change, say), so
    # an automation fires once per ticket per occurrence of its condition.
    anchor = models.DateTimeField(_("anchor"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("rule run")
        verbose_name_plural = _("rule runs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index("rule", models.F("created_at").desc(), name="rulerun_rule_created_idx"),
            models.Index("ticket", "rule", models.F("created_at").desc(), name="rulerun_ticket_rule_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "ticket", "anchor"], name="rulerun_automation_once",
                condition=models.Q(anchor__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} on #{self.ticket_id}: {self.outcome}"


class Webhook(models.Model):
    """An outside endpoint rules may call with a signed JSON body."""

    name = models.CharField(_("name"), max_length=150, unique=True)
    url = models.URLField(_("URL"), max_length=500)
    # HMAC-SHA256 key for the X-Helpdesk-Signature header.
    secret = models.CharField(_("signing secret"), max_length=128)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One call of a webhook, stored before it is sent; a task sends it with back-off."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook"))
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("ticket")
    )
    rule = models.ForeignKey(
        Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("rule")
    )
    payload = models.JSONField(_("payload"), default=dict)
    state = models.CharField(_("state"), max_length=16, choices=WebhookDeliveryState.choices,
                             default=WebhookDeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="webhookdelivery_due_idx",
                         condition=models.Q(state="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.webhook} #{self.pk}: {self.state}"
