"""Reads for the rules pages and API: rule lists, execution logs, webhooks and their deliveries.

Only managers and admins reach these (the views and API check it); they read every ticket, so the
log's tickets need no further scoping.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from tickets.models import Rule, RuleRun, Webhook, WebhookDelivery

DELIVERIES_SHOWN = 20


def rule_list(*, kind: str | None = None) -> QuerySet[Rule]:
    """Rules in the order they run (position, then id), their run counts current: the runs still
    pending in Redis are written first (what the minute task would do a little later)."""
    from tickets.rules.engine import rule_run_counts_flush

    rule_run_counts_flush()
    rules = Rule.objects.all()
    if kind:
        rules = rules.filter(kind=kind)
    return rules.order_by("kind", "position", "id")


def rule_get(*, rule_id: int) -> Rule | None:
    return Rule.objects.filter(pk=rule_id).first()


def rule_runs(*, rule: Rule) -> QuerySet[RuleRun]:
    """The rule's runs, newest first (paginate them)."""
    return RuleRun.objects.filter(rule=rule).select_related("ticket").order_by("-created_at", "-id")


def execution_log(*, outcome: str = "", kind: str = "") -> QuerySet[RuleRun]:
    """Every rule's runs, newest first, optionally one outcome or one kind of rule."""
    runs = RuleRun.objects.select_related("rule", "ticket").order_by("-created_at", "-id")
    if outcome:
        runs = runs.filter(outcome=outcome)
    if kind:
        runs = runs.filter(rule__kind=kind)
    return runs


def webhook_list() -> QuerySet[Webhook]:
    """Webhooks by name, with how many deliveries are still pending or failed."""
    return Webhook.objects.annotate(
        pending_count=Count("deliveries", filter=Q(deliveries__state="pending")),
        failed_count=Count("deliveries", filter=Q(deliveries__state="failed")),
    ).order_by("name")


def webhook_deliveries(*, webhook: Webhook, limit: int = DELIVERIES_SHOWN) -> list[WebhookDelivery]:
    """The webhook's most recent deliveries, newest first."""
    return list(WebhookDelivery.objects.filter(webhook=webhook).select_related("ticket", "rule")
                .order_by("-created_at", "-id")[:limit])
