"""The IMAP door: a team's mailbox polled for new mail, each message stored before it is touched.

`mailbox_poll` reads one `MailboxAccount` (the Celery beat job and `manage.py fetch_mail` call it):

1. Under a per-mailbox PostgreSQL advisory lock, so two workers never poll one mailbox at once.
2. It SELECTs the folder and compares its UIDVALIDITY with the one remembered: when the server
   renumbered the folder (or on the first poll) every message is a candidate again, otherwise
   only UIDs above the last one done (`UID SEARCH UID n+1:*`), in UID order. Mail the server
   received before the mailbox's `fetch_since` is left alone (connecting a mailbox full of old
   mail must not ticket all of it).
3. Per message, in UID order: the Message-ID (a header fetch) or, failing that, the content hash
   says whether this mailbox stored it before (a `MailboxReceipt`); if not, `BODY.PEEK[]` (which
   never sets \\Seen) and `raw_inbound_store(door="imap")` with the receipt, committed together.
   Only THEN is the message marked \\Seen or moved, and only THEN the remembered last UID advanced.

A connection lost anywhere in there loses nothing (the mail is still unread or unmoved on the
server) and duplicates nothing (the receipt of a stored message makes the next poll only finish
its flag or move). Nothing is ever deleted before it is stored; a move is MOVE, or COPY then
\\Deleted + UID EXPUNGE of that one UID (UIDPLUS), never a plain EXPUNGE of the whole folder.

Sign-in is LOGIN (AUTHENTICATE PLAIN for non-ASCII credentials) or SASL XOAUTH2 with an OAuth
access token renewed from the refresh token when it has expired or the server refused it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import imaplib
import json
import logging
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from channels_intake.models import (
    AfterFetch,
    Door,
    MailboxAccount,
    MailboxAuthMethod,
    MailboxReceipt,
    MailboxSecurity,
    SecretUnavailable,
    is_loopback_host,
)
from channels_intake.services import peek_message_id, raw_inbound_store

logger = logging.getLogger(__name__)

# pg_try_advisory_lock(class, id): the class keeps these locks apart from any other advisory lock.
_LOCK_CLASS = 0x494D4150  # "IMAP"
_HEADER_CHUNK = 100
# An access token this close to its expiry is renewed before use rather than refused mid-poll.
_TOKEN_MARGIN = timedelta(seconds=60)
_MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_INTERNALDATE_VALUE = re.compile(
    rb" ?(?P<day>\d{1,2})-(?P<month>[A-Za-z]{3})-(?P<year>\d{4}) (?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2}) "
    rb"(?P<sign>[-+])(?P<zone_hours>\d{2})(?P<zone_minutes>\d{2})"
)
_MONTHS = {name: number for number, name in enumerate(
    (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"), start=1
)}
# imaplib refuses response lines over 1 MB; the UID SEARCH of a folder with 150,000 messages is longer.
_MAX_LINE = 64 * 1024 * 1024


class MailboxError(Exception):
    """Something on the mail server's side stopped the poll; recorded on the account as its last error."""


class MailboxConnectionError(MailboxError):
    pass


class MailboxAuthError(MailboxError):
    pass


class OAuthError(MailboxAuthError):
    pass


class MailboxProtocolError(MailboxError):
    pass


class _LongLines:
    def readline(self) -> bytes:
        line = self.file.readline(_MAX_LINE + 1)  # type: ignore[attr-defined]
        if len(line) > _MAX_LINE:
            raise imaplib.IMAP4.error(f"got more than {_MAX_LINE} bytes")
        return line


class _IMAP4(_LongLines, imaplib.IMAP4):
    pass


class _IMAP4_SSL(_LongLines, imaplib.IMAP4_SSL):  # noqa: N801 - imaplib's name
    pass


