"""Access to the mail corpora the email tests read: ours (tests/fixtures/mail) and the peers'."""

from __future__ import annotations

import email
import email.policy
import os
import re
from pathlib import Path

from channels_intake.email import ParsedEmail, UnparseableEmail, parse_email

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mail"
# A copy of ../shared/peer-mail (licence kept with it): the tests must not depend on where the
# checkout sits next to other folders.
PEER_MAIL = Path(__file__).resolve().parents[2] / "fixtures" / "peer-mail"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str) -> ParsedEmail:
    return parse_email(raw(name))


def cpython_mail_dir() -> Path:
    """CPython's e-mail test data, shipped with the interpreter (see ../shared/peer-mail/README.md)."""
    import test.test_email

    return Path(os.path.dirname(test.test_email.__file__)) / "data"


_WORD = re.compile(rb"[A-Za-z]{4,}")
_STRUCTURE_LINE = re.compile(rb"^(--|[\w-]+:)")


def readable_content(parsed: ParsedEmail, *, depth: int = 0) -> tuple[str, list[bytes]]:
    """Everything an agent can read or download from a parsed mail, forwarded .eml files opened too."""
    pieces = [parsed.subject, parsed.body_text, parsed.body_html or ""]
    files: list[bytes] = []
    for attachment in parsed.attachments:
        pieces.append(attachment.content.decode("latin-1"))
        files.append(attachment.content)
        if attachment.content_type == "message/rfc822" and depth < 3:
            try:
                text, inner_files = readable_content(parse_email(attachment.content), depth=depth + 1)
            except UnparseableEmail:
                continue
            pieces.append(text)
            files += inner_files
    return "\n".join(pieces), files


def missing_content(raw_message: bytes, parsed: ParsedEmail) -> list[str]:
    """What of the message's text words and file bytes the parsed mail lost (empty when nothing).

    An independent oracle: the stdlib's compat32 parse of the same bytes. Every word of every text
    leaf (MIME header and boundary lines left out) must be readable somewhere, and every binary
    leaf must be an attachment (or inside a forwarded .eml).
    """
    tree = email.message_from_bytes(raw_message, policy=email.policy.compat32)
    haystack, blobs = readable_content(parsed)
    missing: list[str] = []
    for part in tree.walk():
        if part.is_multipart() and isinstance(part.get_payload(), list):
            continue
        data = part.get_payload(decode=True) or b""
        maintype = part.get_content_maintype()
        if maintype in ("text", "multipart", "message"):
            if b"\x1b" in data:
                continue  # ISO-2022 text: its ASCII-looking letters are encoded CJK, not words
            if part.get_content_subtype() == "html":
                # Head, styles and scripts are not content; neither are tags and entities.
                data = re.sub(rb"(?is)<(head|style|script)\b.*?</\1\s*>|<[^>]*>|&#?\w+;", b" ", data)
            if maintype == "multipart":
                # An unsplittable multipart: its preamble is, per RFC 2046, not content.
                first_boundary = re.search(rb"(?m)^--\S", data)
                data = data[first_boundary.start() :] if first_boundary else data
            lines = [line for line in data.splitlines() if not _STRUCTURE_LINE.match(line)]
            for word in _WORD.findall(b"\n".join(lines)):
                if word.decode("ascii") not in haystack:
                    missing.append(f"word {word.decode('ascii')!r} of a {part.get_content_type()} part")
        elif data and not any(data == blob or data in blob for blob in blobs):
            missing.append(f"{len(data)} bytes of a {part.get_content_type()} part")
    return missing
