"""The failed-mail inbox (and every other inbound message), the teams' email settings and the IMAP
mailboxes in the admin site.

Admins see what arrived, through which door, what became of it and why; they download the raw
message as it arrived (.eml), retry processing of failed mail after a fix, and release suspended
mail (loops, blocked senders, spam, floods: filtered by reason) to be processed as normal. Rows are
never edited or deleted here: the raw message is the record of what the sender sent.

Team email settings hold each team's blocked and allowed senders, spam threshold and new-ticket
acknowledgement (`channels_intake.email.screening`, `channels_intake.email.acknowledgements`).

Mail sent to the local SMTP sink (no EMAIL_HOST set) is listed here too: headers, bodies and
attachments of what the helpdesk sent.

IMAP mailboxes are configured here; their credentials are write-only (never shown back, blank
keeps the stored one) and each mailbox shows when it was last polled and its last error.
"""

from __future__ import annotations

from email import policy as email_policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import BinaryField, F, Func, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from channels_intake.email.classify import normalise_sender_entry
from channels_intake.models import (
    MailboxAccount,
    MailboxAuthMethod,
    OutboundCapture,
    RawInbound,
    RawInboundState,
    TeamEmailSettings,
)
from channels_intake.services import raw_inbound_release, raw_inbound_retry
from tickets.models import User
from tickets.sanitize import sanitize_html

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

HEADER_PREVIEW_BYTES = 16 * 1024
DOWNLOAD_CSP = "default-src 'none'; sandbox"


def _acting_user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


class _Substring(Func):
    function = "substring"
    output_field = BinaryField()