@dataclass
class PollResult:
    mailbox_id: int
    stored: int = 0  # new inbound messages
    already_stored: int = 0  # stored by an earlier poll that was cut off: only the flag or move was left
    left_in_mailbox: int = 0  # too large to take: left unread on the server, and said so
    older_skipped: int = 0  # received before the mailbox's `fetch_since`: left alone
    busy: bool = False  # another worker holds this mailbox's lock
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def is_ok(self) -> bool:
        return not self.error and not self.busy

    def summary(self) -> str:
        if self.busy:
            return "busy (another worker is polling this mailbox)"
        parts = [f"{self.stored} new", f"{self.already_stored} finished from an earlier poll"]
        if self.left_in_mailbox:
            parts.append(f"{self.left_in_mailbox} left in the mailbox")
        if self.older_skipped:
            parts.append(f"{self.older_skipped} older than the mailbox's start date skipped")
        text = ", ".join(parts)
        if self.error:
            text += f"; error: {self.error}"
        for warning in self.warnings:
            text += f"; warning: {warning}"
        for note in self.notes:
            text += f"; {note}"
        return text


# --- names and strings on the wire ----------------------------------------------------------------


def encode_folder_name(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3), e.g. "已处理" -> "&XfJZBFQG-"."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for character in name:
        if 0x20 <= ord(character) <= 0x7E:
            flush()
            out.append("&-" if character == "&" else character)
        else:
            pending.append(character)
    flush()
    return "".join(out)


def quote_folder(name: str) -> str:
    encoded = encode_folder_name(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_internaldate(value: bytes) -> datetime | None:
    """An INTERNALDATE ("17-Jul-1996 02:44:25 -0700") as an aware datetime; None when malformed."""
    match = _INTERNALDATE_VALUE.fullmatch(value)
    if match is None or match.group("month") not in _MONTHS:
        return None
    day, year, hour, minute, second, zone_hours, zone_minutes = (
        int(match.group(name)) for name in ("day", "year", "hour", "minute", "second", "zone_hours", "zone_minutes")
    )
    offset = timedelta(hours=zone_hours, minutes=zone_minutes)
    try:
        return datetime(year, _MONTHS[match.group("month")], day, hour, minute, second,
                        tzinfo=dt_timezone(-offset if match.group("sign") == b"-" else offset))
    except ValueError:
        return None


@dataclass(frozen=True)
class _Header:
    size: int
    received_at: datetime | None
    message_id: str


def xoauth2_string(*, username: str, access_token: str) -> bytes:
    """The SASL XOAUTH2 initial response (before base64, which imaplib adds), as Google and
    Microsoft document it: "user=<user>^Aauth=Bearer <token>^A^A"."""
    return f"user={username}\x01auth=Bearer {access_token}\x01\x01".encode()


def _text(data: object) -> str:
    """An IMAP response's data as one line of text for an error message."""
    if isinstance(data, list | tuple):
        return " ".join(_text(item) for item in data if item is not None)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)


# --- OAuth 2.0 -----------------------------------------------------------------------------------


def _token_url_allowed(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    # A refresh token and client secret go in the request body: never over plain HTTP to another host.
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname or ""))


def oauth_refresh(*, mailbox: MailboxAccount) -> str:
    """Renew the access token from the refresh token, store both (sealed), and return it.

    Providers that rotate refresh tokens (Microsoft) send a new one with each access token; it
    replaces the old one at once, because the old one may stop working.
    """
    url = mailbox.effective_oauth_token_url
    if not _token_url_allowed(url):
        raise OAuthError(f"The OAuth token URL must be https (got {url!r}).")
    refresh_token = mailbox.oauth_refresh_token
    if not refresh_token:
        raise OAuthError("No OAuth refresh token is stored for this mailbox: connect it again.")
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": mailbox.oauth_client_id}
    if client_secret := mailbox.oauth_client_secret:
        form["client_secret"] = client_secret
    if scope := mailbox.effective_oauth_scope:
        form["scope"] = scope
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.HELPDESK_IMAP_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read(_MAX_TOKEN_RESPONSE_BYTES)
    except urllib.error.HTTPError as error:
        detail = error.read(_MAX_TOKEN_RESPONSE_BYTES).decode("utf-8", "replace")
        with contextlib.suppress(ValueError, AttributeError):
            payload = json.loads(detail)
            detail = ": ".join(str(payload[key]) for key in ("error", "error_description") if payload.get(key))
        raise OAuthError(f"The OAuth token endpoint refused to renew the access token (HTTP {error.code}): "
                         f"{detail[:500]}") from error
    except (urllib.error.URLError, OSError) as error:
        raise OAuthError(f"Cannot reach the OAuth token endpoint {url}: {getattr(error, 'reason', error)}") from error
    try:
        payload = json.loads(body)
        access_token = str(payload["access_token"])
        expires_in = int(payload.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError) as error:
        raise OAuthError("The OAuth token endpoint answered without an access token.") from error

    mailbox.oauth_access_token = access_token
    mailbox.oauth_access_token_expires_at = timezone.now() + timedelta(seconds=expires_in)
    fields = ["oauth_access_token_sealed", "oauth_access_token_expires_at"]
    if new_refresh_token := payload.get("refresh_token"):
        mailbox.oauth_refresh_token = str(new_refresh_token)
        fields.append("oauth_refresh_token_sealed")
    mailbox.save(update_fields=fields)
    return access_token


