"""Surveys in the admin site: answers and invitations read-only (they change only through the survey
pages and services, which copy the ticket's dimensions and notify the dashboards), opt-outs
removable (a customer who asks to receive surveys again)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from metrics.models import SurveyInvitation, SurveyOptOut, SurveyResponse


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SurveyResponse)
class SurveyResponseAdmin(_ReadOnlyAdmin):
    list_display = ("responded_at", "kind", "score", "source", "ticket", "customer", "team", "agent", "channel",
                    "language")
    list_filter = ("kind", "source", "channel", "team", "score")
    search_fields = ("=ticket__number", "customer__email", "comment")
    list_select_related = ("ticket", "customer", "team", "agent")
    date_hierarchy = "responded_at"
    ordering = ("-responded_at", "-id")
    show_full_result_count = False


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(_ReadOnlyAdmin):
    list_display = ("created_at", "kind", "source", "ticket", "customer", "email", "state", "skip_reason", "sent_at")
    list_filter = ("kind", "state", "source", "skip_reason")
    search_fields = ("=ticket__number", "email")
    list_select_related = ("ticket", "customer")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False


@admin.register(SurveyOptOut)
class SurveyOptOutAdmin(admin.ModelAdmin):
    list_display = ("customer", "created_at")
    search_fields = ("customer__email", "customer__name")
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    ordering = ("-created_at",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
