"""Phone calls in the admin site, read-only (they change only through the phone services, and the
webhook events are the record of what the telephony sent), and the agents' PBX extensions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from channels_intake.phone.models import AgentExtension, Call, CallEvent


class CallEventInline(admin.TabularInline):
    model = CallEvent
    extra = 0
    fields = ("event", "occurred_at", "received_at", "payload")
    readonly_fields = fields
    ordering = ("occurred_at", "id")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("id", "started_at", "provider", "direction", "from_number", "to_number", "state",
                    "duration_seconds", "agent", "team", "ticket_number")
    list_filter = ("state", "direction", "provider", "team")
    search_fields = ("=call_id", "from_number", "to_number", "=ticket__number")
    list_select_related = ("agent", "team", "ticket")
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    show_full_result_count = False
    inlines = [CallEventInline]
    readonly_fields = (
        "provider", "call_id", "direction", "from_number", "to_number", "from_raw", "to_raw", "customer", "agent",
        "team", "state", "started_at", "answered_at", "ended_at", "duration_seconds", "recording_url", "transcript",
        "disposition", "notes", "ticket", "message", "created_at", "updated_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("ticket"), ordering="ticket__number")
    def ticket_number(self, obj: Call) -> str:
        return f"#{obj.ticket.number}" if obj.ticket_id and obj.ticket else "–"


@admin.register(AgentExtension)
class AgentExtensionAdmin(admin.ModelAdmin):
    list_display = ("extension", "user")
    search_fields = ("extension", "user__username", "user__email")
    autocomplete_fields = ("user",)