def oauth_access_token(*, mailbox: MailboxAccount) -> tuple[str, bool]:
    """A usable access token and whether it was renewed just now."""
    expires_at = mailbox.oauth_access_token_expires_at
    token = mailbox.oauth_access_token
    if token and expires_at is not None and expires_at - _TOKEN_MARGIN > timezone.now():
        return token, False
    return oauth_refresh(mailbox=mailbox), True


# --- the connection ------------------------------------------------------------------------------


def _ssl_context() -> ssl.SSLContext:
    # Certificates are always verified; a private CA (an in-house server) is trusted besides the system's.
    context = ssl.create_default_context()
    if settings.HELPDESK_IMAP_CA_FILE:
        context.load_verify_locations(cafile=settings.HELPDESK_IMAP_CA_FILE)
    return context


@contextlib.contextmanager
def _wire_errors(doing: str) -> Iterator[None]:
    """imaplib's and the socket's exceptions as MailboxErrors that say what was being done."""
    try:
        yield
    except imaplib.IMAP4.abort as error:
        raise MailboxConnectionError(f"Connection lost while {doing}: {error}") from error
    except imaplib.IMAP4.error as error:
        raise MailboxProtocolError(f"The server refused {doing}: {error}") from error
    except ssl.SSLError as error:
        raise MailboxConnectionError(f"TLS failed while {doing}: {error}") from error
    except (OSError, EOFError) as error:
        raise MailboxConnectionError(f"Connection failed while {doing}: {error}") from error


