"""One raw e-mail (bytes) to a `ParsedEmail`: pure parsing, no I/O, no database.

The contract the intake builds on:

- `parse_email(raw)` returns a `ParsedEmail` for anything that has at least one header line, and
  raises `UnparseableEmail` (only that) for input that is no mail at all; the intake files those in
  the failed-mail inbox with `str(error)` as the reason. What was odd but survivable is listed in
  `ParsedEmail.defects`, for admins.
- Text is never lost silently: undecodable charsets are guessed and the guess recorded as a defect;
  every part that is not the body is an attachment (signatures, calendar invites, winmail.dat,
  forwarded mails as .eml, delivery reports); unchosen alternatives that are not duplicates of the
  body are attachments too.
- `body_html` / `new_html` are sanitised with `tickets.sanitize.sanitize_html`. Inline images are
  referenced as `cid:<content_id>`, where `<content_id>` is exactly `EmailAttachment.content_id`
  of the attachment (normalised: no angle brackets, no characters that need quoting, at most 200
  characters); `ParsedEmail.inline_images` maps each such id to its index in `attachments`. The
  intake stores the attachments, then replaces every `cid:<content_id>` in the HTML with the URL it
  serves that attachment at; a `cid:` id with no attachment is listed in `defects`.
- `external_id` is the Message-ID, or a hash of the content when there is none (see `content_hash`).
"""

from __future__ import annotations

import contextlib
import email.policy
import hashlib
import io
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote

from channels_intake.email import classify, quotes
from channels_intake.email.charsets import (
    decode_bytes,
    decode_encoded_words,
    header_to_text,
    parse_parameterised,
    raw_header_text,
)
from tickets.sanitize import html_to_text, sanitize_html, text_to_html

if TYPE_CHECKING:
    from channels_intake.base import InboundMessage
    from tickets.services.attachments import IncomingFile

# compat32 for the tree: this module reads every header from its raw text (raw_items) with its own
# decoders, so the default policy's header objects are never used, yet the feed parser asks for
# Content-Type (and its boundary) several times per part and the default policy parses it through
# the header registry each time: about half of the time spent parsing a typical mail.
_PARSE_POLICY = email.policy.compat32
# Writes a parsed sub-message back as it came: source headers not refolded, 8-bit bodies kept.
_FLATTEN_POLICY = email.policy.default.clone(refold_source="none", max_line_length=0, cte_type="8bit")
_MAX_DEPTH = 30  # MIME nesting we follow; deeper parts are kept whole as attachments
_MAX_SUMMARY_DEPTH = 3  # forwarded mails inside forwarded mails we summarise in the body
_MAX_SUMMARY_CHARS = 20_000
_MAX_EXTERNAL_ID = 500  # Message.external_id holds 512
_MAX_INLINE_TEXT_BYTES = 256 * 1024


class UnparseableEmail(ValueError):
    """The input is no e-mail at all (empty, binary, no header): file it in the failed-mail inbox."""


@dataclass(frozen=True)
class EmailAddress:
    address: str
    name: str = ""


@dataclass(frozen=True)
class EmailAttachment:
    """A file from the mail, mapping onto `tickets.services.attachments.IncomingFile`.

    `filename` is the decoded name the sender gave (path parts and control characters removed; the
    store neutralises it further), or a default by type ("invite.ics", "winmail.dat", "<subject>.eml").
    `is_inline` means `body_html` shows it through `cid:<content_id>`.
    """

    filename: str
    content_type: str
    content: bytes = field(repr=False)
    content_id: str = ""
    is_inline: bool = False

    @property
    def size(self) -> int:
        return len(self.content)

    def to_incoming_file(self) -> IncomingFile:
        from tickets.services.attachments import IncomingFile

        return IncomingFile(
            name=self.filename,
            content_type=self.content_type,
            content=self.content,
            size=len(self.content),
            content_id=self.content_id,
            is_inline=self.is_inline,
        )


