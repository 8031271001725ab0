"""Forms of the sign-in pages and the customer portal. They parse input; services decide."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.forms.utils import flatatt
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tickets.models import CustomFieldDefinition, Role, Status, Team, User
from tickets.services.accounts import password_reset_email_send, time_zone_names
from tickets.services.attachments import max_upload_bytes, safe_filename

MAX_FILES_PER_MESSAGE = 10
CUSTOM_FIELD_PREFIX = "cf_"


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Email or username"), max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("Password"), strip=False, max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SignupForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(label=_("Email address"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        label=_("Password"), strip=False, max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html,
    )
    password_confirm = forms.CharField(
        label=_("Repeat the password"), strip=False, max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        password, confirm = cleaned.get("password"), cleaned.get("password_confirm")
        if password and confirm and password != confirm:
            self.add_error("password_confirm", _("The passwords do not match."))
        elif password:
            candidate = User(username=cleaned.get("email", ""), email=cleaned.get("email", ""),
                             display_name=cleaned.get("name", ""), role=Role.CUSTOMER)
            try:
                password_validation.validate_password(password, user=candidate)
            except ValidationError as error:
                self.add_error("password", error)
        return cleaned


class LongSelect(forms.Select):
    """A select rendered in Python: hundreds of options through the widget templates take ~100 ms."""

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        current = "" if value is None else str(value)
        options = format_html_join(
            "", "<option value=\"{}\"{}>{}</option>",
            ((key, mark_safe(" selected") if str(key) == current else "", label) for key, label in self.choices),
        )
        return format_html("<select name=\"{}\"{}>{}</select>", name, flatatt(self.build_attrs(self.attrs, attrs)), options)


class PreferencesForm(forms.Form):
    display_name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)
    timezone = forms.ChoiceField(label=_("Time zone"), required=False, widget=LongSelect)

    def __init__(self, *args: Any, with_notifications: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("Use my browser's language")), *settings.LANGUAGES]
        self.fields["timezone"].choices = [("", _("Use the browser's time zone")),
                                           *((name, name) for name in time_zone_names())]
        if with_notifications:
            # Staff only: customers get no agent notifications.
            self.fields["notify_on_assignment"] = forms.BooleanField(
                label=_("Email me when a ticket is assigned to me"), required=False)
            self.fields["notify_on_customer_reply"] = forms.BooleanField(
                label=_("Email me when a customer replies on my tickets (or on my teams' unassigned tickets)"),
                required=False)
            self.fields["notify_on_sla"] = forms.BooleanField(
                label=_("Email me SLA warnings and breaches of the tickets I am responsible for"), required=False)


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset form, but the mail is queued for a task instead of sent inside the request."""

    def send_mail(self, subject_template_name: str, email_template_name: str, context: dict[str, Any],
                  from_email: str | None, to_email: str, html_email_template_name: str | None = None) -> None:
        # The task signs its own link (no token in the broker) and renders the same templates.
        password_reset_email_send(user=context["user"], language=translation.get_language() or "")


# --- files ------------------------------------------------------------------------------------------


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files (up to MAX_FILES_PER_MESSAGE), each within HELPDESK_MAX_UPLOAD_BYTES."""

    max_files = MAX_FILES_PER_MESSAGE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        uploads = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if len(uploads) > MAX_FILES_PER_MESSAGE:
            raise ValidationError(
                ngettext("Attach at most %(count)d file.", "Attach at most %(count)d files.", MAX_FILES_PER_MESSAGE)
                % {"count": MAX_FILES_PER_MESSAGE},
                code="too_many_files",
            )
        files = [super(MultipleFileField, self).clean(upload, initial) for upload in uploads]
        limit = max_upload_bytes()
        errors = [
            ValidationError(
                _("%(name)s is too large (%(size)s); each file may be at most %(limit)s.")
                % {"name": safe_filename(upload.name), "size": filesizeformat(upload.size),
                   "limit": filesizeformat(limit)},
                code="file_too_large",
            )
            for upload in files
            if upload.size > limit
        ]
        if errors:
            raise ValidationError(errors)
        return files


# --- requests ---------------------------------------------------------------------------------------


def _custom_form_field(definition: CustomFieldDefinition) -> forms.Field:
    kind = CustomFieldDefinition.FieldType
    common: dict[str, Any] = {"label": definition.label, "required": definition.is_required}
    if definition.field_type == kind.NUMBER:
        return forms.IntegerField(**common)
    if definition.field_type == kind.DECIMAL:
        return forms.DecimalField(**common)
    if definition.field_type == kind.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if definition.field_type == kind.CHECKBOX:
        return forms.BooleanField(label=definition.label, required=definition.is_required)
    if definition.field_type == kind.SELECT:
        choices = [(choice, choice) for choice in definition.choices]
        if not definition.is_required:
            choices = [("", "—"), *choices]
        return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(max_length=2000, **common)


class NewRequestForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=255)
    description = forms.CharField(
        label=_("How can we help?"), max_length=50_000, widget=forms.Textarea(attrs={"rows": 8}),
    )
    team = forms.ModelChoiceField(
        label=_("Category"), queryset=Team.objects.none(), required=False, empty_label=_("Not sure"),
    )
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args: Any, custom_fields: list[CustomFieldDefinition] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = list(Team.objects.filter(is_customer_selectable=True).order_by("name"))
        if teams:
            self.fields["team"].queryset = Team.objects.filter(pk__in=[team.pk for team in teams]).order_by("name")
        else:
            del self.fields["team"]
        self.custom_field_definitions = list(custom_fields)
        for definition in self.custom_field_definitions:
            self.fields[CUSTOM_FIELD_PREFIX + definition.key] = _custom_form_field(definition)

    @property
    def custom_field_names(self) -> list[str]:
        return [CUSTOM_FIELD_PREFIX + d.key for d in self.custom_field_definitions]

    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.custom_field_names]

    def custom_field_values(self) -> dict[str, Any]:
        """Cleaned custom fields in the JSON form the service validates."""
        values: dict[str, Any] = {}
        for definition in self.custom_field_definitions:
            value = self.cleaned_data.get(CUSTOM_FIELD_PREFIX + definition.key)
            if value in (None, "") and definition.field_type != CustomFieldDefinition.FieldType.CHECKBOX:
                continue
            if isinstance(value, datetime.date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value)
            values[definition.key] = value
        return values

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the matching fields (custom fields by key)."""
        if hasattr(error, "error_dict"):
            for key, messages in error.message_dict.items():
                field = CUSTOM_FIELD_PREFIX + key if CUSTOM_FIELD_PREFIX + key in self.fields else key
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        else:
            for message in error.messages:
                self.add_error(None, message)


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your reply"), max_length=50_000, required=False, widget=forms.Textarea(attrs={"rows": 5}),
    )
    attachments = MultipleFileField(label=_("Attachments"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not (cleaned.get("body") or "").strip() and not cleaned.get("attachments") and not self.errors:
            raise ValidationError(_("Write a message or attach a file."), code="empty")
        return cleaned


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(Status.SOLVED, Status.SOLVED.label), (Status.OPEN, Status.OPEN.label)])