@admin.register(RawInbound)
class RawInboundAdmin(admin.ModelAdmin):
    change_form_template = "channels_intake/admin/rawinbound_change_form.html"
    list_display = (
        "id", "received_at", "door", "state", "suspension_reason", "from_address", "short_subject", "outcome",
        "ticket_link",
    )
    list_display_links = ("id", "received_at")
    list_filter = ("state", "suspension_reason", "door", "is_auto_submitted")
    search_fields = ("=header_message_id", "=external_id", "from_address", "envelope_sender", "subject")
    ordering = ("-received_at",)
    list_per_page = 50
    show_full_result_count = False
    actions = ["retry_selected", "release_selected"]
    fieldsets = (
        (None, {"fields": ("state", "error_text", "note", "ticket_link", "message", "duplicate_of")}),
        (_("Suspension"), {"fields": ("suspension_reason", "released_at", "released_by", "auto_reply")}),
        (_("Message"), {"fields": ("from_address", "subject", "cc", "is_auto_submitted", "header_message_id",
                                   "external_id")}),
        (_("Delivery"), {"fields": ("door", "received_at", "processed_at", "attempts", "envelope_sender",
                                    "envelope_recipients", "remote_addr", "size", "sha256")}),
        (_("Headers as received"), {"fields": ("header_preview",)}),
    )
    readonly_fields = (
        "state", "error_text", "note", "ticket_link", "message", "duplicate_of", "suspension_reason", "released_at",
        "released_by", "auto_reply", "from_address", "subject", "cc",
        "is_auto_submitted", "header_message_id", "external_id", "door", "received_at", "processed_at", "attempts",
        "envelope_sender", "envelope_recipients", "remote_addr", "size", "sha256", "header_preview",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[RawInbound]:
        # Never the raw bytes (up to 35 MB a row): the page shows the start of them, the download has all.
        return super().get_queryset(request).defer("raw").select_related("ticket")

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> RawInbound | None:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj.raw_head = (
                RawInbound.objects.filter(pk=obj.pk)
                .annotate(head=_Substring(F("raw"), 1, HEADER_PREVIEW_BYTES))
                .values_list("head", flat=True)
                .first()
            )
        return obj

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("subject"))
    def short_subject(self, obj: RawInbound) -> str:
        return Truncator(obj.subject).chars(60)

    @admin.display(description=_("outcome"))
    def outcome(self, obj: RawInbound) -> str:
        text = obj.error or obj.note
        return Truncator(text.splitlines()[0] if text else "").chars(90)

    @admin.display(description=_("ticket"))
    def ticket_link(self, obj: RawInbound) -> str:
        if obj.ticket is None:
            return "–"
        try:
            url = reverse("agent:ticket", args=[obj.ticket.number])
        except NoReverseMatch:
            return f"#{obj.ticket.number}"
        return format_html('<a href="{}">#{}</a>', url, obj.ticket.number)

    @admin.display(description=_("error"))
    def error_text(self, obj: RawInbound) -> str:
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', obj.error) if obj.error else "–"

    @admin.display(description=_("headers"))
    def header_preview(self, obj: RawInbound) -> str:
        head = bytes(getattr(obj, "raw_head", b"") or b"")
        for separator in (b"\r\n\r\n", b"\n\n"):
            if separator in head:
                head = head.split(separator, 1)[0]
                break
        return format_html(
            '<pre style="white-space: pre-wrap; margin: 0">{}</pre>', head.decode("utf-8", "backslashreplace")
        )

    @admin.action(description=_("Retry processing of the selected messages"))
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[RawInbound]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        queued = sum(raw_inbound_retry(raw_inbound_id=pk) for pk in selected)
        skipped = len(selected) - queued
        if queued:
            self.message_user(
                request,
                ngettext("%(count)d message queued for processing.", "%(count)d messages queued for processing.",
                         queued) % {"count": queued},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext("%(count)d message was not failed and was left as it is.",
                         "%(count)d messages were not failed and were left as they are.", skipped)
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Release the selected suspended messages"))
    def release_selected(self, request: HttpRequest, queryset: QuerySet[RawInbound]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        released = sum(raw_inbound_release(raw_inbound_id=pk, actor=_acting_user(request)) for pk in selected)
        skipped = len(selected) - released
        if released:
            self.message_user(
                request,
                ngettext("%(count)d message released and queued for processing.",
                         "%(count)d messages released and queued for processing.", released)
                % {"count": released},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext("%(count)d message was not suspended and was left as it is.",
                         "%(count)d messages were not suspended and were left as they are.", skipped)
                % {"count": skipped},
                messages.WARNING,
            )

    # --- per-message pages: download, retry and release -------------------------------------------

    def get_urls(self) -> list[Any]:
        own = [
            path("<int:object_id>/download/", self.admin_site.admin_view(self.download_view),
                 name="channels_intake_rawinbound_download"),
            path("<int:object_id>/retry/", self.admin_site.admin_view(self.retry_view),
                 name="channels_intake_rawinbound_retry"),
            path("<int:object_id>/release/", self.admin_site.admin_view(self.release_view),
                 name="channels_intake_rawinbound_release"),
        ]
        return own + super().get_urls()

    def download_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        row = get_object_or_404(RawInbound.objects.only("pk", "raw"), pk=object_id)
        # A download, never rendered: a mail is attacker-written HTML and scripts.
        response = HttpResponse(bytes(row.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="inbound-{row.pk}.eml"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = DOWNLOAD_CSP
        response["Cache-Control"] = "private, no-store"
        return response

    def retry_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        row = get_object_or_404(RawInbound.objects.only("pk", "state"), pk=object_id)
        if raw_inbound_retry(raw_inbound_id=row.pk):
            self.message_user(request, _("Queued for processing again."), messages.SUCCESS)
        else:
            self.message_user(request, _("Only failed messages can be retried."), messages.WARNING)
        return HttpResponseRedirect(reverse("admin:channels_intake_rawinbound_change", args=[row.pk]))

    def release_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        row = get_object_or_404(RawInbound.objects.only("pk", "state"), pk=object_id)
        if raw_inbound_release(raw_inbound_id=row.pk, actor=_acting_user(request)):
            self.message_user(request, _("Released: it is processed as normal mail."), messages.SUCCESS)
        else:
            self.message_user(request, _("Only suspended messages can be released."), messages.WARNING)
        return HttpResponseRedirect(reverse("admin:channels_intake_rawinbound_change", args=[row.pk]))

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        obj = context.get("original")
        context["can_retry"] = obj is not None and obj.state in (RawInboundState.FAILED, RawInboundState.RECEIVED)
        context["can_release"] = obj is not None and obj.state == RawInboundState.SUSPENDED
        return super().render_change_form(request, context, *args, **kwargs)


# --- team email settings --------------------------------------------------------------------------


class SenderListField(forms.Field):
    """A list of sender addresses and domains, one a line (stored as an array, lower-cased)."""

    widget = forms.Textarea(attrs={"rows": 5, "cols": 60, "spellcheck": "false"})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:
        entries: list[str] = []
        invalid: list[str] = []
        for line in str(value or "").splitlines():
            for item in line.replace(",", " ").replace(";", " ").split():
                try:
                    entry = normalise_sender_entry(item)
                except ValueError:
                    invalid.append(item)
                    continue
                if entry and entry not in entries:
                    entries.append(entry)
        if invalid:
            raise forms.ValidationError(
                _("Not an address or a domain: %(entries)s"), code="invalid", params={"entries": ", ".join(invalid)}
            )
        return entries


class TeamEmailSettingsForm(forms.ModelForm):
    blocked_senders = SenderListField(
        label=_("blocked senders"), required=False,
        help_text=_("One address (ann@example.com) or domain (example.com, also its subdomains) a line. Their mail "
                    "is suspended: kept for admins, no ticket, no reply."),
    )
    allowed_senders = SenderListField(
        label=_("allowed senders"), required=False,
        help_text=_("One address or domain a line. Their mail skips the spam threshold and the sender rate limit, "
                    "and wins over a blocked entry (never over the mail loop check)."),
    )

    class Meta:
        model = TeamEmailSettings
        fields = (
            "team", "blocked_senders", "allowed_senders", "spam_score_threshold", "acknowledgement_enabled",
            "acknowledgement_subject", "acknowledgement_text",
        )


@admin.register(TeamEmailSettings)
class TeamEmailSettingsAdmin(admin.ModelAdmin):
    form = TeamEmailSettingsForm
    list_display = ("team", "acknowledgement_enabled", "spam_score_threshold", "blocked_count", "allowed_count",
                    "updated_at")
    list_select_related = ("team",)
    search_fields = ("team__name", "blocked_senders", "allowed_senders")
    ordering = ("team__name",)
    fieldsets = (
        (None, {"fields": ("team",)}),
        (_("Senders"), {"fields": ("blocked_senders", "allowed_senders", "spam_score_threshold")}),
        (_("New-ticket acknowledgement"), {
            "fields": ("acknowledgement_enabled", "acknowledgement_subject", "acknowledgement_text"),
        }),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("team",) if obj is not None else ()

    @admin.display(description=_("blocked"))
    def blocked_count(self, obj: TeamEmailSettings) -> int:
        return len(obj.blocked_senders)

    @admin.display(description=_("allowed"))
    def allowed_count(self, obj: TeamEmailSettings) -> int:
        return len(obj.allowed_senders)


# --- IMAP mailboxes -------------------------------------------------------------------------------

_SECRET_FIELDS = ("password", "oauth_client_secret", "oauth_refresh_token")


def _secret_field(label: StrOrPromise) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        # Never rendered back into the page, not even masked.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted and never shown. Leave blank to keep the stored one."),
    )


class MailboxAccountForm(forms.ModelForm):
    password = _secret_field(_("password"))
    oauth_client_secret = _secret_field(_("OAuth client secret"))
    oauth_refresh_token = _secret_field(_("OAuth refresh token"))
    oauth_token_url = forms.URLField(
        label=_("OAuth token URL"), required=False, max_length=500, assume_scheme="https",
        help_text=_("Blank: the provider's usual one."),
    )

    class Meta:
        model = MailboxAccount
        fields = (
            "team", "name", "is_enabled", "host", "port", "security", "username", "auth_method", "folder",
            "fetch_since", "after_fetch", "move_to_folder", "oauth_provider", "oauth_token_url", "oauth_scope",
            "oauth_client_id",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            # A mailbox connected now takes the mail arriving from now on, unless the admin says otherwise.
            self.initial.setdefault("fetch_since", timezone.now())

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        instance = self.instance
        method = cleaned.get("auth_method")
        if method == MailboxAuthMethod.PASSWORD and not cleaned.get("password") and not instance.password_sealed:
            self.add_error("password", _("Enter the mailbox's password."))
        if (method == MailboxAuthMethod.OAUTH2 and not cleaned.get("oauth_refresh_token")
                and not instance.oauth_refresh_token_sealed):
            self.add_error("oauth_refresh_token", _("Enter the refresh token the provider issued for this mailbox."))
        return cleaned

    def save(self, commit: bool = True) -> MailboxAccount:
        instance = super().save(commit=False)
        # Only what the admin changed is written: the poller updates its position, its status and
        # renewed (possibly rotated) OAuth tokens on the same row meanwhile.
        concrete = {model_field.name for model_field in MailboxAccount._meta.concrete_fields}
        columns = concrete & set(self._meta.fields or ())
        for name in _SECRET_FIELDS:
            if value := self.cleaned_data.get(name):
                setattr(instance, name, value)
                columns.add(f"{name}_sealed")
        if self.cleaned_data.get("oauth_refresh_token") or self.cleaned_data.get("oauth_client_secret"):
            # An access token from the old grant must not outlive it.
            instance.oauth_access_token = ""
            instance.oauth_access_token_expires_at = None
            columns |= {"oauth_access_token_sealed", "oauth_access_token_expires_at"}
        if instance.pk is not None and {"host", "port", "username", "folder"} & set(self.changed_data):
            # Another folder may happen to have the same UIDVALIDITY: start over from its first UID
            # (messages stored before are recognised and not stored twice).
            instance.last_uidvalidity, instance.last_uid = None, 0
            columns |= {"last_uidvalidity", "last_uid"}
        self._columns_to_save = columns
        if commit:
            self.save_instance(instance)
        return instance

    def save_instance(self, instance: MailboxAccount) -> None:
        if instance._state.adding:
            instance.save()
        else:
            instance.save(update_fields=sorted(self._columns_to_save))


@admin.register(MailboxAccount)
class MailboxAccountAdmin(admin.ModelAdmin):
    form = MailboxAccountForm
    list_display = ("name", "team", "account", "is_enabled", "status", "last_success_at", "last_error_at")
    list_filter = ("is_enabled", "team", "auth_method")
    search_fields = ("name", "host", "username")
    list_select_related = ("team",)
    actions = ["fetch_now"]
    fieldsets = (
        (None, {"fields": ("team", "name", "is_enabled")}),
        (_("Server"), {"fields": ("host", "port", "security", "username", "auth_method", "password")}),
        (_("Folder"), {"fields": ("folder", "fetch_since", "after_fetch", "move_to_folder")}),
        (_("OAuth 2.0 (Microsoft 365, Gmail)"), {
            "fields": ("oauth_provider", "oauth_token_url", "oauth_scope", "oauth_client_id", "oauth_client_secret",
                       "oauth_refresh_token", "oauth_state"),
        }),
        (_("Polling"), {"fields": ("status", "error_text", "last_polled_at", "last_success_at", "last_error_at",
                                   "last_uidvalidity", "last_uid")}),
    )
    readonly_fields = ("status", "error_text", "last_polled_at", "last_success_at", "last_error_at",
                       "last_uidvalidity", "last_uid", "oauth_state")

    def save_model(self, request: HttpRequest, obj: MailboxAccount, form: forms.ModelForm, change: bool) -> None:
        form.save_instance(obj)  # type: ignore[attr-defined]

    @admin.display(description=_("account"))
    def account(self, obj: MailboxAccount) -> str:
        return f"{obj.username} @ {obj.host}:{obj.port} / {obj.folder}"

    @admin.display(description=_("status"))
    def status(self, obj: MailboxAccount) -> str:
        if obj.last_polled_at is None:
            return str(_("Not polled yet"))
        failing = obj.last_success_at is None or (obj.last_error_at and obj.last_error_at >= obj.last_success_at)
        if obj.last_error and failing:
            return str(_("Error: %(error)s") % {"error": Truncator(obj.last_error.splitlines()[0]).chars(120)})
        return str(_("OK"))

    @admin.display(description=_("last error"))
    def error_text(self, obj: MailboxAccount) -> str:
        if not obj.last_error:
            return "–"
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', obj.last_error)

    @admin.display(description=_("OAuth tokens"))
    def oauth_state(self, obj: MailboxAccount) -> str:
        if not obj.oauth_refresh_token_sealed:
            return str(_("No refresh token stored."))
        if obj.oauth_access_token_expires_at is None:
            return str(_("Refresh token stored; no access token yet (one is fetched at the next poll)."))
        return str(_("Refresh token stored; access token valid until %(time)s.")
                   % {"time": obj.oauth_access_token_expires_at.isoformat(timespec="seconds")})

    @admin.action(description=_("Fetch mail now"))
    def fetch_now(self, request: HttpRequest, queryset: QuerySet[MailboxAccount]) -> None:
        from channels_intake.tasks import poll_mailbox

        selected = list(queryset.values_list("pk", flat=True))
        for mailbox_id in selected:
            poll_mailbox.delay(mailbox_id, include_disabled=True)
        self.message_user(
            request,
            ngettext("%(count)d mailbox queued for polling.", "%(count)d mailboxes queued for polling.", len(selected))
            % {"count": len(selected)},
            messages.SUCCESS,
        )


# --- sent mail kept by the local SMTP sink (embedded default) -------------------------------------


def _parsed(raw: bytes) -> EmailMessage:
    return BytesParser(policy=email_policy.default).parsebytes(raw)  # type: ignore[return-value]


def _mail_of(obj: OutboundCapture) -> EmailMessage:
    """The kept mail, parsed once per page (the list never loads the raw bytes)."""
    mail = obj.__dict__.get("_parsed_mail")
    if mail is None:
        mail = _parsed(bytes(OutboundCapture.objects.values_list("raw", flat=True).get(pk=obj.pk)))
        obj.__dict__["_parsed_mail"] = mail
    return mail


def _payload(part: MIMEPart) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _attachment_parts(mail: EmailMessage) -> list[EmailMessage]:
    """The message's attachments (named or marked as such), in order; never its text or HTML body."""
    return [
        part for part in mail.walk()
        if not part.is_multipart() and (part.get_filename() or part.get_content_disposition() == "attachment")
    ]


def _body(mail: EmailMessage, subtype: str) -> str:
    part = mail.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):
        return _payload(part).decode("utf-8", "replace")


@admin.register(OutboundCapture)
class OutboundCaptureAdmin(admin.ModelAdmin):
    """What the helpdesk sent while no EMAIL_HOST was set: every mail as the sink received it."""

    change_form_template = "channels_intake/admin/outboundcapture_change_form.html"
    list_display = ("id", "received_at", "short_subject", "to_header", "from_header", "size")
    list_display_links = ("id", "received_at", "short_subject")
    search_fields = ("subject", "to_header", "from_header", "=message_id", "envelope_recipients")
    ordering = ("-received_at",)
    list_per_page = 50
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("received_at", "subject", "from_header", "to_header", "message_id")}),
        (_("Delivery"), {"fields": ("envelope_sender", "envelope_recipients", "size")}),
        (_("Headers"), {"fields": ("headers",)}),
        (_("Text"), {"fields": ("text_body",)}),
        (_("HTML"), {"fields": ("html_body",)}),
        (_("Attachments"), {"fields": ("attachment_links",)}),
    )
    readonly_fields = (
        "received_at", "subject", "from_header", "to_header", "message_id", "envelope_sender",
        "envelope_recipients", "size", "headers", "text_body", "html_body", "attachment_links",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutboundCapture]:
        return super().get_queryset(request).defer("raw")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("subject"))
    def short_subject(self, obj: OutboundCapture) -> str:
        return Truncator(obj.subject).chars(80)

    @admin.display(description=_("headers"))
    def headers(self, obj: OutboundCapture) -> str:
        lines = "\n".join(f"{name}: {value}" for name, value in _mail_of(obj).items())
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', lines)

    @admin.display(description=_("text"))
    def text_body(self, obj: OutboundCapture) -> str:
        text = _body(_mail_of(obj), "plain")
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text) if text else "–"

    @admin.display(description=_("HTML"))
    def html_body(self, obj: OutboundCapture) -> str:
        html = _body(_mail_of(obj), "html")
        if not html:
            return "–"
        # Shown in a sandboxed frame (no scripts, no same origin), sanitised first all the same.
        return format_html(
            '<iframe sandbox title="{}" srcdoc="{}" style="width: 100%; min-height: 24em; border: 1px solid #ccc">'
            "</iframe>",
            _("HTML body"), sanitize_html(html),
        )

    @admin.display(description=_("attachments"))
    def attachment_links(self, obj: OutboundCapture) -> str:
        parts = _attachment_parts(_mail_of(obj))
        if not parts:
            return "–"
        return format_html_join(
            mark_safe("<br>"), '<a href="{}">{}</a> ({}, {} bytes)',
            (
                (
                    reverse("admin:channels_intake_outboundcapture_attachment", args=[obj.pk, index]),
                    part.get_filename() or _("attachment %(number)s") % {"number": index + 1},
                    part.get_content_type(),
                    len(_payload(part)),
                )
                for index, part in enumerate(parts)
            ),
        )

    def get_urls(self) -> list[Any]:
        own = [
            path("<int:object_id>/download/", self.admin_site.admin_view(self.download_view),
                 name="channels_intake_outboundcapture_download"),
            path("<int:object_id>/attachment/<int:index>/", self.admin_site.admin_view(self.attachment_view),
                 name="channels_intake_outboundcapture_attachment"),
        ]
        return own + super().get_urls()

    def _raw(self, request: HttpRequest, object_id: int) -> bytes:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return bytes(get_object_or_404(OutboundCapture.objects.only("pk", "raw"), pk=object_id).raw)

    @staticmethod
    def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
        # A download, never rendered in the admin's origin.
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = content_disposition_header(True, filename)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = DOWNLOAD_CSP
        response["Cache-Control"] = "private, no-store"
        return response

    def download_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        return self._download(self._raw(request, object_id), "message/rfc822", f"sent-{object_id}.eml")

    def attachment_view(self, request: HttpRequest, object_id: int, index: int) -> HttpResponse:
        parts = _attachment_parts(_parsed(self._raw(request, object_id)))
        if index >= len(parts):
            raise Http404
        part = parts[index]
        filename = " ".join((part.get_filename() or f"attachment-{index + 1}").split())
        return self._download(_payload(part), "application/octet-stream", filename)


# Live chat's and the phone channel's admin pages live with their code.
import channels_intake.chat.admin  # noqa: E402, F401
import channels_intake.phone.admin  # noqa: E402, F401
import channels_intake.phone.admin_cdr  # noqa: E402, F401