class _Session:
    """One signed-in IMAP connection, with what the poller needs of it."""

    def __init__(self, mailbox: MailboxAccount) -> None:
        self.mailbox = mailbox
        self.imap = self._connect()
        self.capabilities: set[str] = set()

    def _connect(self) -> imaplib.IMAP4:
        mailbox = self.mailbox
        timeout = settings.HELPDESK_IMAP_TIMEOUT_SECONDS
        where = f"{mailbox.host}:{mailbox.port}"
        if mailbox.security == MailboxSecurity.NONE and not is_loopback_host(mailbox.host):
            raise MailboxConnectionError(f"Refusing to connect to {where} without TLS: only loopback servers may.")
        with _wire_errors(f"connecting to {where}"):
            if mailbox.security == MailboxSecurity.SSL:
                return _IMAP4_SSL(mailbox.host, mailbox.port, ssl_context=_ssl_context(), timeout=timeout)
            imap = _IMAP4(mailbox.host, mailbox.port, timeout=timeout)
        if mailbox.security == MailboxSecurity.STARTTLS:
            try:
                if "STARTTLS" not in imap.capabilities:
                    raise MailboxConnectionError(f"{where} does not offer STARTTLS.")
                with _wire_errors(f"starting TLS with {where}"):
                    imap.starttls(ssl_context=_ssl_context())
            except BaseException:
                self._close(imap)
                raise
        return imap

    @staticmethod
    def _close(imap: imaplib.IMAP4) -> None:
        with contextlib.suppress(Exception):
            imap.shutdown()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.imap.logout()
        self._close(self.imap)

    def sign_in(self) -> None:
        if self.mailbox.auth_method == MailboxAuthMethod.OAUTH2:
            self._sign_in_oauth()
        else:
            self._sign_in_password()
        with _wire_errors("listing capabilities"):
            _, data = self.imap.capability()
        self.capabilities = set(_text(data).upper().split())

    def _sign_in_password(self) -> None:
        username, password = self.mailbox.username, self.mailbox.password
        if "LOGINDISABLED" in self.imap.capabilities:
            raise MailboxAuthError("The server refuses passwords on this connection: use SSL/TLS or STARTTLS.")
        try:
            if username.isascii() and password.isascii():
                self.imap.login(username, password)
            else:
                # LOGIN cannot carry non-ASCII; SASL PLAIN carries UTF-8.
                plain = b"\x00" + username.encode() + b"\x00" + password.encode()
                self.imap.authenticate("PLAIN", lambda _challenge: plain)
        except imaplib.IMAP4.abort as error:
            raise MailboxConnectionError(f"Connection lost while signing in: {error}") from error
        except imaplib.IMAP4.error as error:
            raise MailboxAuthError(f"Sign-in refused for {username}: {_text(error.args)}") from error
        except (OSError, EOFError) as error:
            raise MailboxConnectionError(f"Connection failed while signing in: {error}") from error

    def _try_xoauth2(self, access_token: str) -> str:
        """Authenticate with XOAUTH2; "" on success, else the server's reason."""
        initial = xoauth2_string(username=self.mailbox.username, access_token=access_token)
        challenges: list[bytes] = []

        def respond(challenge: bytes) -> bytes:
            # The first challenge is empty; a second one is the server's JSON error, answered
            # with an empty line so it can finish with NO.
            challenges.append(challenge or b"")
            return initial if len(challenges) == 1 else b""

        try:
            self.imap.authenticate("XOAUTH2", respond)
        except imaplib.IMAP4.abort as error:
            raise MailboxConnectionError(f"Connection lost while signing in: {error}") from error
        except imaplib.IMAP4.error as error:
            detail = _text(error.args)
            if len(challenges) > 1 and challenges[1]:
                detail += f" ({challenges[1].decode('utf-8', 'replace')})"
            return detail
        except (OSError, EOFError) as error:
            raise MailboxConnectionError(f"Connection failed while signing in: {error}") from error
        return ""

    def _sign_in_oauth(self) -> None:
        access_token, renewed = oauth_access_token(mailbox=self.mailbox)
        refusal = self._try_xoauth2(access_token)
        if refusal and not renewed:
            # Revoked or expired early: renew once and sign in on a fresh connection.
            access_token = oauth_refresh(mailbox=self.mailbox)
            self._close(self.imap)
            self.imap = self._connect()
            refusal = self._try_xoauth2(access_token)
        if refusal:
            raise MailboxAuthError(f"XOAUTH2 sign-in refused for {self.mailbox.username}: {refusal}")

    # --- folder work ---

    def peer_address(self) -> str | None:
        with contextlib.suppress(Exception):
            return str(self.imap.sock.getpeername()[0])
        return None

    def select(self, folder: str) -> int:
        """Open `folder` read-write; its UIDVALIDITY."""
        with _wire_errors(f"opening folder {folder!r}"):
            typ, data = self.imap.select(quote_folder(folder))
            if typ != "OK":
                raise MailboxProtocolError(f"Cannot open folder {folder!r}: {_text(data)}")
            _, values = self.imap.response("UIDVALIDITY")
            if not values or values[0] is None:
                _, status = self.imap.status(quote_folder(folder), "(UIDVALIDITY)")
                match = re.search(rb"UIDVALIDITY (\d+)", b" ".join(v for v in status if isinstance(v, bytes)))
                values = [match.group(1)] if match else []
        if not values:
            raise MailboxProtocolError(f"The server gave no UIDVALIDITY for {folder!r}.")
        return int(values[-1])

    def ensure_folder(self, folder: str) -> None:
        with _wire_errors(f"creating folder {folder!r}"):
            typ, data = self.imap.list('""', quote_folder(folder))
            if typ == "OK" and any(item for item in data if item):
                return
            typ, data = self.imap.create(quote_folder(folder))
            if typ != "OK" and "ALREADYEXISTS" not in _text(data).upper():
                raise MailboxProtocolError(f"Cannot create folder {folder!r}: {_text(data)}")

    def uids_after(self, last_uid: int) -> list[int]:
        with _wire_errors("searching for new mail"):
            typ, data = self.imap.uid("SEARCH", f"UID {last_uid + 1}:*")
        if typ != "OK":
            raise MailboxProtocolError(f"UID SEARCH failed: {_text(data)}")
        # "n:*" also matches the highest UID when it is below n (RFC 3501): keep only newer ones.
        return sorted(uid for uid in (int(item) for item in _text(data).split()) if uid > last_uid)

    def headers(self, uids: list[int]) -> dict[int, _Header]:
        """Size, arrival time and Message-ID key of each UID still there."""
        with _wire_errors("reading message headers"):
            typ, data = self.imap.uid(
                "FETCH", ",".join(map(str, uids)),
                "(UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
            )
        if typ != "OK":
            raise MailboxProtocolError(f"FETCH of headers failed: {_text(data)}")
        found: dict[int, _Header] = {}
        for index, item in enumerate(data):
            if not isinstance(item, tuple):
                continue
            # Attributes after the literal arrive as the next plain item, e.g. b" UID 7)".
            following = data[index + 1] if index + 1 < len(data) and isinstance(data[index + 1], bytes) else b""
            attributes = item[0] + b" " + following
            uid_match, size_match = _UID.search(attributes), _SIZE.search(attributes)
            date_match = _INTERNALDATE.search(attributes)
            if uid_match:
                found[int(uid_match.group(1))] = _Header(
                    size=int(size_match.group(1)) if size_match else 0,
                    received_at=parse_internaldate(date_match.group(1)) if date_match else None,
                    message_id=peek_message_id(item[1] or b""),
                )
        return found

    def fetch(self, uid: int) -> bytes | None:
        """The whole message, without setting \\Seen; None when it vanished meanwhile."""
        with _wire_errors(f"fetching message UID {uid}"):
            typ, data = self.imap.uid("FETCH", str(uid), "(UID BODY.PEEK[])")
        if typ != "OK":
            raise MailboxProtocolError(f"FETCH of UID {uid} failed: {_text(data)}")
        for item in data:
            if isinstance(item, tuple) and b"BODY[]" in item[0].upper() and _uid_of(item[0]) in (uid, None):
                return bytes(item[1])
        return None

    def mark_seen(self, uid: int) -> None:
        with _wire_errors(f"marking UID {uid} as read"):
            typ, data = self.imap.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)")
        if typ != "OK":
            raise MailboxProtocolError(f"Cannot mark UID {uid} as read: {_text(data)}")

    def move(self, uid: int, folder: str) -> None:
        target = quote_folder(folder)
        with _wire_errors(f"moving UID {uid} to {folder!r}"):
            if "MOVE" in self.capabilities:
                typ, data = self.imap.uid("MOVE", str(uid), target)
                if typ != "OK":
                    raise MailboxProtocolError(f"Cannot move UID {uid} to {folder!r}: {_text(data)}")
                return
            typ, data = self.imap.uid("COPY", str(uid), target)
            if typ != "OK":
                raise MailboxProtocolError(f"Cannot copy UID {uid} to {folder!r}: {_text(data)}")
            typ, data = self.imap.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
            if typ != "OK":
                raise MailboxProtocolError(f"Cannot remove UID {uid} after copying it: {_text(data)}")
            # Without UIDPLUS an EXPUNGE would also remove what someone else marked deleted: the
            # copy is made and the original flagged; the mail client's own expunge removes it.
            if "UIDPLUS" in self.capabilities:
                self.imap.uid("EXPUNGE", str(uid))


