"""What arrived from outside, stored before anything else happens to it.

Every door (SMTP listener, IMAP poller, HTTP relay endpoint) writes one `RawInbound` row and
commits it before it acknowledges the message; processing (parse, thread, ingest) runs later in a
Celery task and records its outcome on the same row. A message that cannot be processed stays
here as `failed`, with the reason, for an admin to download and retry: nothing is dropped.

`MailboxAccount` is a team's IMAP mailbox for the poller (credentials sealed at rest), and
`MailboxReceipt` its note of each message stored from there.
"""

from __future__ import annotations

import base64
import ipaddress
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tickets.models import Message, Team, Ticket

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


class Door(models.TextChoices):
    SMTP = "smtp", _("SMTP listener")
    IMAP = "imap", _("IMAP polling")
    HTTP = "http", _("HTTP endpoint")


class RawInboundState(models.TextChoices):
    RECEIVED = "received", _("Received, not processed yet")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", pgettext_lazy("inbound message state", "Failed")
    # Kept and visible to admins, but neither ticketed nor answered (mail loops, our own address...).
    SUSPENDED = "suspended", _("Suspended")
    DUPLICATE = "duplicate", _("Duplicate of an earlier delivery")


class SuspensionReason(models.TextChoices):
    """Why a mail was suspended (`channels_intake.email.screening`); an admin may release it."""

    LOOP = "loop", _("Mail loop (from one of our own addresses)")
    BLOCKED = "blocked", _("Blocked sender")
    SPAM = "spam", _("Spam (score at or over the team's threshold)")
    SENDER_RATE = "sender_rate", _("Too many mails from the sender")


