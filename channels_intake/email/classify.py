"""Signals the intake needs before it answers a mail: automatic mail (RFC 3834), bounces, spam scores.

Pure functions of the decoded headers and the parsed delivery-status parts; the intake decides what
to do with them (no auto-reply, mark an outbound message bounced, hold as spam).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Headers = Mapping[str, Sequence[str]]  # lower-cased name -> decoded values, in order

_NULL_OR_SYSTEM_LOCAL_PARTS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|delivery status notification|delivery (failure|has failed|failed)|failure notice|"
    r"returned mail|mail delivery (failed|subsystem)|non[- ]?delivery|could not be delivered|"
    r"退信|系统退信|未能送达|无法投递|投遞失敗|無法傳遞|傳遞失敗",
    re.IGNORECASE,
)
_MESSAGE_ID_LINE = re.compile(r"^\s*message-id\s*:\s*(<[^>\s]+>|\S+@\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class DeliveryRecipient:
    """One recipient line of a delivery status notification (RFC 3464)."""

    address: str
    action: str = ""  # failed, delayed, delivered, relayed, expanded
    status: str = ""  # e.g. "5.1.1"
    diagnostic: str = ""  # e.g. "smtp; 550 5.1.1 <x@example.org>: Recipient address rejected"
    remote_mta: str = ""
    original_recipient: str = ""


@dataclass(frozen=True)
class DeliveryReport:
    """A delivery status notification: which of our messages it is about and what happened.

    `original_message_id` is the Message-ID (without <>) of the message that could not be
    delivered, taken from the returned message or headers; "" when the report does not carry it.
    `is_standard` is False for old-style bounces recognised by sender and subject only.
    """

    original_message_id: str = ""
    original_envelope_id: str = ""
    reporting_mta: str = ""
    recipients: tuple[DeliveryRecipient, ...] = ()
    is_standard: bool = True

    @property
    def failed_recipients(self) -> tuple[DeliveryRecipient, ...]:
        return tuple(recipient for recipient in self.recipients if recipient.action == "failed")

    @property
    def is_failure(self) -> bool:
        """Something bounced: a failed recipient, or a non-standard bounce (which only reports failure)."""
        if not self.recipients:
            return not self.is_standard
        return bool(self.failed_recipients) or any(r.status.startswith("5.") for r in self.recipients)


def _first(headers: Headers, name: str) -> str:
    values = headers.get(name) or ()
    return values[0].strip() if values else ""


def is_system_sender(address: str) -> bool:
    """Null, MAILER-DAEMON and postmaster senders: never answer them (RFC 3834, RFC 5321 §4.5.5)."""
    local_part = address.strip().strip("<>").split("@", 1)[0].lower()
    return not address.strip().strip("<>") or local_part in _NULL_OR_SYSTEM_LOCAL_PARTS


def auto_submitted_reasons(
    headers: Headers, *, from_address: str, return_path: str | None
) -> tuple[str, ...]:
    """Why this mail must not get an automatic reply; empty when it may (RFC 3834 and common practice)."""
    reasons: list[str] = []
    auto_submitted = _first(headers, "auto-submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        reasons.append(f"Auto-Submitted: {auto_submitted}")
    precedence = _first(headers, "precedence").lower()
    if precedence in _BULK_PRECEDENCE:
        reasons.append(f"Precedence: {precedence}")
    if headers.get("list-id"):
        reasons.append("List-Id present")
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress"):
        value = _first(headers, name)
        if name in headers and value.lower() not in ("no", "false"):
            reasons.append(f"{name.title()}: {value}" if value else f"{name.title()} present")
    if return_path is not None and not return_path.strip().strip("<>").strip():
        reasons.append("Null return path (Return-Path: <>)")
    if from_address and is_system_sender(from_address):
        reasons.append(f"System sender {from_address}")
    elif not from_address:
        reasons.append("No sender address")
    return tuple(reasons)


def spam_verdict(headers: Headers) -> tuple[float | None, bool]:
    """The spam score and flag a filter upstream (SpamAssassin, rspamd) wrote, if any."""
    score: float | None = None
    flagged = _first(headers, "x-spam-flag").lower() in ("yes", "true")
    status = _first(headers, "x-spam-status")
    if status:
        flagged = flagged or status.lower().startswith("yes")
        match = re.search(r"(?:score|hits)\s*=\s*(-?\d+(?:\.\d+)?)", status, re.IGNORECASE)
        if match:
            score = float(match.group(1))
    raw_score = _first(headers, "x-spam-score")
    match = re.match(r"^\s*(-?\d+(?:\.\d+)?)", raw_score)
    if match:
        score = float(match.group(1))
    elif score is None and raw_score and set(raw_score.strip()) == {"*"}:
        score = float(len(raw_score.strip()))
    level = _first(headers, "x-spam-level")
    if score is None and level and set(level.strip()) == {"*"}:
        score = float(len(level.strip()))
    return score, flagged


def _strip_type(value: str) -> str:
    """ "rfc822; ann@example.org" -> "ann@example.org"."""
    _, separator, rest = value.partition(";")
    return (rest if separator else value).strip().strip("<>").strip()


def delivery_report_from_fields(
    blocks: Sequence[Sequence[tuple[str, str]]], *, original_message_id: str = ""
) -> DeliveryReport:
    """Build a report from the field blocks of a message/delivery-status part (per-message block first)."""
    if not blocks:
        return DeliveryReport(original_message_id=original_message_id)
    per_message = {name.lower(): value.strip() for name, value in blocks[0]}
    recipients = []
    for block in blocks[1:] if len(blocks) > 1 else blocks:
        fields = {name.lower(): value.strip() for name, value in block}
        address = _strip_type(fields.get("final-recipient", "") or fields.get("original-recipient", ""))
        if not address:
            continue
        recipients.append(
            DeliveryRecipient(
                address=address,
                action=fields.get("action", "").lower().split()[0] if fields.get("action") else "",
                status=fields.get("status", "").split()[0] if fields.get("status") else "",
                diagnostic=re.sub(r"\s+", " ", fields.get("diagnostic-code", "")),
                remote_mta=_strip_type(fields.get("remote-mta", "")),
                original_recipient=_strip_type(fields.get("original-recipient", "")),
            )
        )
    return DeliveryReport(
        original_message_id=original_message_id,
        original_envelope_id=per_message.get("original-envelope-id", ""),
        reporting_mta=_strip_type(per_message.get("reporting-mta", "")),
        recipients=tuple(recipients),
    )


def parse_field_blocks(text: str) -> list[list[tuple[str, str]]]:
    """RFC 822-style field blocks separated by blank lines (the body of a delivery-status part)."""
    blocks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
                current = []
            continue
        if line[0] in " \t" and current:
            name, value = current[-1]
            current[-1] = (name, value + " " + line.strip())
            continue
        name, separator, value = line.partition(":")
        if separator and name.strip() and " " not in name.strip():
            current.append((name.strip(), value.strip()))
    if current:
        blocks.append(current)
    return blocks


def looks_like_bounce(*, subject: str, from_address: str, return_path: str | None) -> bool:
    """An old-style bounce (qmail, some Exchange and Chinese providers) that is no multipart/report."""
    null_sender = return_path is not None and not return_path.strip().strip("<>").strip()
    system_sender = bool(from_address) and is_system_sender(from_address)
    return (null_sender or system_sender) and bool(_BOUNCE_SUBJECT.search(subject or ""))


def message_id_in_text(text: str) -> str:
    """The first Message-ID header line quoted in a bounce's text (the returned message's headers)."""
    match = _MESSAGE_ID_LINE.search(text or "")
    return match.group(1).strip().strip("<>") if match else ""


# --- sender lists (a team's blocked and allowed senders) -----------------------------------------

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def normalise_sender_entry(value: str) -> str:
    """One entry of a sender list in its stored form: a lower-cased address, or a bare domain.

    "Ann@Example.com" -> "ann@example.com"; "@Example.com" and "example.com." -> "example.com";
    "" -> "". Raises ValueError for anything else (a word, a wildcard, two @).
    """
    entry = (value or "").strip().strip("<>").strip().lower().rstrip(".")
    if not entry:
        return ""
    local, _, domain = entry.rpartition("@")
    if "@" in local or any(char.isspace() or char in '<>,;"()[]\\' for char in local):
        raise ValueError(value)
    try:
        ascii_domain = domain.encode("idna").decode()
    except UnicodeError:
        raise ValueError(value) from None
    if not _DOMAIN.match(ascii_domain):
        raise ValueError(value)
    # Internationalised domains are kept (and compared) in their ASCII form, as they travel.
    return f"{local}@{ascii_domain}" if local else ascii_domain


def matching_sender_entry(address: str, entries: Sequence[str]) -> str:
    """The entry of `entries` (stored form) that covers `address`, "" when none does.

    An address entry matches that address only; a domain entry matches the domain and its
    subdomains ("example.com" covers "mail.example.com", never "badexample.com").
    """
    address = (address or "").strip().strip("<>").strip().lower()
    if "@" not in address:
        return ""
    local, _, domain = address.rpartition("@")
    domain = domain.rstrip(".")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode()
        except UnicodeError:
            return ""
    address = f"{local}@{domain}"
    for stored in entries:
        # Entries are stored normalised (the admin form does it); one written by other code may not be.
        entry = stored.strip().lower().lstrip("@").rstrip(".")
        if not entry:
            continue
        if "@" in entry:
            if entry == address:
                return entry
        elif domain == entry or domain.endswith("." + entry):
            return entry
    return ""
