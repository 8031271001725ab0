"""Phone calls: each call as the telephony reported it, each webhook event (for idempotency), the
agents' extensions, and the imports of PBX call-detail records.

A call's conversation lives on a ticket like every other channel's: `Call.message` is the call
entry in the ticket's thread (channel `phone`). These rows hold what a message does not: the
numbers, the timing, the recording and what the agent noted about it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tickets.models import Customer, Message, Team, Ticket, User


class CallProvider(models.TextChoices):
    GENERIC = "generic", _("Webhook (generic JSON)")
    TWILIO = "twilio", _("Twilio")
    ASTERISK = "asterisk", _("Asterisk CDR")
    CSV = "csv", _("CSV import")
    MANUAL = "manual", _("Logged by an agent")


class CallDirection(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class CallState(models.TextChoices):
    RINGING = "ringing", _("Ringing")
    ANSWERED = "answered", _("Answered")
    ENDED = "ended", _("Ended")
    MISSED = "missed", _("Missed")
    VOICEMAIL = "voicemail", _("Voicemail")


# The events a webhook may report: the states, in the order a call goes through them.
CALL_EVENTS = tuple(CallState.values)
# States after which nothing more happens to the call (an out-of-order "ringing" changes nothing).
FINAL_CALL_STATES = frozenset({CallState.ENDED, CallState.MISSED, CallState.VOICEMAIL})


class CallDisposition(models.TextChoices):
    NONE = "", _("Not set")
    RESOLVED = "resolved", _("Resolved")
    FOLLOW_UP = "follow_up", _("Follow-up needed")
    CALLBACK = "callback", _("Call back")
    NO_ANSWER = "no_answer", _("No answer")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    VOICEMAIL_LEFT = "voicemail_left", _("Left a voicemail")


class Call(models.Model):
    provider = models.CharField(_("provider"), max_length=16, choices=CallProvider.choices)
    # The provider's own id (Twilio CallSid, Asterisk uniqueid…); agents' logged calls get a random one.
    call_id = models.CharField(_("call id"), max_length=128)
    direction = models.CharField(_("direction"), max_length=16, choices=CallDirection.choices)
    from_number = models.CharField(_("from (E.164)"), max_length=20, blank=True)
    to_number = models.CharField(_("to (E.164)"), max_length=20, blank=True)
    # As the provider sent them: an extension, "anonymous", a number we could not read.
    from_raw = models.CharField(_("from (as received)"), max_length=64, blank=True)
    to_raw = models.CharField(_("to (as received)"), max_length=64, blank=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls", verbose_name=_("customer")
    )
    agent = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls", verbose_name=_("agent")
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls", verbose_name=_("team")
    )
    state = models.CharField(_("state"), max_length=16, choices=CallState.choices, default=CallState.RINGING)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), null=True, blank=True)
    recording_url = models.URLField(_("recording"), max_length=1000, blank=True)
    transcript = models.TextField(_("transcript"), blank=True)
    disposition = models.CharField(
        _("disposition"), max_length=32, choices=CallDisposition.choices, blank=True, default=CallDisposition.NONE
    )
    notes = models.TextField(_("notes"), blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls", verbose_name=_("ticket")
    )
    # The call's entry in the ticket thread.
    message = models.OneToOneField(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="call", verbose_name=_("message")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        constraints = [models.UniqueConstraint(fields=["provider", "call_id"], name="call_provider_call_id_unique")]
        indexes = [
            models.Index(fields=["from_number"], name="call_from_number_idx"),
            models.Index(fields=["customer", "-started_at"], name="call_customer_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.from_number or self.from_raw} → {self.to_number or self.to_raw}"

    @property
    def customer_number(self) -> str:
        """The other party's number: the caller of an inbound call, the callee of an outbound one."""
        if self.direction == CallDirection.OUTBOUND:
            return self.to_number or self.to_raw
        return self.from_number or self.from_raw


class CallEvent(models.Model):
    """One webhook event as it arrived; the unique key makes a retried delivery a no-op."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events", verbose_name=_("call"))
    provider = models.CharField(_("provider"), max_length=16, choices=CallProvider.choices)
    # The provider's call id (`call_id` would clash with the foreign key's column).
    provider_call_id = models.CharField(_("call id"), max_length=128)
    event = models.CharField(_("event"), max_length=16, choices=CallState.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("call event")
        verbose_name_plural = _("call events")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_call_id", "event"], name="callevent_provider_call_event_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_call_id} {self.event}"


class AgentExtension(models.Model):
    """The PBX extension that rings an agent's phone: call events name agents by it."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="phone_extension", verbose_name=_("agent")
    )
    extension = models.CharField(_("extension"), max_length=32, unique=True)

    class Meta:
        verbose_name = _("agent extension")
        verbose_name_plural = _("agent extensions")
        ordering = ["extension"]

    def __str__(self) -> str:
        return f"{self.extension} ({self.user})"


class CdrFormat(models.TextChoices):
    ASTERISK = "asterisk", _("Asterisk Master.csv")
    CSV = "csv", _("CSV with a column mapping")


class CdrImportState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    # Own context: without one these took the SLA timer's "Running" and the mail's "Failed".
    RUNNING = "running", pgettext_lazy("call-record import state", "Running")
    DONE = "done", _("Done")
    FAILED = "failed", pgettext_lazy("call-record import state", "Failed")


def cdr_upload_to(instance: CdrImport, filename: str) -> str:
    import uuid

    from django.utils import timezone

    # A random name on disk: the uploaded name is not trusted as a path.
    return f"cdr/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.csv"


class CdrImport(models.Model):
    """One upload of call-detail records (channels_intake.phone.cdr_import) and how far it got."""

    file = models.FileField(_("file"), upload_to=cdr_upload_to, max_length=255)
    format = models.CharField(_("format"), max_length=16, choices=CdrFormat.choices, default=CdrFormat.ASTERISK)
    # Generic CSV: {"call_id": "Call ID", "start": "Start time", …} (our field → the file's column).
    column_mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    timezone = models.CharField(_("PBX time zone"), max_length=64, blank=True)
    # None: detected from the first row.
    has_header = models.BooleanField(_("has a header row"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=CdrImportState.choices, default=CdrImportState.QUEUED)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("processed rows"), default=0)
    imported_rows = models.PositiveIntegerField(_("imported rows"), default=0)
    duplicate_rows = models.PositiveIntegerField(_("duplicate rows"), default=0)
    # [{"line": 12, "reason": "…"}]
    errors = models.JSONField(_("errors"), default=list, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("uploaded by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("call-record import")
        verbose_name_plural = _("call-record imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_format_display()} #{self.pk}"