def _uid_of(attributes: bytes) -> int | None:
    match = _UID.search(attributes)
    return int(match.group(1)) if match else None


@contextlib.contextmanager
def _session(mailbox: MailboxAccount) -> Iterator[_Session]:
    session = _Session(mailbox)
    try:
        session.sign_in()
        yield session
    finally:
        session.close()


# --- the poll ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _mailbox_lock(mailbox_id: int) -> Iterator[bool]:
    """Hold this mailbox's session-level advisory lock (True), or say another poller has it (False).

    Session-level, not transaction-level: the poll commits once per message and must keep the
    lock across those commits. A worker that dies loses its connection and with it the lock.
    """
    key = [_LOCK_CLASS, mailbox_id % 2**31]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def _known_receipt(*, mailbox: MailboxAccount, uidvalidity: int, uid: int, message_id: str) -> MailboxReceipt | None:
    receipts = MailboxReceipt.objects.filter(mailbox=mailbox).only("pk", "uidvalidity", "uid", "raw_inbound_id")
    receipt = receipts.filter(uidvalidity=uidvalidity, uid=uid).first()
    if receipt is None and message_id:
        receipt = receipts.filter(header_message_id=message_id).order_by("pk").first()
    return receipt


def _note_receipt(
    *, mailbox: MailboxAccount, uidvalidity: int, uid: int, earlier: MailboxReceipt, message_id: str, sha256: str
) -> None:
    """Remember that this UID is a message stored before (under another UID), for the next poll."""
    if (earlier.uidvalidity, earlier.uid) != (uidvalidity, uid):
        MailboxReceipt.objects.get_or_create(
            mailbox=mailbox, uidvalidity=uidvalidity, uid=uid,
            defaults={"raw_inbound_id": earlier.raw_inbound_id, "header_message_id": message_id, "sha256": sha256},
        )


