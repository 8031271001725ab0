"""Django admin for tickets.rules: the execution log and webhook deliveries, read-only (rules and
webhooks are edited on the agent pages, tickets.rules.views)."""

from django.contrib import admin

from tickets.admin import ReadOnlyAdmin
from tickets.models import RuleRun, WebhookDelivery


@admin.register(RuleRun)
class RuleRunAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "rule", "ticket", "event", "outcome", "anchor")
    list_filter = ("outcome", "event", "rule__kind")
    search_fields = ("=ticket__number", "rule__name")
    list_select_related = ("rule", "ticket")
    raw_id_fields = ("rule", "ticket")
    date_hierarchy = "created_at"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "webhook", "ticket", "rule", "state", "attempts", "response_status",
                    "next_attempt_at", "delivered_at")
    list_filter = ("state", "webhook")
    search_fields = ("=ticket__number", "webhook__name")
    list_select_related = ("webhook", "ticket", "rule")
    raw_id_fields = ("webhook", "ticket", "rule")
