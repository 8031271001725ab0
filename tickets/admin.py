"""Django admin for configuration data (users, teams, custom fields, organizations).

Tickets are read-only here: every change of a ticket goes through tickets.services, which the
admin would bypass.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from helpdesk import permissions
from tickets.customers.admin import CustomerAdminForm
from tickets.models import (
    AgentProfile,
    Customer,
    CustomFieldDefinition,
    Event,
    NotificationDelivery,
    Organization,
    SavedView,
    Team,
    TeamMembership,
    Ticket,
    User,
)


def _only_admins(request) -> bool:  # type: ignore[no-untyped-def]
    return request.user.is_active and permissions.is_admin(request.user)


admin.site.has_permission = _only_admins
admin.site.site_header = _("Helpdesk administration")


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "display_name", "role", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Helpdesk"), {"fields": ("role", "display_name", "language", "timezone", "email_verified_at")}),
        (_("Email notifications"), {"fields": ("notify_on_assignment", "notify_on_customer_reply", "notify_on_sla")}),
    )
    inlines = [TeamMembershipInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_customer_selectable", "routing_strategy", "escalates_to")
    list_filter = ("routing_strategy",)
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "email_addresses", "is_customer_selectable")}),
        # How new tickets find an agent and where "Escalate" sends them (tickets.assignment).
        (_("Assignment routing"), {"fields": ("routing_strategy", "first_contact_ownership",
                                              "ownership_away_minutes", "escalates_to")}),
    )
    inlines = [TeamMembershipInline]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = ("name", "email", "organization", "tier", "sees_organization_tickets")
    search_fields = ("name", "email")
    list_filter = ("tier", "sees_organization_tickets")
    raw_id_fields = ("user", "organization")
    fieldsets = (
        (None, {"fields": ("name", "email", "phone_numbers", "organization", "sees_organization_tickets", "user")}),
        (_("Preferences"), {"fields": ("language", "timezone", "tier")}),
        # What agents record on the customer page (tickets.customers).
        (_("Notes and custom fields"), {"fields": ("notes", "custom_fields")}),
    )


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    """What routing matches and counts: skills and languages (skill-based routing), capacity."""

    list_display = ("user", "capacity", "chat_capacity", "skills", "languages")
    search_fields = ("user__username", "user__display_name")
    raw_id_fields = ("user",)


@admin.register(CustomFieldDefinition)
class CustomFieldDefinitionAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "applies_to", "field_type", "is_required", "is_customer_visible", "position")
    list_filter = ("applies_to",)


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "team", "sort")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ("number", "subject", "status", "priority", "team", "assignee", "updated_at")
    list_filter = ("status", "priority", "channel")
    search_fields = ("=number", "subject")
    show_full_result_count = False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """The audit log."""

    list_display = ("created_at", "ticket", "kind", "actor_kind", "actor_user", "via", "field")
    list_filter = ("kind", "actor_kind", "via")
    raw_id_fields = ("ticket", "actor_user")
    show_full_result_count = False


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ReadOnlyAdmin):
    """Which agent was mailed about which event, and whether the mail went out (or why not)."""

    list_display = ("created_at", "kind", "recipient", "event", "state", "sent_at")
    list_filter = ("state", "kind")
    raw_id_fields = ("event", "recipient")
    search_fields = ("recipient__username", "recipient__email")
    show_full_result_count = False


# Business hours and SLA policies, and issue 9's areas, register their models from their own modules.
from tickets.assignment import admin as assignment_admin  # noqa: E402, F401
from tickets.collaboration import admin as collaboration_admin  # noqa: E402, F401
from tickets.customers import admin as customers_admin  # noqa: E402, F401
from tickets.macros import admin as macros_admin  # noqa: E402, F401
from tickets.rules import admin as rules_admin  # noqa: E402, F401
from tickets.sla import admin as sla_admin  # noqa: E402, F401