class RawInbound(models.Model):
    """One delivery of one message through one door, with its raw bytes and what became of it.

    The raw message lives in the row (bytea), not in a file: the row's commit is then the single
    moment the message is durable, with no file written but never recorded (or recorded but never
    written), it is in every database backup, and the SMTP listener, the worker and the web
    process (admin download) need no shared disk. A message is at most HELPDESK_EMAIL_MAX_BYTES
    (35 MB by default), well within what PostgreSQL stores out of line (TOAST) without trouble.
    Lists never load it (`RawInbound.objects.defer("raw")` / `.only(...)`).
    """

    door = models.CharField(_("door"), max_length=8, choices=Door.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=RawInboundState.choices, default=RawInboundState.RECEIVED
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("processing attempts"), default=0)

    raw = models.BinaryField(_("raw message"))
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256 of the raw bytes"), max_length=64)
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)
    # The SMTP envelope (MAIL FROM / RCPT TO), or what a relay passed along; may differ from the headers.
    envelope_sender = models.CharField(_("envelope sender"), max_length=998, blank=True)
    envelope_recipients = ArrayField(
        models.CharField(max_length=998), default=list, blank=True, verbose_name=_("envelope recipients")
    )

    # Read from the headers when stored (header_message_id) or when processed (the rest).
    # Both in the form of `channels_intake.email.message_id_key` (an over-long id becomes its hash).
    header_message_id = models.CharField(_("Message-ID"), max_length=512, blank=True)
    external_id = models.CharField(_("idempotency key"), max_length=512, blank=True)
    from_address = models.CharField(pgettext_lazy("email header", "from"), max_length=998, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    # Tickets have no participants yet: CC'd addresses are kept here, [{"address": ..., "name": ...}].
    cc = models.JSONField(_("CC"), default=list, blank=True)
    # Mail no automatic reply may ever answer (RFC 3834: Auto-Submitted, bulk, bounces, mailer-daemon...).
    is_auto_submitted = models.BooleanField(_("automatic mail"), default=False)

    error = models.TextField(_("error"), blank=True)
    note = models.TextField(_("note"), blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="raw_inbounds",
        verbose_name=_("ticket"),
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="raw_inbounds",
        verbose_name=_("message"),
    )
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("duplicate of")
    )
    # Why the mail was (last) suspended; kept after a release, as the record of what happened.
    suspension_reason = models.CharField(
        _("suspension reason"), max_length=16, choices=SuspensionReason.choices, blank=True
    )
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("released by"),
    )
    # The automatic reply (acknowledgement) this mail caused, if any; counted per sender and hour.
    auto_reply = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("automatic reply"),
    )

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        indexes = [
            # The admin list (newest first, filtered by state) and the sweep of rows never processed.
            models.Index("state", models.F("received_at").desc(), name="rawinbound_state_received_idx"),
            models.Index(models.F("received_at").desc(), name="rawinbound_received_idx"),
            # Idempotency across doors and "is the parent of this reply still waiting?" look-ups.
            models.Index(
                "external_id", name="rawinbound_external_id_idx", condition=~models.Q(external_id="")
            ),
            models.Index(
                "header_message_id", name="rawinbound_message_id_idx", condition=~models.Q(header_message_id="")
            ),
            # Screening counts a sender's mails of the last minute, and the automatic replies sent to
            # them in the last hour (a small partial index: few mails are answered automatically).
            models.Index(
                Lower("from_address"), "received_at", name="rawinbound_sender_idx",
                condition=~models.Q(from_address=""),
            ),
            models.Index(
                Lower("from_address"), "processed_at", name="rawinbound_autoreply_idx",
                condition=models.Q(auto_reply__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_door_display()} {self.get_state_display()}"


# --- per-team email settings -------------------------------------------------------------------


class TeamEmailSettings(models.Model):
    """A team's rules for the mail it receives: whose mail is suspended or always let through, the
    spam score it will not take, and the acknowledgement new tickets get.

    Created on demand (admin: "Team email settings"); a team without a row has empty lists, no spam
    threshold and no acknowledgement. Sender entries are a full address (`ann@example.com`) or a
    domain (`example.com` or `@example.com`), which also covers its subdomains (`mail.example.com`):
    senders rotate subdomains far more often than a customer's domain has a subdomain that must be
    treated apart. Matching ignores case. An allowed entry wins over a blocked one, so a domain can
    be blocked except for one address.
    """

    team = models.OneToOneField(
        Team, on_delete=models.CASCADE, primary_key=True, related_name="email_settings", verbose_name=_("team")
    )
    blocked_senders = ArrayField(
        models.CharField(max_length=320), default=list, blank=True, verbose_name=_("blocked senders"),
        help_text=_("One address or domain a line. Their mail is suspended: kept for admins, no ticket, no reply."),
    )
    allowed_senders = ArrayField(
        models.CharField(max_length=320), default=list, blank=True, verbose_name=_("allowed senders"),
        help_text=_("One address or domain a line. Their mail skips the spam threshold and the sender rate limit "
                    "(and wins over a blocked entry)."),
    )
    spam_score_threshold = models.DecimalField(
        _("spam score threshold"), max_digits=6, decimal_places=2, null=True, blank=True,
        help_text=_("Mail whose spam score (X-Spam-Score, X-Spam-Status from the filter upstream) is at least "
                    "this, or that the filter flagged as spam, is suspended. Empty: no spam screening."),
    )
    acknowledgement_enabled = models.BooleanField(
        _("acknowledge new tickets"), default=False,
        help_text=_("Answer mail that opens a new ticket with an automatic acknowledgement (never automatic mail, "
                    "never more than the hourly limit per sender)."),
    )
    acknowledgement_subject = models.CharField(
        _("acknowledgement subject"), max_length=200, blank=True,
        help_text=_("Empty: the default, in the customer's language. The ticket tag is always put in front. "
                    "Placeholders: {ticket_number}, {subject}, {customer_name}, {team_name}."),
    )
    acknowledgement_text = models.TextField(
        _("acknowledgement text"), blank=True,
        help_text=_("Empty: the default text, in the customer's language. "
                    "Placeholders: {ticket_number}, {subject}, {customer_name}, {team_name}."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("team email settings")
        verbose_name_plural = _("team email settings")

    def __str__(self) -> str:
        return str(self.team)

    def clean(self) -> None:
        from channels_intake.email.acknowledgements import PLACEHOLDERS, unknown_placeholders
        from channels_intake.email.classify import normalise_sender_entry

        errors: dict[str, object] = {}
        for name in ("blocked_senders", "allowed_senders"):
            entries, invalid = [], []
            for value in getattr(self, name):
                try:
                    entry = normalise_sender_entry(value)
                except ValueError:
                    invalid.append(value)
                    continue
                if entry and entry not in entries:
                    entries.append(entry)
            setattr(self, name, entries)
            if invalid:
                errors[name] = _("Not an address or a domain: %(entries)s") % {"entries": ", ".join(invalid)}
        for name in ("acknowledgement_subject", "acknowledgement_text"):
            unknown = unknown_placeholders(getattr(self, name))
            if unknown:
                errors[name] = _("Unknown placeholder %(unknown)s; use %(known)s.") % {
                    "unknown": ", ".join("{" + item + "}" for item in unknown),
                    "known": ", ".join("{" + item + "}" for item in PLACEHOLDERS),
                }
        if errors:
            raise ValidationError(errors)


# --- IMAP mailboxes ---------------------------------------------------------------------------
#
# Credentials are stored sealed (Fernet: AES-128-CBC + HMAC-SHA256) and only ever unsealed by
# the poller. The key is derived from HELPDESK_FIELD_ENCRYPTION_KEY (several, comma-separated:
# the first seals, every one unseals, for rotation) or, when that is empty, from SECRET_KEY and
# SECRET_KEY_FALLBACKS, so a fresh install needs no extra secret.


class SecretUnavailable(Exception):
    """A sealed value that none of the configured keys opens (the key was changed or lost)."""


def _fernet_key(secret: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"helpdesk field encryption v1").derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(derived)


def _fernet() -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet

    configured = getattr(settings, "HELPDESK_FIELD_ENCRYPTION_KEY", "") or ""
    secrets = [part.strip() for part in configured.split(",") if part.strip()]
    if not secrets:
        secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_fernet_key(secret)) for secret in secrets])


def seal_secret(value: str) -> str:
    """The encrypted form of `value` to store ("" stays "", so an unset secret reads as unset)."""
    return _fernet().encrypt(value.encode()).decode() if value else ""


def unseal_secret(sealed: str) -> str:
    if not sealed:
        return ""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError) as error:
        raise SecretUnavailable(
            "A stored secret cannot be decrypted: SECRET_KEY or HELPDESK_FIELD_ENCRYPTION_KEY changed "
            "since it was saved. Enter it again in the admin."
        ) from error


