"""Django admin for SLA configuration: business-hours calendars (with holidays) and policies.

Registered from tickets/admin.py (one import line), the module Django's admin autodiscovery loads.
Timers are not here: they change only through tickets.sla.services.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.forms import BaseModelFormSet, ModelForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tickets.models import BusinessHoliday, BusinessHours, SlaPolicy
from tickets.sla.services import business_hours_import_holidays

RECOMPUTE_HELP = _(
    "Changes always apply to timers started from now on. Tick this to also work out again the due "
    "times of timers already running (from their original start; breached targets stay breached). "
    "Workers do it in the background."
)


def recompute_field() -> forms.BooleanField:
    return forms.BooleanField(label=_("Recompute open timers"), required=False, help_text=RECOMPUTE_HELP)


# No Meta: the admin builds the model form (model and fields) around these with modelform_factory.
class BusinessHoursForm(forms.ModelForm):
    recompute_open_timers = recompute_field()


class SlaPolicyForm(forms.ModelForm):
    recompute_open_timers = recompute_field()


class RecomputeOnSaveMixin:
    """The "Recompute open timers" choice of the change form, and the same as a list action.

    Queued on commit from save_related, after the inlines (a calendar's holidays) are saved too.
    """

    recompute_kwarg: str

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: list[BaseModelFormSet], change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        if form.cleaned_data.get("recompute_open_timers"):
            self._queue_recompute(request, [form.instance.pk])

    def _queue_recompute(self, request: HttpRequest, ids: list[int]) -> None:
        from tickets.tasks import sla_recompute

        for object_id in ids:
            transaction.on_commit(lambda object_id=object_id: sla_recompute.delay(**{self.recompute_kwarg: object_id}))
        self.message_user(  # type: ignore[attr-defined]
            request, _("Open timers are being recomputed in the background."), messages.SUCCESS,
        )

    @admin.action(description=_("Recompute open timers"))
    def recompute_open_timers(self, request: HttpRequest, queryset: QuerySet) -> None:  # type: ignore[type-arg]
        self._queue_recompute(request, list(queryset.values_list("pk", flat=True)))


class BusinessHolidayInline(admin.TabularInline):
    model = BusinessHoliday
    extra = 0
    fields = ["date", "name", "intervals", "source"]


class HolidayImportForm(ActionForm):
    country = forms.CharField(label=_("Country code"), max_length=2, required=False,
                              help_text=_("e.g. CN, HK, TW, US, GB"))
    year = forms.IntegerField(label=_("Year"), required=False, min_value=1970, max_value=2100)


@admin.register(BusinessHours)
class BusinessHoursAdmin(RecomputeOnSaveMixin, admin.ModelAdmin):
    form = BusinessHoursForm
    recompute_kwarg = "calendar_id"
    list_display = ["name", "timezone", "always_open", "updated_at"]
    inlines = [BusinessHolidayInline]
    action_form = HolidayImportForm
    actions = ["import_public_holidays", "recompute_open_timers"]

    @admin.action(description=_("Import public holidays (country code and year)"))
    def import_public_holidays(self, request: HttpRequest, queryset: QuerySet[BusinessHours]) -> None:
        country = (request.POST.get("country") or "").strip()
        try:
            year = int(request.POST.get("year") or timezone.localdate().year)
        except ValueError:
            self.message_user(request, _("The year must be a number."), messages.ERROR)
            return
        if not country:
            self.message_user(request, _("Give a country code, e.g. CN."), messages.ERROR)
            return
        for calendar in queryset:
            try:
                added = business_hours_import_holidays(calendar=calendar, country=country, year=year)
            except ValidationError as error:
                self.message_user(request, f"{calendar}: {' '.join(error.messages)}", messages.ERROR)
                continue
            self.message_user(
                request,
                ngettext("%(calendar)s: %(count)d date added.", "%(calendar)s: %(count)d dates added.", added)
                % {"calendar": calendar, "count": added},
                messages.SUCCESS,
            )


@admin.register(SlaPolicy)
class SlaPolicyAdmin(RecomputeOnSaveMixin, admin.ModelAdmin):
    form = SlaPolicyForm
    recompute_kwarg = "policy_id"
    actions = ["recompute_open_timers"]
    list_display = ["name", "position", "is_active", "calendar"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active"]
    filter_horizontal = ["teams", "organizations", "escalate_notify"]
    fieldsets = [
        (None, {"fields": ["name", "position", "is_active", "calendar"]}),
        (_("Conditions (empty matches every ticket)"), {
            "fields": ["priorities", "channels", "ticket_types", "customer_tiers", "tags", "teams", "organizations"],
        }),
        (_("Targets"), {
            "fields": ["targets", "first_response_business_hours", "next_response_business_hours",
                       "resolution_business_hours"],
            "description": _('Minutes per priority and metric, e.g. {"urgent": {"first_response": 30, '
                             '"next_response": 60, "resolution": 240}}.'),
        }),
        (_("Clock"), {
            "fields": ["pause_statuses", "warning_percent", "warning_minutes_before", "resolution_on_reopen"],
        }),
        (_("Escalation on breach"), {
            "fields": ["escalate_priority", "escalate_add_tag", "escalate_to_team", "escalate_assign_to_lead",
                       "escalate_notify"],
            "description": _("Besides notifying the assignee (or the team), a missed target does this."),
        }),
        (_("Open tickets"), {"fields": ["recompute_open_timers"]}),
    ]