def _store(
    *, session: _Session, mailbox: MailboxAccount, uidvalidity: int, uid: int, raw: bytes, sha256: str
) -> None:
    team_addresses = mailbox.team.email_addresses
    with transaction.atomic():
        # The receipt commits with the message: a poll cut off after this knows it was stored.
        row = raw_inbound_store(
            raw=raw,
            door=Door.IMAP,
            # The mailbox's team gets the mail, whatever alias it was addressed to.
            envelope_recipients=team_addresses[:1],
            remote_addr=session.peer_address(),
        )
        MailboxReceipt.objects.create(
            mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, raw_inbound=row,
            header_message_id=row.header_message_id, sha256=sha256,
        )


def _after_fetch(*, session: _Session, mailbox: MailboxAccount, uid: int, result: PollResult) -> None:
    try:
        if mailbox.after_fetch == AfterFetch.MOVE:
            session.move(uid, mailbox.move_to_folder.strip())
        else:
            session.mark_seen(uid)
    except MailboxProtocolError as error:
        # The mail is stored and ticketed: a server that refuses to flag or move it only leaves
        # the mailbox untidy. Said on the account; the poll goes on.
        result.warnings.append(str(error))


def _advance(mailbox: MailboxAccount, uid: int) -> None:
    MailboxAccount.objects.filter(pk=mailbox.pk, last_uid__lt=uid).update(last_uid=uid)
    mailbox.last_uid = max(mailbox.last_uid, uid)


def _handle(
    *, session: _Session, mailbox: MailboxAccount, uidvalidity: int, uid: int,
    header: _Header | None, result: PollResult,
) -> None:
    if header is None:  # expunged or moved by someone since the search: nothing left to take
        _advance(mailbox, uid)
        return
    size, message_id = header.size, header.message_id
    if mailbox.fetch_since and header.received_at and header.received_at < mailbox.fetch_since:
        result.older_skipped += 1
        _advance(mailbox, uid)
        return
    receipt = _known_receipt(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, message_id=message_id)
    if receipt is None:
        if size > settings.HELPDESK_EMAIL_MAX_BYTES:
            result.left_in_mailbox += 1
            result.warnings.append(
                f"Message UID {uid} ({size} bytes) is larger than HELPDESK_EMAIL_MAX_BYTES "
                f"({settings.HELPDESK_EMAIL_MAX_BYTES}): left unread in {mailbox.folder!r}."
            )
            _advance(mailbox, uid)
            return
        raw = session.fetch(uid)
        if raw is None:
            _advance(mailbox, uid)
            return
        sha256 = hashlib.sha256(raw).hexdigest()
        # Without a Message-ID only the content says whether it is a message stored before.
        receipt = (
            MailboxReceipt.objects.filter(mailbox=mailbox, sha256=sha256).order_by("pk").first()
            if not message_id else None
        )
        if receipt is None:
            _store(session=session, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, raw=raw, sha256=sha256)
            result.stored += 1
        else:
            _note_receipt(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, earlier=receipt,
                          message_id=message_id, sha256=sha256)
            result.already_stored += 1
    else:
        _note_receipt(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, earlier=receipt,
                      message_id=message_id, sha256="")
        result.already_stored += 1
    _after_fetch(session=session, mailbox=mailbox, uid=uid, result=result)
    _advance(mailbox, uid)