class MailboxSecurity(models.TextChoices):
    SSL = "ssl", _("SSL/TLS from the start (usually port 993)")
    STARTTLS = "starttls", _("STARTTLS (usually port 143)")
    # Only accepted for loopback hosts (a local test server): a password must never cross a network in clear.
    NONE = "none", _("None (loopback test servers only)")


class MailboxAuthMethod(models.TextChoices):
    PASSWORD = "password", _("Password")
    OAUTH2 = "oauth2", _("OAuth 2.0 (XOAUTH2)")


class OAuthProvider(models.TextChoices):
    MICROSOFT = "microsoft", _("Microsoft 365 / Outlook.com")
    GOOGLE = "google", _("Google Workspace / Gmail")
    CUSTOM = "custom", _("Other (token URL below)")


class AfterFetch(models.TextChoices):
    MARK_SEEN = "mark_seen", _("Mark as read (\\Seen)")
    MOVE = "move", _("Move to another folder")


# Where each provider issues tokens and what IMAP access is called there, when the account leaves
# them blank. Microsoft's "common" endpoint serves work and personal accounts; a single-tenant app
# sets https://login.microsoftonline.com/<tenant id>/oauth2/v2.0/token instead.
OAUTH_PROVIDER_DEFAULTS: dict[str, tuple[str, str]] = {
    OAuthProvider.MICROSOFT: (
        "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
    ),
    OAuthProvider.GOOGLE: ("https://oauth2.googleapis.com/token", ""),
    OAuthProvider.CUSTOM: ("", ""),
}


