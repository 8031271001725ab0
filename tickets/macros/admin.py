"""Django admin for tickets.macros (admins only, like the whole admin site).

The agent pages (/agent/macros/) are where macros are made; the admin is for inspecting and fixing
them, so it validates the same way: placeholders on the list and macro-only field actions.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tickets.macros.placeholders import unknown_placeholders
from tickets.models import Macro, MacroTranslation
from tickets.rules.vocabulary import validate_actions


def _check_placeholders(text: str) -> str:
    unknown = unknown_placeholders(text)
    if unknown:
        raise ValidationError(_("Unknown placeholders: %(names)s.")
                              % {"names": ", ".join("{{ " + name + " }}" for name in unknown)})
    return text


class MacroAdminForm(forms.ModelForm):
    class Meta:
        model = Macro
        fields = ["title", "owner", "team", "reply_text", "reply_is_internal", "actions", "is_active", "created_by"]

    def clean_reply_text(self) -> str:
        return _check_placeholders(self.cleaned_data.get("reply_text") or "")

    def clean_actions(self) -> list:
        return validate_actions(self.cleaned_data.get("actions"), for_macro=True)

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if cleaned.get("owner") and cleaned.get("team"):
            raise ValidationError(_("A macro is either personal (an owner) or shared (a team or everyone), not both."))
        return cleaned


class MacroTranslationForm(forms.ModelForm):
    class Meta:
        model = MacroTranslation
        fields = ["language", "title", "reply_text"]

    def clean_reply_text(self) -> str:
        return _check_placeholders(self.cleaned_data.get("reply_text") or "")

    def clean_language(self) -> str:
        return (self.cleaned_data.get("language") or "").strip().lower().replace("_", "-")


class MacroTranslationInline(admin.TabularInline):
    model = MacroTranslation
    form = MacroTranslationForm
    extra = 0


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    form = MacroAdminForm
    list_display = ("title", "owner", "team", "reply_is_internal", "is_active", "usage_count", "last_used_at")
    list_filter = ("is_active", "reply_is_internal", "team")
    search_fields = ("title", "reply_text")
    raw_id_fields = ("owner", "created_by")
    readonly_fields = ("usage_count", "last_used_at", "created_at", "updated_at")
    inlines = [MacroTranslationInline]
