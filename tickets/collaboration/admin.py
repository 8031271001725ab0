"""Django admin for tickets.collaboration: followers and links, read mostly (the ticket page and the
API change them through the services, which audit every change)."""

from django.contrib import admin

from tickets.models import TicketFollower, TicketLink


@admin.register(TicketFollower)
class TicketFollowerAdmin(admin.ModelAdmin):
    list_display = ("ticket", "user", "created_at")
    list_select_related = ("ticket", "user")
    search_fields = ("ticket__number", "user__username", "user__display_name")
    raw_id_fields = ("ticket", "user")
    readonly_fields = ("created_at",)


@admin.register(TicketLink)
class TicketLinkAdmin(admin.ModelAdmin):
    list_display = ("source", "kind", "target", "created_by", "created_at")
    list_filter = ("kind",)
    list_select_related = ("source", "target", "created_by")
    search_fields = ("source__number", "target__number")
    raw_id_fields = ("source", "target", "created_by")
    readonly_fields = ("created_at",)