def is_loopback_host(host: str) -> bool:
    host = (host or "").strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MailboxAccount(models.Model):
    """A team's mailbox that the IMAP poller reads (`channels_intake.email.imap.mailbox_poll`).

    Mail found there goes through the same door as any other (`raw_inbound_store`, door "imap")
    and reaches the team that owns the mailbox. The poller remembers the folder's UIDVALIDITY and
    the highest UID it has stored and acted upon, so it only ever asks for newer messages.
    """

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="mailbox_accounts", verbose_name=_("team")
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("For people: e.g. “Support inbox at Fastmail”."))
    is_enabled = models.BooleanField(_("enabled"), default=True)

    host = models.CharField(_("IMAP server"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=993)
    security = models.CharField(_("security"), max_length=16, choices=MailboxSecurity.choices,
                                default=MailboxSecurity.SSL)
    username = models.CharField(_("user name"), max_length=320)
    auth_method = models.CharField(_("sign-in method"), max_length=16, choices=MailboxAuthMethod.choices,
                                   default=MailboxAuthMethod.PASSWORD)
    # Sealed with seal_secret(); the admin never shows them back.
    password_sealed = models.TextField(_("password (encrypted)"), blank=True, editable=False)

    oauth_provider = models.CharField(_("OAuth provider"), max_length=16, choices=OAuthProvider.choices,
                                      blank=True)
    oauth_token_url = models.URLField(_("OAuth token URL"), max_length=500, blank=True,
                                      help_text=_("Blank: the provider's usual one."))
    oauth_scope = models.CharField(_("OAuth scope"), max_length=500, blank=True,
                                   help_text=_("Blank: the provider's usual one for IMAP."))
    oauth_client_id = models.CharField(_("OAuth client ID"), max_length=500, blank=True)
    oauth_client_secret_sealed = models.TextField(_("OAuth client secret (encrypted)"), blank=True, editable=False)
    oauth_refresh_token_sealed = models.TextField(_("OAuth refresh token (encrypted)"), blank=True, editable=False)
    oauth_access_token_sealed = models.TextField(_("OAuth access token (encrypted)"), blank=True, editable=False)
    oauth_access_token_expires_at = models.DateTimeField(_("access token expires"), null=True, blank=True,
                                                         editable=False)

    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    # Connecting a mailbox that holds years of mail must not open a ticket (and send an
    # acknowledgement) for each old message.
    fetch_since = models.DateTimeField(
        _("skip mail received before"), null=True, blank=True,
        help_text=_("Mail the server received before this moment is left alone. Empty: take everything in the "
                    "folder, old mail included."),
    )
    after_fetch = models.CharField(_("after storing a message"), max_length=16, choices=AfterFetch.choices,
                                   default=AfterFetch.MARK_SEEN)
    move_to_folder = models.CharField(_("move to folder"), max_length=255, blank=True,
                                      help_text=_("Created when missing. Only used with “Move to another folder”."))

    # Where the poller is: the folder's UIDVALIDITY when it last read it, and the highest UID it
    # has stored and acted upon (everything at or below it is done).
    last_uidvalidity = models.PositiveBigIntegerField(_("last UIDVALIDITY"), null=True, blank=True, editable=False)
    last_uid = models.PositiveBigIntegerField(_("last UID done"), default=0, editable=False)
    last_polled_at = models.DateTimeField(_("last poll"), null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(_("last successful poll"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("IMAP mailbox")
        verbose_name_plural = _("IMAP mailboxes")
        ordering = ["team__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.username}@{self.host})"

    # Secrets: set in clear, stored sealed.
    @property
    def password(self) -> str:
        return unseal_secret(self.password_sealed)

    @password.setter
    def password(self, value: str) -> None:
        self.password_sealed = seal_secret(value)

    @property
    def oauth_client_secret(self) -> str:
        return unseal_secret(self.oauth_client_secret_sealed)

    @oauth_client_secret.setter
    def oauth_client_secret(self, value: str) -> None:
        self.oauth_client_secret_sealed = seal_secret(value)

    @property
    def oauth_refresh_token(self) -> str:
        return unseal_secret(self.oauth_refresh_token_sealed)

    @oauth_refresh_token.setter
    def oauth_refresh_token(self, value: str) -> None:
        self.oauth_refresh_token_sealed = seal_secret(value)

    @property
    def oauth_access_token(self) -> str:
        return unseal_secret(self.oauth_access_token_sealed)

    @oauth_access_token.setter
    def oauth_access_token(self, value: str) -> None:
        self.oauth_access_token_sealed = seal_secret(value)

    @property
    def effective_oauth_token_url(self) -> str:
        return self.oauth_token_url or OAUTH_PROVIDER_DEFAULTS.get(self.oauth_provider, ("", ""))[0]

    @property
    def effective_oauth_scope(self) -> str:
        return self.oauth_scope or OAUTH_PROVIDER_DEFAULTS.get(self.oauth_provider, ("", ""))[1]

    def clean(self) -> None:
        errors: dict[str, object] = {}
        if self.security == MailboxSecurity.NONE and not is_loopback_host(self.host):
            errors["security"] = _("Without TLS the password would cross the network in clear: "
                                   "only allowed for a server on this machine (127.0.0.1, ::1, localhost).")
        if self.after_fetch == AfterFetch.MOVE:
            if not self.move_to_folder.strip():
                errors["move_to_folder"] = _("Say which folder to move fetched mail to.")
            elif self.move_to_folder.strip() == self.folder.strip():
                errors["move_to_folder"] = _("Moving mail into the folder it is read from would fetch it again.")
        if self.auth_method == MailboxAuthMethod.OAUTH2:
            if not self.oauth_provider:
                errors["oauth_provider"] = _("Choose the OAuth provider.")
            elif not self.effective_oauth_token_url:
                errors["oauth_token_url"] = _("A custom provider needs its token URL.")
            if not self.oauth_client_id:
                errors["oauth_client_id"] = _("The OAuth client ID is needed to renew access tokens.")
        if self.team_id is not None and not Team.objects.filter(pk=self.team_id).exclude(email_addresses=[]).exists():
            errors["team"] = _("Give this team an email address first: mail fetched here is routed by it.")
        if errors:
            raise ValidationError(errors)


class MailboxReceipt(models.Model):
    """The note that one message of one mailbox (folder UIDVALIDITY + UID) was stored, and as what.

    Written in the same transaction as the stored message, before the message is flagged or
    moved: a poll cut off between the two finds the receipt and only finishes the flag or move.
    After a UIDVALIDITY change (UIDs renumbered) the Message-ID or the content hash recognises
    messages stored before, so nothing is stored twice.
    """

    mailbox = models.ForeignKey(MailboxAccount, on_delete=models.CASCADE, related_name="receipts")
    uidvalidity = models.PositiveBigIntegerField()
    uid = models.PositiveBigIntegerField()
    raw_inbound = models.ForeignKey(RawInbound, on_delete=models.SET_NULL, null=True, related_name="+")
    header_message_id = models.CharField(max_length=512, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    stored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "uidvalidity", "uid"], name="mailboxreceipt_uid_unique"),
        ]
        indexes = [
            models.Index("mailbox", "header_message_id", name="mailboxreceipt_message_id_idx",
                         condition=~models.Q(header_message_id="")),
            models.Index("mailbox", "sha256", name="mailboxreceipt_sha256_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.mailbox_id}:{self.uidvalidity}:{self.uid}"


# --- the local SMTP sink (embedded default) ---------------------------------------------------


class OutboundCapture(models.Model):
    """A mail our outbound SMTP sent to the local sink (`manage.py run_smtp_sink`) instead of the world.

    `make run` without EMAIL_HOST points Django's SMTP backend at the sink, so replies can be seen in
    the admin (headers, bodies, attachments) and nothing leaves the machine. The raw message is the
    record; the other columns are read from its headers when it is stored, for the list.
    """

    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    envelope_sender = models.CharField(_("envelope sender"), max_length=998, blank=True)
    envelope_recipients = ArrayField(
        models.CharField(max_length=998), default=list, blank=True, verbose_name=_("envelope recipients")
    )
    message_id = models.CharField(_("Message-ID"), max_length=998, blank=True)
    from_header = models.CharField(pgettext_lazy("email header", "from"), max_length=998, blank=True)
    to_header = models.TextField(pgettext_lazy("email header", "to"), blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    raw = models.BinaryField(_("raw message"))

    class Meta:
        verbose_name = _("sent mail (local sink)")
        verbose_name_plural = _("sent mail (local sink)")
        indexes = [models.Index(models.F("received_at").desc(), name="outboundcapture_received_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"


# Live chat's models live in their own module; imported here so Django registers them with this app.
from channels_intake.chat.models import Chat, ChatOffer, ChatWidget  # noqa: E402, F401

# The phone channel's models likewise (channels_intake.phone).
from channels_intake.phone.models import AgentExtension, Call, CallEvent, CdrImport  # noqa: E402, F401