def _poll(mailbox: MailboxAccount, result: PollResult, max_messages: int | None) -> None:
    with _session(mailbox) as session:
        uidvalidity = session.select(mailbox.folder)
        if mailbox.last_uidvalidity != uidvalidity:
            if mailbox.last_uidvalidity is not None:
                result.notes.append(
                    f"UIDVALIDITY of {mailbox.folder!r} changed ({mailbox.last_uidvalidity} -> {uidvalidity}): "
                    "the folder was read again; messages stored before were recognised, not stored twice"
                )
            MailboxAccount.objects.filter(pk=mailbox.pk).update(last_uidvalidity=uidvalidity, last_uid=0)
            mailbox.last_uidvalidity, mailbox.last_uid = uidvalidity, 0
        if mailbox.after_fetch == AfterFetch.MOVE:
            session.ensure_folder(mailbox.move_to_folder.strip())
        uids = session.uids_after(mailbox.last_uid)
        if max_messages is not None:
            uids = uids[:max_messages]
        for start in range(0, len(uids), _HEADER_CHUNK):
            chunk = uids[start : start + _HEADER_CHUNK]
            headers = session.headers(chunk)
            for uid in chunk:
                _handle(session=session, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid,
                        header=headers.get(uid), result=result)


def _record_outcome(mailbox_id: int, result: PollResult) -> None:
    now = timezone.now()
    fields: dict[str, object] = {"last_polled_at": now}
    if result.error:
        fields.update(last_error=result.error, last_error_at=now)
    else:
        fields["last_success_at"] = now
        fields["last_error"] = "\n".join(result.warnings)
        if result.warnings:
            fields["last_error_at"] = now
    MailboxAccount.objects.filter(pk=mailbox_id).update(**fields)


def mailbox_poll(*, mailbox_id: int, max_messages: int | None = None, include_disabled: bool = False) -> PollResult:
    """Fetch the new mail of one mailbox (at most `max_messages`), store it, then flag or move it.

    Problems on the mail server's side (unreachable, wrong password, refused token, missing
    folder) end the poll and are recorded on the account (`last_error`), as is every warning;
    database errors are recorded when possible and raised. Either way, what was not stored is
    still unread on the server and is fetched by a later poll.
    """
    result = PollResult(mailbox_id=mailbox_id)
    with _mailbox_lock(mailbox_id) as acquired:
        if not acquired:
            result.busy = True
            return result
        mailbox = MailboxAccount.objects.select_related("team").filter(pk=mailbox_id).first()
        if mailbox is None or not (mailbox.is_enabled or include_disabled):
            result.notes.append("not polled: disabled or gone")
            return result
        try:
            _poll(mailbox, result, max_messages)
        except (MailboxError, SecretUnavailable) as error:
            result.error = str(error)
            logger.warning("Polling mailbox %s failed: %s", mailbox_id, error)
        except DatabaseError as error:
            result.error = f"Database error: {error}"
            with contextlib.suppress(DatabaseError):
                _record_outcome(mailbox_id, result)
            raise
        _record_outcome(mailbox_id, result)
    return result


def enabled_mailbox_ids() -> list[int]:
    return list(MailboxAccount.objects.filter(is_enabled=True).order_by("pk").values_list("pk", flat=True))

