"""Chat widgets in the admin site (key, team, allowed origins, pre-chat fields, greeting, hours),
and chats read-only: they change only through the chat services (the audit trail is the ticket's)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from channels_intake.chat.models import Chat, ChatOffer, ChatWidget
from channels_intake.chat.selectors import normalise_origin


class OriginListField(forms.CharField):
    """One origin a line ("https://shop.example"), each checked and normalised."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value: Any) -> str:
        return "\n".join(value) if isinstance(value, list | tuple) else (value or "")

    def to_python(self, value: Any) -> list[str]:
        origins = []
        for line in str(value or "").splitlines():
            line = line.strip()
            if not line:
                continue
            origin = normalise_origin(line)
            if not origin or origin != line.rstrip("/").lower():
                raise forms.ValidationError(
                    _("%(value)s is not an origin: write scheme, host and port only, e.g. https://shop.example.")
                    % {"value": line}
                )
            origins.append(origin)
        return list(dict.fromkeys(origins))


class ChatWidgetForm(forms.ModelForm):
    allowed_origins = OriginListField(
        label=_("Allowed origins"), required=False,
        help_text=_("Websites that may embed this widget, one a line (e.g. https://shop.example). "
                    "This helpdesk's own site is always allowed."),
    )

    class Meta:
        model = ChatWidget
        fields = ["name", "key", "team", "other_teams", "is_active", "allowed_origins", "deflection_enabled",
                  "business_hours", "prechat_fields", "greeting"]


@admin.register(ChatWidget)
class ChatWidgetAdmin(admin.ModelAdmin):
    form = ChatWidgetForm
    list_display = ["name", "key", "team", "is_active", "deflection_enabled"]
    list_filter = ["is_active", "team"]
    search_fields = ["name", "key"]
    filter_horizontal = ["other_teams"]


class ChatOfferInline(admin.TabularInline):
    model = ChatOffer
    extra = 0
    can_delete = False
    fields = readonly_fields = ["agent", "offered_at", "expires_at", "state"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ["pk", "widget", "ticket", "visitor_name", "state", "agent", "rating", "created_at"]
    list_filter = ["state", "end_reason", "widget"]
    search_fields = ["visitor_name", "visitor_email", "ticket__number"]
    list_select_related = ["widget", "ticket", "agent"]
    inlines = [ChatOfferInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Chat._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