@dataclass(frozen=True)
class ForwardedMessage:
    """A mail attached as message/rfc822 (Forward as attachment), summarised in the body text."""

    subject: str
    from_address: str
    from_name: str
    date: datetime | None
    text: str
    attachment_index: int  # its .eml in ParsedEmail.attachments


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str  # without <>; "" when missing
    in_reply_to: str  # the first id of In-Reply-To, without <>
    references: tuple[str, ...]  # References ids without <>, oldest first, duplicates dropped
    subject: str  # decoded, one line
    from_address: str
    from_name: str
    to: tuple[EmailAddress, ...]
    cc: tuple[EmailAddress, ...]
    reply_to: tuple[EmailAddress, ...]
    date: datetime | None  # aware; None when missing or unreadable
    body_text: str  # the full text (from the HTML when the mail has no text part)
    body_html: str | None  # the full HTML, sanitised; None for text-only mail
    new_text: str  # what the sender wrote now: quoted history and signature removed
    new_html: str | None  # the same cut of the HTML, sanitised (= body_html when nothing was cut)
    signature: str  # the signature removed from new_text
    attachments: tuple[EmailAttachment, ...]
    inline_images: dict[str, int]  # content_id -> index in attachments, for cid: links in the HTML
    forwarded: tuple[ForwardedMessage, ...]
    is_auto_submitted: bool  # never auto-reply to it (RFC 3834)
    auto_submitted_reasons: tuple[str, ...]
    is_bounce: bool  # a delivery failure report about a message we (or someone) sent
    delivery_report: classify.DeliveryReport | None
    spam_score: float | None
    is_spam_flagged: bool
    defects: tuple[str, ...]
    content_hash: str  # sha256 of the delivery-independent content (see _content_hash)
    headers: tuple[tuple[str, str], ...]  # top-level headers, decoded, in order (for admins)
    list_id: str = ""
    return_path: str | None = None  # "" for the null sender <>, None when absent

    @property
    def external_id(self) -> str:
        """The idempotency key: the Message-ID, else a hash of the content (same mail, same key)."""
        if self.message_id:
            return message_id_key(self.message_id)
        return "sha256:" + self.content_hash

    def header(self, name: str) -> str:
        """The first decoded value of a top-level header, "" when absent."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), "")


# --- small helpers ----------------------------------------------------------------------------

_STDLIB_DEFECTS = {
    "NoBoundaryInMultipartDefect": "Multipart without a boundary parameter",
    "StartBoundaryNotFoundDefect": "MIME boundary never found; the part is read as one piece",
    "CloseBoundaryNotFoundDefect": "Closing MIME boundary missing",
    "FirstHeaderLineIsContinuationDefect": "First header line is a continuation line",
    "MisplacedEnvelopeHeaderDefect": "Envelope 'From ' line among the headers",
    "MissingHeaderBodySeparatorDefect": "No blank line between headers and body",
    "MultipartInvariantViolationDefect": "Multipart declared but no parts found",
    "InvalidMultipartContentTransferEncodingDefect": "Invalid transfer encoding on a multipart",
    "UndecodableBytesDefect": "Undecodable bytes",
    "InvalidBase64PaddingDefect": "Base64 content with wrong padding",
    "InvalidBase64CharactersDefect": "Base64 content with invalid characters (ignored)",
    "InvalidBase64LengthDefect": "Base64 content of invalid length (last bytes may be incomplete)",
    "InvalidHeaderDefect": "Invalid header",
    "NonPrintableDefect": "Non-printable characters in a header",
}
_STORABLE = re.compile(r"[\x00\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_MESSAGE_ID = re.compile(r"<([^<>]+)>")
_CID_REFERENCE = re.compile(r"""(?i)(\b(?:src|background)\s*=\s*)(["']?)cid:([^"'\s>]+)\2""")
# Characters that survive sanitising and need no URL quoting, so `cid:<id>` is found verbatim in the HTML.
_CONTENT_ID_SAFE = re.compile(r"^[A-Za-z0-9@._$+=!~-]{1,200}$")
_VALID_ADDRESS = re.compile(r'^(?:"[^"\r\n]*"|[^\s@"<>(),;:\\\[\]]+)@(?:[^\s@"<>(),;:\\\[\]]+|\[[^\]\s]+\])$')
_ADDRESS_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|\((?:[^()\\]|\\.)*\)?|<[^<>]*>?|[,;]|[^,;"(<]+', re.DOTALL)
_NAME_ONLY = re.compile(r"^[^\W\d_][^\W\d_.'-]*$")  # one word of letters, as in "Doe" of "Doe, John"
_HEAD = re.compile(r"(?is)<head\b.*?</head\s*>|<title\b.*?</title\s*>")
_META_CHARSET = re.compile(rb"""(?i)<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""")


def _storable(text: str) -> str:
    """NUL and lone surrogates cannot be stored in PostgreSQL text: show them as U+FFFD."""
    return _STORABLE.sub("\ufffd", text)


def _one_line(text: str) -> str:
    """A header value as one line: folding and CR/LF (header injection) removed."""
    if text.isprintable():
        return text.strip()
    return _CONTROL.sub("", _LINE_BREAKS.sub(" ", _storable(text))).strip()


def _raw_headers(part: Message) -> list[tuple[str, str]]:
    try:
        return [(str(name), str(value)) for name, value in part.raw_items()]
    except Exception:  # noqa: BLE001 - a broken header list leaves a part without headers, never a crash
        return []


def _first_raw(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def normalise_message_id(value: str) -> str:
    """ "<abc@example.org> (comment)" -> "abc@example.org"; "" when there is no id."""
    match = _MESSAGE_ID.search(value or "")
    token = match.group(1) if match else ((value or "").split() or [""])[0]
    return _storable(re.sub(r"\s+", "", token)).strip("<>")[:998]


def message_id_key(message_id: str) -> str:
    """How a Message-ID (without <>) is stored and looked up: as it is, or its hash when over-long.

    `ParsedEmail.external_id` is this key, and so are the ids stored for threading: an id from a
    References header is looked up as `message_id_key(id)`.
    """
    if len(message_id) <= _MAX_EXTERNAL_ID:
        return message_id
    return "mid-sha256:" + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()


def message_ids(value: str) -> list[str]:
    """All ids in a References / In-Reply-To value, in order, without duplicates."""
    found = [re.sub(r"\s+", "", token) for token in _MESSAGE_ID.findall(value or "")]
    if not found:
        found = [token.strip("<>,;") for token in (value or "").split() if "@" in token]
    unique: dict[str, None] = {}
    for token in found:
        if token:
            unique.setdefault(_storable(token)[:998], None)
    return list(unique)


def normalise_content_id(value: str) -> str:
    """The id used both in `cid:` links and on the attachment; long or odd ids become a hash."""
    content_id = unquote(value.strip()).strip().strip("<>").strip()
    if not content_id:
        return ""
    if not _CONTENT_ID_SAFE.match(content_id):
        return "h" + hashlib.sha256(content_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return content_id


def _parse_date(value: str | None, defects: list[str]) -> datetime | None:
    if not value or not value.strip():
        return None
    text = _one_line(value)
    candidates = [text, re.sub(r"^\s*[A-Za-z]+,?\s*", "", text), re.sub(r"\s*\([^)]*\)\s*$", "", text)]
    for candidate in candidates:
        try:
            parsed = parsedate_to_datetime(candidate)
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("/", "-"))
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    except ValueError:
        pass
    defects.append(f"Unreadable Date header {text[:60]!r}")
    return None


def parse_addresses(value: str, defects: list[str] | None = None, *, header: str = "") -> list[EmailAddress]:
    """Addresses of one header (already 8-bit decoded, RFC 2047 words still encoded), invalid ones skipped.

    Linear in the header length: 10,000 recipients take milliseconds. Encoded words are decoded
    per display name, after splitting, so a decoded comma never splits a name.
    """
    value = value or ""
    for _ in range(3):
        # An unbalanced quote or comment would swallow every address after it: read the header without it.
        unterminated = next(
            (
                match.start()
                for match in _ADDRESS_TOKEN.finditer(value)
                if match.group()[:1] in ('"', "(")
                and (len(match.group()) == 1 or match.group()[-1] != {'"': '"', "(": ")"}[match.group()[0]])
            ),
            None,
        )
        if unterminated is None:
            break
        value = value[:unterminated] + value[unterminated + 1 :]
    items: list[list[str]] = [[]]
    for token in _ADDRESS_TOKEN.findall(value):
        if token in (",", ";"):
            items.append([])
        else:
            items[-1].append(token)
    addresses: list[EmailAddress] = []
    seen: set[str] = set()
    invalid: list[str] = []
    pending_name = ""
    for tokens in items:
        angle = [token for token in tokens if token.startswith("<")]
        comments = [token[1:].rstrip(")") for token in tokens if token.startswith("(")]
        words = [token for token in tokens if not token.startswith(("<", "("))]
        plain = "".join(word for word in words if not word.startswith('"'))
        if ":" in plain and not angle and "@" not in plain.split(":", 1)[0]:
            # Group syntax ("Team: a@x, b@y;" / "undisclosed-recipients:;"): drop the group name.
            group, _, rest = plain.partition(":")
            words = [rest] if rest.strip() else []
            if not words:
                continue
        if angle:
            address = angle[-1].strip("<>").strip()
            name_parts = [_unquote_word(word) for word in words] or comments
        else:
            address = "".join(word.strip() for word in words)
            name_parts = comments
        address = re.sub(r"\s+", "", address)
        if address.lower().startswith("mailto:"):
            address = address[7:]
        if ":" in address and address.startswith("@"):
            address = address.rsplit(":", 1)[1]  # obsolete source route "<@relay:ann@example.org>"
        name = " ".join(part.strip() for part in name_parts if part.strip())
        if not address and not name:
            continue
        if not _VALID_ADDRESS.match(address):
            if not angle and address and _NAME_ONLY.match(address) and not pending_name:
                # Perhaps "Doe, John <john@example.org>" unquoted: the comma split the display name.
                pending_name = " ".join(words).strip()
                continue
            if pending_name:
                invalid.append(pending_name[:80])
                pending_name = ""
            invalid.append((address or name)[:80])
            continue
        if pending_name and angle and name and not any(word.startswith('"') for word in words):
            name = f"{pending_name}, {name}"
        elif pending_name:
            invalid.append(pending_name[:80])
        pending_name = ""
        name = _one_line(decode_encoded_words(name, defects))
        if name.strip("'\" ") == address:
            name = ""
        key = address.lower()
        if key in seen:
            continue
        seen.add(key)
        addresses.append(EmailAddress(address=_storable(address), name=name))
    if pending_name:
        invalid.append(pending_name[:80])
    if invalid and defects is not None:
        examples = ", ".join(repr(item) for item in invalid[:3])
        defects.append(
            f"Skipped {len(invalid)} invalid address(es) in {header or 'an address header'}: {examples}"
        )
    return addresses


def _unquote_word(word: str) -> str:
    if word.startswith('"'):
        inner = word[1:-1] if len(word) > 1 and word.endswith('"') else word[1:]
        return re.sub(r"\\(.)", r"\1", inner, flags=re.DOTALL) if "\\" in inner else inner
    return word


def _flatten(message: Message) -> bytes:
    """A parsed (sub-)message back to bytes, as close to what arrived as the stdlib allows."""
    for policy in (_FLATTEN_POLICY, email.policy.compat32):
        buffer = io.BytesIO()
        try:
            BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(message)
            return buffer.getvalue()
        except Exception:  # noqa: BLE001, S112 - try the older generator, then the raw payload
            continue
    payload = message.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - fall back to the undecoded payload below
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _unflow(text: str, *, delete_space: bool) -> str:
    """Undo RFC 3676 format=flowed soft line breaks so paragraphs read as written."""
    out: list[str] = []
    buffer = ""
    buffer_depth: int | None = None
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if buffer_depth is not None and depth != buffer_depth:
            out.append(">" * buffer_depth + (" " if buffer_depth else "") + buffer)
            buffer, buffer_depth = "", None
        is_soft = content.endswith(" ") and content != "-- "
        if is_soft:
            buffer += content[:-1] if delete_space else content
            buffer_depth = depth
            continue
        line_text = buffer + content
        out.append(">" * depth + (" " if depth and line_text else "") + line_text)
        buffer, buffer_depth = "", None
    if buffer_depth is not None:
        out.append(">" * buffer_depth + (" " if buffer_depth else "") + buffer)
    return "\n".join(out)


def _default_filename(content_type: str, *, subject: str = "", index: int = 0) -> str:
    fixed = {
        "text/calendar": "invite.ics",
        "application/ms-tnef": "winmail.dat",
        "application/vnd.ms-tnef": "winmail.dat",
        "message/delivery-status": "delivery-status.txt",
        "message/disposition-notification": "disposition-notification.txt",
        "text/rfc822-headers": "original-headers.txt",
        "application/pgp-signature": "signature.asc",
    }
    if content_type in fixed:
        return fixed[content_type]
    if content_type in ("message/rfc822", "message/global"):
        stem = re.sub(r"[\\/:*?\"<>|\x00-\x1f]+", " ", subject).strip()[:120] or "forwarded message"
        return f"{stem}.eml"
    extension = mimetypes.guess_extension(content_type) or ".bin"
    stem = "image" if content_type.startswith("image/") else "attachment"
    return f"{stem}{'-' + str(index) if index else ''}{extension}"


def _clean_filename(name: str) -> str:
    name = name.replace("\\", "/").split("/")[-1]
    return _storable(_CONTROL.sub("", _LINE_BREAKS.sub(" ", name))).strip()


# --- walking the MIME tree --------------------------------------------------------------------


@dataclass
class _Segment:
    """One piece of body: a text part, an HTML part, or an alternative holding both."""

    text: str | None = None
    html: str | None = None  # raw HTML, cid: links normalised, not yet sanitised
    is_forward_summary: bool = False


@dataclass
class _Found:
    segments: list[_Segment] = field(default_factory=list)
    attachments: list[EmailAttachment] = field(default_factory=list)
    forwarded: list[ForwardedMessage] = field(default_factory=list)
    dsn_blocks: list[list[tuple[str, str]]] | None = None
    report_types: list[str] = field(default_factory=list)
    returned_message_id: str = ""

    def has_html(self) -> bool:
        return any(segment.html is not None for segment in self.segments if not segment.is_forward_summary)

    def has_text(self) -> bool:
        return any(segment.text is not None for segment in self.segments if not segment.is_forward_summary)


class _Walker:
    def __init__(self, *, hint: str | None, depth: int, defects: list[str]) -> None:
        self.hint = hint
        self.depth = depth
        self.defects = defects

    def _note(self, defect: str) -> None:
        if defect and defect not in self.defects and len(self.defects) < 200:
            self.defects.append(defect)

    def _content_type(self, part: Message, headers: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
        raw = _first_raw(headers, "content-type")
        if raw is None:
            return part.get_default_type(), {}
        main, params = parse_parameterised(raw, self.hint, self.defects)
        if not re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", main):
            self._note(f"Invalid Content-Type {main[:60]!r}; read as text/plain")
            return "text/plain", params
        return main, params

    def walk(self, part: Message, found: _Found, level: int = 0, *, as_attachment: bool = False) -> None:
        headers = _raw_headers(part)
        content_type, params = self._content_type(part, headers)
        try:
            self._walk(part, headers, content_type, params, found, level, as_attachment)
        finally:
            # Read after the payload was decoded: base64 and boundary problems are noted then.
            for defect in getattr(part, "defects", ()):
                description = _STDLIB_DEFECTS.get(type(defect).__name__, type(defect).__name__)
                self._note(f"{description} (in a {content_type} part)")

    def _walk(
        self,
        part: Message,
        headers: list[tuple[str, str]],
        content_type: str,
        params: dict[str, str],
        found: _Found,
        level: int,
        as_attachment: bool,
    ) -> None:
        if level > _MAX_DEPTH:
            self._note(f"MIME nesting deeper than {_MAX_DEPTH} levels; the rest is kept as one attachment")
            found.attachments.append(
                EmailAttachment(
                    filename="nested-part.eml", content_type="message/rfc822", content=_flatten(part)
                )
            )
            return
        if part.is_multipart():
            children = [child for child in part.get_payload() if isinstance(child, Message)]
            if content_type.startswith("message/") or not content_type.startswith("multipart/"):
                self._message(children, content_type, headers, params, found, summarise=not as_attachment)
            else:
                self._multipart(content_type.partition("/")[2], children, params, found, level, as_attachment)
            return
        if content_type.startswith("multipart/"):
            recovered = _reparse_with_actual_boundary(part, content_type)
            if recovered is not None:
                self._note(f"{content_type} declared another boundary than its parts use; read with theirs")
                self.walk(recovered, found, level + 1, as_attachment=as_attachment)
                return
            self._note(f"{content_type} part without usable boundary; its content is read as text")
            content_type = "text/plain"
        if content_type in ("message/rfc822", "message/global"):
            # A forwarded mail with a transfer encoding (not allowed, but sent): decode and parse it.
            inner = _parse_tree(_payload_bytes(part))
            if inner is not None:
                self._note("Forwarded message with a transfer encoding (not allowed for message/rfc822)")
                self._message([inner], content_type, headers, params, found, summarise=not as_attachment)
                return
        self._leaf(part, content_type, params, headers, found, as_attachment=as_attachment)

    def _multipart(
        self,
        subtype: str,
        children: list[Message],
        params: dict[str, str],
        found: _Found,
        level: int,
        as_attachment: bool,
    ) -> None:
        if not children:
            return
        if as_attachment or subtype == "encrypted":
            if subtype == "encrypted":
                self._note("Encrypted message: its content is kept as attachments, not read")
            for child in children:
                self.walk(child, found, level + 1, as_attachment=True)
            return
        if subtype == "alternative":
            self._alternative(children, found, level)
        elif subtype == "related":
            start = normalise_content_id(params.get("start", ""))
            root = next(
                (
                    child
                    for child in children
                    if start
                    and normalise_content_id(_first_raw(_raw_headers(child), "content-id") or "") == start
                ),
                children[0],
            )
            self.walk(root, found, level + 1)
            for child in children:
                if child is not root:
                    self.walk(child, found, level + 1, as_attachment=True)
        elif subtype == "signed":
            self.walk(children[0], found, level + 1)
            for child in children[1:]:
                self.walk(child, found, level + 1, as_attachment=True)
        elif subtype == "report":
            found.report_types.append(params.get("report-type", "").lower())
            self.walk(children[0], found, level + 1)
            for child in children[1:]:
                self._report_part(child, found, level + 1)
        elif subtype == "digest":
            for child in children:
                self.walk(child, found, level + 1, as_attachment=True)
        else:
            for child in children:
                self.walk(child, found, level + 1)

    def _alternative(self, children: list[Message], found: _Found, level: int) -> None:
        branches = []
        for child in children:
            branch = _Found()
            self.walk(child, branch, level + 1)
            branches.append(branch)
        # RFC 2046: the last alternative is the richest; prefer the last with HTML, keep a text one.
        chosen = next((b for b in reversed(branches) if b.has_html()), None) or next(
            (b for b in reversed(branches) if b.has_text()), branches[-1]
        )
        text_branch = next((b for b in reversed(branches) if b.has_text()), None)
        html_segments = [s for s in chosen.segments if not s.is_forward_summary]
        combined = _Segment(
            text=_join_text(
                s.text for s in (text_branch.segments if text_branch else []) if not s.is_forward_summary
            ),
            html="".join(_segment_raw_html(s) for s in html_segments) if chosen.has_html() else None,
        )
        if combined.text is not None or combined.html is not None:
            found.segments.append(combined)
        found.segments.extend(s for s in chosen.segments if s.is_forward_summary)
        found.attachments.extend(chosen.attachments)
        found.forwarded.extend(chosen.forwarded)
        known = {hashlib.sha256(a.content).digest() for a in chosen.attachments}
        for branch in branches:
            if branch is chosen:
                continue
            for attachment in branch.attachments:
                digest = hashlib.sha256(attachment.content).digest()
                if digest not in known:
                    known.add(digest)
                    found.attachments.append(attachment)

    def _report_part(self, part: Message, found: _Found, level: int) -> None:
        headers = _raw_headers(part)
        content_type, _ = self._content_type(part, headers)
        if content_type == "message/delivery-status":
            if part.is_multipart():
                blocks = [
                    [
                        (name, header_to_text(value, self.hint, self.defects, name=name))
                        for name, value in _raw_headers(child)
                    ]
                    for child in part.get_payload()
                    if isinstance(child, Message)
                ]
            else:
                blocks = classify.parse_field_blocks(decode_bytes(_payload_bytes(part), "utf-8").text)
            found.dsn_blocks = blocks
            content = "\n\n".join("\n".join(f"{name}: {value}" for name, value in block) for block in blocks)
            found.attachments.append(
                EmailAttachment(
                    filename="delivery-status.txt", content_type="text/plain", content=content.encode("utf-8")
                )
            )
            return
        if content_type in ("message/rfc822", "message/global") and part.is_multipart():
            inner = next((child for child in part.get_payload() if isinstance(child, Message)), None)
            if inner is not None:
                found.returned_message_id = normalise_message_id(
                    _first_raw(_raw_headers(inner), "message-id") or ""
                )
                found.attachments.append(
                    EmailAttachment(
                        filename="returned-message.eml",
                        content_type="message/rfc822",
                        content=_flatten(inner),
                    )
                )
                return
        if content_type == "text/rfc822-headers":
            data = _payload_bytes(part)
            # Unreadable returned headers stay available as the attachment.
            with contextlib.suppress(Exception):
                original = BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
                found.returned_message_id = normalise_message_id(str(original.get("message-id", "") or ""))
        self.walk(part, found, level, as_attachment=True)

    def _message(
        self,
        children: list[Message],
        content_type: str,
        headers: list[tuple[str, str]],
        params: dict[str, str],
        found: _Found,
        *,
        summarise: bool,
    ) -> None:
        if content_type not in ("message/rfc822", "message/global", "message/news"):
            content = b"\n".join(_flatten(child) for child in children)
            name = self._filename(headers, params) or f"{content_type.partition('/')[2] or 'message'}.txt"
            found.attachments.append(
                EmailAttachment(filename=name, content_type=content_type, content=content)
            )
            return
        if not children:
            return
        inner = children[0]
        content = _flatten(inner)
        inner_headers = _raw_headers(inner)
        subject = _one_line(header_to_text(_first_raw(inner_headers, "subject") or "", self.hint))
        name = self._filename(headers, params) or _default_filename("message/rfc822", subject=subject)
        index = len(found.attachments)
        found.attachments.append(
            EmailAttachment(filename=name, content_type="message/rfc822", content=content)
        )
        if not summarise or self.depth >= _MAX_SUMMARY_DEPTH:
            return
        try:
            parsed = _parse(content, depth=self.depth + 1)
        except UnparseableEmail:
            self._note(f"Forwarded message {name!r} could not be read; kept as attachment")
            return
        forwarded = ForwardedMessage(
            subject=parsed.subject,
            from_address=parsed.from_address,
            from_name=parsed.from_name,
            date=parsed.date,
            text=parsed.body_text[:_MAX_SUMMARY_CHARS],
            attachment_index=index,
        )
        found.forwarded.append(forwarded)
        found.segments.append(
            _Segment(text=_forward_summary(forwarded, parsed, name), is_forward_summary=True)
        )

    def _filename(self, headers: list[tuple[str, str]], content_type_params: dict[str, str]) -> str:
        disposition = _first_raw(headers, "content-disposition")
        name = ""
        if disposition is not None:
            _, params = parse_parameterised(disposition, self.hint, self.defects)
            name = params.get("filename", "")
        return _clean_filename(name or content_type_params.get("name", ""))

    def _leaf(
        self,
        part: Message,
        content_type: str,
        params: dict[str, str],
        headers: list[tuple[str, str]],
        found: _Found,
        *,
        as_attachment: bool,
    ) -> None:
        disposition_raw = _first_raw(headers, "content-disposition")
        disposition = parse_parameterised(disposition_raw, self.hint)[0] if disposition_raw else ""
        filename = self._filename(headers, params)
        data = _payload_bytes(part)
        # A named text part the sender marked inline (mutt, VM, some webmails) is meant to be read
        # in the body; a large one is a file (a log) and stays an attachment.
        is_body = (
            not as_attachment
            and content_type in ("text/plain", "text/html")
            and disposition != "attachment"
            and (not filename or (disposition == "inline" and len(data) <= _MAX_INLINE_TEXT_BYTES))
        )
        if is_body:
            self._body_part(data, content_type, params, found)
            return
        raw_content_id = _first_raw(headers, "content-id") or ""
        content_id = normalise_content_id(header_to_text(raw_content_id)) if raw_content_id else ""
        if not filename:
            filename = _default_filename(
                content_type, index=len(found.attachments) + 1 if content_type.startswith("image/") else 0
            )
        found.attachments.append(
            EmailAttachment(filename=filename, content_type=content_type, content=data, content_id=content_id)
        )

    def _body_part(self, data: bytes, content_type: str, params: dict[str, str], found: _Found) -> None:
        charset = params.get("charset") or None
        if content_type == "text/html" and not charset:
            meta = _META_CHARSET.search(data[:4096])
            charset = meta.group(1).decode("ascii") if meta else None
        kind = "HTML part" if content_type == "text/html" else "Text part"
        decoded = decode_bytes(data, charset, what=kind)
        self._note(decoded.defect)
        text = decoded.text.replace("\r\n", "\n").replace("\r", "\n")
        if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
            self._note(f"{kind} contains NUL or invalid characters, shown as \ufffd")
            text = _storable(text)
        if content_type == "text/html":
            found.segments.append(_Segment(html=_normalise_cid_links(text)))
            return
        if params.get("format", "").lower() == "flowed":
            text = _unflow(text, delete_space=params.get("delsp", "").lower() == "yes")
        found.segments.append(_Segment(text=text))


_BOUNDARY_LINE = re.compile(rb"^--([!-~]{1,70}?)(--)?[ \t]*\r?$", re.MULTILINE)


def _reparse_with_actual_boundary(part: Message, content_type: str) -> Message | None:
    """A multipart whose declared boundary never occurs, re-read with the "--x" lines it does have."""
    payload = part.get_payload()
    data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    # The first "--x" line directly followed by a MIME header: a dashed line in prose is no boundary.
    match = next(
        (
            candidate
            for candidate in _BOUNDARY_LINE.finditer(data)
            if _HEADER_LINE.match(data[candidate.end() :].lstrip(b"\r\n"))
        ),
        None,
    )
    if match is None:
        return None
    boundary = match.group(1).decode("ascii", "replace")
    if '"' in boundary or "\\" in boundary:
        return None
    rebuilt = f'Content-Type: {content_type}; boundary="{boundary}"\n\n'.encode() + data
    reparsed = _parse_tree(rebuilt)
    if reparsed is None or not reparsed.is_multipart() or not reparsed.get_payload():
        return None
    return reparsed


def _normalise_cid_links(html: str) -> str:
    return _CID_REFERENCE.sub(
        lambda match: f'{match.group(1)}"cid:{normalise_content_id(match.group(3))}"', html
    )


def _segment_raw_html(segment: _Segment) -> str:
    if segment.html is not None:
        return segment.html
    return text_to_html(segment.text or "")


def _join_text(texts: Iterable[str | None]) -> str | None:
    present = [text for text in texts if text is not None]
    if not present:
        return None
    return (
        "\n\n".join(text.strip("\n") for text in present if text.strip()) if len(present) > 1 else present[0]
    )


def _forward_summary(forwarded: ForwardedMessage, parsed: ParsedEmail, filename: str) -> str:
    sender = (
        f"{forwarded.from_name} <{forwarded.from_address}>" if forwarded.from_name else forwarded.from_address
    )
    lines = ["---------- Forwarded message ----------", f"From: {sender}"]
    if forwarded.date is not None:
        lines.append(f"Date: {forwarded.date.isoformat()}")
    lines += [f"Subject: {forwarded.subject}", ""]
    text = forwarded.text
    if len(parsed.body_text) > len(text):
        text += f"\n[… the full message is in the attachment {filename}]"
    lines.append(text)
    inner_files = [attachment.filename for attachment in parsed.attachments]
    if inner_files:
        lines += ["", f"[Attachments in {filename}: {', '.join(inner_files)}]"]
    return "\n".join(lines)


def _parse_tree(raw: bytes) -> Message | None:
    try:
        message = BytesParser(policy=_PARSE_POLICY).parsebytes(raw)
    except Exception:  # noqa: BLE001 - the caller decides what an unreadable message means
        return None
    return message if _raw_headers(message) else None


_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")


def _drop_malformed_header_lines(raw: bytes, defects: list[str]) -> bytes:
    """Remove a stray line without a colon from the header block when real headers follow it.

    The stdlib ends the headers at such a line, so the Content-Type below it would be read as body
    text and a base64 body shown as gibberish. Only when every following line up to the blank line
    is a header (or a continuation) is the stray line dropped: a body that starts without a blank
    line stays body.
    """
    end = min(
        (position for position in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if position >= 0), default=-1
    )
    if end < 0:
        return raw
    block = raw[:end].split(b"\n")
    kept: list[bytes] = []
    dropped: list[bytes] = []
    for index, line in enumerate(block):
        content = line.rstrip(b"\r")
        if index == 0 and content.startswith(b"From "):
            kept.append(line)
            continue
        if _HEADER_LINE.match(content) or (content[:1] in (b" ", b"\t") and kept):
            kept.append(line)
            continue
        following = [rest.rstrip(b"\r") for rest in block[index + 1 :]]
        header_follows = any(_HEADER_LINE.match(rest) for rest in following)
        all_headers = all(_HEADER_LINE.match(rest) or rest[:1] in (b" ", b"\t") for rest in following)
        if not (kept and header_follows and all_headers):
            return raw
        dropped.append(content)
    if not dropped:
        return raw
    for line in dropped:
        defects.append(f"Ignored a malformed header line {line[:60].decode('ascii', 'replace')!r}")
    return b"\n".join(kept) + raw[end:]


def _charset_hint(message: Message) -> str | None:
    """The charset of the first text part: older clients wrote raw 8-bit headers in it."""
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, level = stack.pop(0)
        raw = _first_raw(_raw_headers(part), "content-type")
        if raw is not None:
            main, params = parse_parameterised(raw)
            if main.startswith("text/") and params.get("charset"):
                return params["charset"]
        if part.is_multipart() and level < 5:
            stack.extend((child, level + 1) for child in part.get_payload() if isinstance(child, Message))
    return None


def _content_hash(raw: bytes, headers: dict[str, list[str]]) -> str:
    """A hash of what the sender wrote, the same whichever door delivered the mail.

    Trace headers (Received, Delivered-To, Return-Path…) differ per door and line endings differ
    between SMTP and IMAP, so only the sender's headers and the body with LF line ends count.
    """
    digest = hashlib.sha256()
    for name in ("from", "to", "cc", "subject", "date", "message-id"):
        for value in headers.get(name, []):
            digest.update(
                name.encode()
                + b":"
                + re.sub(r"\s+", " ", value).strip().encode("utf-8", "surrogatepass")
                + b"\n"
            )
    positions = [position for position in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if position >= 0]
    body = raw[min(positions) :] if positions else b""
    digest.update(b"\n" + body.replace(b"\r\n", b"\n").strip())
    return digest.hexdigest()


# --- the entry point --------------------------------------------------------------------------


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one raw RFC 5322 message; raises only `UnparseableEmail` (for input that is no mail)."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError(f"parse_email() takes bytes, not {type(raw).__name__}")
    try:
        return _parse(bytes(raw), depth=0)
    except UnparseableEmail:
        raise
    except RecursionError as error:
        raise UnparseableEmail("The message is nested too deeply to read") from error
    except Exception as error:  # noqa: BLE001 - a parser bug must land in the failed-mail inbox, not lose mail
        raise UnparseableEmail(f"Internal parser error: {type(error).__name__}: {error}") from error


def _parse(raw: bytes, *, depth: int) -> ParsedEmail:
    defects: list[str] = []
    stripped = raw.lstrip(b"\r\n\t ")
    if not stripped.strip():
        raise UnparseableEmail("The message is empty")
    if len(stripped) != len(raw):
        defects.append("Blank lines before the headers were ignored")
    stripped = _drop_malformed_header_lines(stripped, defects)
    message = _parse_tree(stripped)
    if message is None:
        raise UnparseableEmail("No header lines: this is not an e-mail message")
    raw_headers = _raw_headers(message)
    hint = _charset_hint(message)

    decoded_headers: list[tuple[str, str]] = []
    by_name: dict[str, list[str]] = {}
    eight_bit: dict[str, list[str]] = {}  # 8-bit decoded, encoded words still encoded (for addresses)
    for name, value in raw_headers:
        key = name.lower()
        partially = raw_header_text(value, hint, defects, name=name)
        if key in ("to", "cc", "from", "reply-to", "sender", "bcc"):
            eight_bit.setdefault(key, []).append(partially)
        text = decode_encoded_words(partially, defects)
        text = _storable(text)
        decoded_headers.append((name, text))
        by_name.setdefault(key, []).append(text)

    def first(name: str) -> str:
        values = by_name.get(name)
        return values[0] if values else ""

    def addresses(name: str) -> list[EmailAddress]:
        found: list[EmailAddress] = []
        for value in eight_bit.get(name, []):
            found += parse_addresses(value, defects, header=name.title())
        return found

    senders = addresses("from")
    from_address = senders[0] if senders else None
    return_path_raw = by_name.get("return-path")
    return_path = normalise_message_id(return_path_raw[0]) if return_path_raw else None
    if from_address is None:
        for fallback in ("sender", "reply-to"):
            candidates = addresses(fallback)
            if candidates:
                from_address = candidates[0]
                defects.append(f"No usable From address; using {fallback.title()}")
                break
    if from_address is None and return_path:
        from_address = EmailAddress(address=return_path)
        defects.append("No usable From address; using Return-Path")
    if from_address is None:
        defects.append("No sender address")

    subject = _one_line(first("subject"))
    message_id = normalise_message_id(first("message-id"))
    if not message_id:
        defects.append("No Message-ID")
    in_reply_to_ids = message_ids(" ".join(by_name.get("in-reply-to", [])))
    references = message_ids(" ".join(by_name.get("references", [])))
    date = _parse_date(first("date"), defects) if "date" in by_name else None
    if "date" not in by_name:
        defects.append("No Date header")

    walker = _Walker(hint=hint, depth=depth, defects=defects)
    found = _Found()
    walker.walk(message, found)

    is_forward = quotes.is_forward_subject(subject)
    own = [segment for segment in found.segments if not segment.is_forward_summary]
    forwards = [segment for segment in found.segments if segment.is_forward_summary]
    has_html = any(segment.html is not None for segment in own)

    sanitised: dict[int, str] = {}
    for index, segment in enumerate(found.segments):
        if segment.html is not None:
            sanitised[index] = sanitize_html(_HEAD.sub("", segment.html))

    def segment_text(index: int, segment: _Segment) -> str:
        if segment.text is not None:
            return segment.text
        return html_to_text(sanitised.get(index, ""))

    texts = [segment_text(index, segment) for index, segment in enumerate(found.segments)]
    body_text = _storable("\n\n".join(text.strip("\n") for text in texts if text.strip()))
    body_html = None
    if has_html:
        body_html = "".join(
            sanitised[index] if segment.html is not None else text_to_html(segment.text or "")
            for index, segment in enumerate(found.segments)
        )

    own_text = "\n\n".join(
        text.strip("\n")
        for segment, text in zip(found.segments, texts, strict=True)
        if not segment.is_forward_summary and text.strip()
    )
    forward_text = "\n\n".join(segment.text or "" for segment in forwards)
    reply = quotes.split_reply(own_text, is_forward=is_forward)
    new_text = _storable("\n\n".join(part for part in (reply.new_text, forward_text) if part.strip()))

    new_html = body_html
    if has_html:
        own_raw = "".join(_segment_raw_html(segment) for segment in own)
        cut = quotes.cut_html_reply(own_raw, is_forward=is_forward)
        if cut is not None:
            new_html = sanitize_html(_HEAD.sub("", cut)) + "".join(
                text_to_html(segment.text or "") for segment in forwards
            )

    referenced: set[str] = set()
    for segment in own:
        if segment.html:
            referenced.update(match.group(3) for match in _CID_REFERENCE.finditer(segment.html))
    attachments: list[EmailAttachment] = []
    inline_images: dict[str, int] = {}
    for attachment in found.attachments:
        if (
            attachment.content_id
            and attachment.content_id in referenced
            and attachment.content_id not in inline_images
        ):
            inline_images[attachment.content_id] = len(attachments)
            attachment = EmailAttachment(
                filename=attachment.filename,
                content_type=attachment.content_type,
                content=attachment.content,
                content_id=attachment.content_id,
                is_inline=True,
            )
        attachments.append(attachment)
    missing = sorted(referenced - set(inline_images))
    if missing:
        defects.append(
            f"HTML shows {len(missing)} inline image(s) the message does not contain: {', '.join(missing[:3])}"
        )

    from_addr = from_address.address if from_address else ""
    reasons = list(classify.auto_submitted_reasons(by_name, from_address=from_addr, return_path=return_path))
    report = None
    if "delivery-status" in found.report_types or found.dsn_blocks is not None:
        report = classify.delivery_report_from_fields(
            found.dsn_blocks or [],
            original_message_id=found.returned_message_id or classify.message_id_in_text(body_text),
        )
        reasons.append("Delivery status notification")
    elif classify.looks_like_bounce(subject=subject, from_address=from_addr, return_path=return_path):
        report = classify.DeliveryReport(
            original_message_id=found.returned_message_id or classify.message_id_in_text(body_text),
            recipients=_bounce_recipients(body_text),
            is_standard=False,
        )
        reasons.append("Bounce message")
    if "disposition-notification" in found.report_types:
        reasons.append("Read receipt (disposition notification)")
    score, flagged = classify.spam_verdict(by_name)

    return ParsedEmail(
        message_id=message_id,
        in_reply_to=in_reply_to_ids[0] if in_reply_to_ids else "",
        references=tuple(references),
        subject=subject,
        from_address=from_addr,
        from_name=from_address.name if from_address else "",
        to=tuple(addresses("to")),
        cc=tuple(addresses("cc")),
        reply_to=tuple(addresses("reply-to")),
        date=date,
        body_text=body_text,
        body_html=body_html,
        new_text=new_text,
        new_html=new_html,
        signature=_storable(reply.signature),
        attachments=tuple(attachments),
        inline_images=inline_images,
        forwarded=tuple(found.forwarded),
        is_auto_submitted=bool(reasons),
        auto_submitted_reasons=tuple(dict.fromkeys(reasons)),
        is_bounce=report is not None and report.is_failure,
        delivery_report=report,
        spam_score=score,
        is_spam_flagged=flagged,
        defects=tuple(dict.fromkeys(defects)),
        content_hash=_content_hash(stripped, by_name),
        headers=tuple(decoded_headers),
        list_id=_one_line(first("list-id")),
        return_path=return_path,
    )


_QMAIL_RECIPIENT = re.compile(r"^\s*<([^<>\s]+@[^<>\s]+)>\s*:?\s*\n(.*)$", re.MULTILINE)


def _bounce_recipients(text: str) -> tuple[classify.DeliveryRecipient, ...]:
    """Failed recipients of an old-style (qmail / Postfix without DSN) bounce: "<ann@x.org>:" lines."""
    recipients = []
    for match in _QMAIL_RECIPIENT.finditer(text):
        status = re.search(r"\b([245]\.\d{1,3}\.\d{1,3})\b", match.group(2))
        recipients.append(
            classify.DeliveryRecipient(
                address=match.group(1),
                action="failed",
                status=status.group(1) if status else "",
                diagnostic=match.group(2).strip()[:500],
            )
        )
    return tuple(recipients)


# Common characters written differently in the two Chinese scripts (simplified, traditional).
_SIMPLIFIED_ONLY = frozenset("这们说国为时来请问题无没发对单后开关机连码号谢还过们个东买卖错账户订货运费让见")
_TRADITIONAL_ONLY = frozenset("這們說國為時來請問題無沒發對單後開關機連碼號謝還過個東買賣錯賬戶訂貨運費讓見")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def guess_language(parsed: ParsedEmail) -> str:
    """The language to greet a first-time sender in: Content-Language when it names one we ship,
    else Chinese (simplified or traditional, by the characters used) when the subject and text are
    mostly Chinese; "" (the site's default) otherwise. Only a new customer's language is set from it.
    """
    declared = parsed.header("Content-Language").split(",")[0].strip().lower()
    if declared.startswith(("zh-hant", "zh-tw", "zh-hk", "zh-mo")):
        return "zh-hant"
    if declared.startswith(("zh-hans", "zh-cn", "zh-sg", "zh")):
        return "zh-hans"
    if declared.startswith("en"):
        return "en"
    text = f"{parsed.subject}\n{parsed.new_text}"[:4000]
    han = len(_CJK.findall(text))
    letters = sum(1 for character in text if character.isalpha())
    if not han or han * 3 < letters:  # a Chinese name in an English mail stays English
        return ""
    simplified = sum(1 for character in text if character in _SIMPLIFIED_ONLY)
    traditional = sum(1 for character in text if character in _TRADITIONAL_ONLY)
    return "zh-hant" if traditional > simplified else "zh-hans"


def to_inbound_message(
    parsed: ParsedEmail, *, team_slug: str = "", full_body: bool = False
) -> InboundMessage:
    """The channel-neutral message for `channels_intake.services.ingest`.

    The body is what the sender wrote now (`new_text` / `new_html`): right for a reply on a known
    ticket, whose quoted history is our own earlier message. A mail that opens a ticket may carry
    history the agent needs (a forwarded conversation): pass `full_body=True` for the full text
    and HTML. The raw message stays with the stored RawInbound either way. Threading
    (ticket_number) is left to the caller, which knows the stored Message-IDs and reply tokens.
    """
    from channels_intake.base import InboundMessage

    return InboundMessage(
        channel="email",
        sender_email=parsed.from_address,
        sender_name=parsed.from_name,
        subject=parsed.subject,
        body_text=parsed.body_text if full_body else parsed.new_text,
        body_html=parsed.body_html if full_body else parsed.new_html,
        external_id=parsed.external_id,
        team_slug=team_slug,
        language=guess_language(parsed),
        files=tuple(attachment.to_incoming_file() for attachment in parsed.attachments),
    )
