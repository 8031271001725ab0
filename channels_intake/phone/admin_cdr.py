"""Admin: call-detail-record imports. "Add" is an upload form (file, format, PBX time zone, header,
column mapping, team) that stores the file and queues the import task; the import's page shows a
progress bar that polls a small JSON status view until the import is done, then its bad rows.

The pages are admin pages (helpdesk administrators only, like the rest of the admin site); imports
are never edited here: a stored file and its report are a record of what was imported.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from channels_intake.phone.cdr import MAPPING_FIELDS, REQUIRED_MAPPING_FIELDS, CdrFormatError, pbx_timezone
from channels_intake.phone.cdr_import import cdr_import_create, cdr_import_queue
from channels_intake.phone.models import CdrFormat, CdrImport, CdrImportState
from tickets.models import Team, User

# The status view lists at most this many bad rows (the row keeps up to a thousand).
STATUS_MAX_ERRORS = 200
HEADER_CHOICES = (("", _("Detect")), ("yes", _("Yes")), ("no", _("No")))


class CdrUploadForm(forms.Form):
    file = forms.FileField(label=_("CDR file (CSV)"))
    format = forms.ChoiceField(label=_("Format"), choices=CdrFormat.choices, initial=CdrFormat.ASTERISK)
    timezone = forms.CharField(
        label=_("PBX time zone"), required=False, max_length=64,
        help_text=_("The time zone the PBX writes its times in, e.g. Asia/Shanghai. Empty: the server's setting."),
    )
    has_header = forms.ChoiceField(label=_("First row is a header"), choices=HEADER_CHOICES, required=False)
    column_mapping = forms.CharField(
        label=_("Column mapping (CSV format)"), required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_('JSON: our field → the file\'s column name (or number, from 0), e.g. {"call_id": "Call ID", '
                    '"from": "Caller", "to": "Callee", "start": "Start time"}. Fields: %(fields)s.')
        % {"fields": ", ".join(MAPPING_FIELDS)},
    )
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.order_by("name"), required=False,
        help_text=_("The team that gets the tickets. Empty: the agent's team, else the phone team."),
    )

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        if name:
            try:
                pbx_timezone(name)
            except CdrFormatError as error:
                raise forms.ValidationError(str(error)) from None
        return name

    def clean_column_mapping(self) -> dict[str, Any]:
        text = self.cleaned_data["column_mapping"].strip()
        if not text:
            return {}
        try:
            mapping = json.loads(text)
        except ValueError:
            raise forms.ValidationError(_("Enter the mapping as a JSON object.")) from None
        if not isinstance(mapping, dict):
            raise forms.ValidationError(_("Enter the mapping as a JSON object."))
        unknown = sorted(set(mapping) - set(MAPPING_FIELDS))
        if unknown:
            raise forms.ValidationError(
                _("Unknown field “%(field)s” in the column mapping (known: %(known)s).")
                % {"field": unknown[0], "known": ", ".join(MAPPING_FIELDS)}
            )
        return mapping

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        mapping = cleaned.get("column_mapping") or {}
        if cleaned.get("format") == CdrFormat.CSV and mapping:
            missing = [name for name in REQUIRED_MAPPING_FIELDS if name not in mapping]
            if missing:
                self.add_error("column_mapping", _("The column mapping needs %(fields)s.")
                               % {"fields": ", ".join(missing)})
        return cleaned


def cdr_import_status(cdr_import: CdrImport) -> dict[str, Any]:
    """What the progress page shows (and polls): counts, percent, whether it is over, bad rows."""
    errors = list(cdr_import.errors or [])
    total = cdr_import.total_rows
    is_finished = cdr_import.state in (CdrImportState.DONE, CdrImportState.FAILED)
    percent = 100 if cdr_import.state == CdrImportState.DONE else (
        min(99, int(100 * cdr_import.processed_rows / total)) if total else 0
    )
    return {
        "id": cdr_import.pk,
        "state": cdr_import.state,
        "state_label": str(cdr_import.get_state_display()),
        "is_finished": is_finished,
        "percent": percent,
        "total_rows": total,
        "processed_rows": cdr_import.processed_rows,
        "imported_rows": cdr_import.imported_rows,
        "duplicate_rows": cdr_import.duplicate_rows,
        "error_count": len(errors),
        "errors": errors[:STATUS_MAX_ERRORS],
    }


@admin.register(CdrImport)
class CdrImportAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "format", "state", "progress", "imported_rows", "duplicate_rows",
                    "error_count", "created_by")
    list_filter = ("state", "format")
    ordering = ("-created_at",)
    list_per_page = 50
    readonly_fields = ("file", "format", "column_mapping", "timezone", "has_header", "state", "total_rows",
                       "processed_rows", "imported_rows", "duplicate_rows", "errors", "created_by", "created_at",
                       "finished_at")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("created_by")

    @admin.display(description=_("progress"))
    def progress(self, obj: CdrImport) -> str:
        return f"{obj.processed_rows} / {obj.total_rows}"

    @admin.display(description=_("bad rows"))
    def error_count(self, obj: CdrImport) -> int:
        return len(obj.errors or [])

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        own = [
            path("<int:object_id>/progress/", self.admin_site.admin_view(self.progress_view),
                 name="channels_intake_cdrimport_progress"),
            path("<int:object_id>/status/", self.admin_site.admin_view(self.status_view),
                 name="channels_intake_cdrimport_status"),
        ]
        return own + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = CdrUploadForm(request.POST, request.FILES)
            if form.is_valid():
                data = form.cleaned_data
                actor = request.user if isinstance(request.user, User) else None
                has_header = {"yes": True, "no": False}.get(data["has_header"] or "")
                cdr_import = cdr_import_create(
                    upload=data["file"], format=data["format"], actor=actor, timezone_name=data["timezone"],
                    column_mapping=data["column_mapping"], has_header=has_header,
                )
                cdr_import_queue(cdr_import=cdr_import, team=data["team"])
                return HttpResponseRedirect(reverse("admin:channels_intake_cdrimport_progress", args=[cdr_import.pk]))
        else:
            form = CdrUploadForm(initial={"timezone": getattr(settings, "HELPDESK_PHONE_PBX_TIMEZONE", "")})
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
            "title": _("Import call records"),
        }
        return TemplateResponse(request, "channels_intake/phone/cdr_upload.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> Any:
        # An import's page is its progress and report.
        return HttpResponseRedirect(reverse("admin:channels_intake_cdrimport_progress", args=[object_id]))

    def progress_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        cdr_import = get_object_or_404(CdrImport, pk=object_id)
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "cdr_import": cdr_import,
            "status": cdr_import_status(cdr_import), "title": _("Call record import #%(id)s") % {"id": cdr_import.pk},
            "status_url": reverse("admin:channels_intake_cdrimport_status", args=[cdr_import.pk]),
        }
        return TemplateResponse(request, "channels_intake/phone/cdr_progress.html", context)

    def status_view(self, request: HttpRequest, object_id: int) -> JsonResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        cdr_import = get_object_or_404(CdrImport, pk=object_id)
        response = JsonResponse(cdr_import_status(cdr_import))
        response["Cache-Control"] = "private, no-store"
        return response
