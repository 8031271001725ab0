"""Signed reply tokens: `support+<token>@example.com` routes a reply to its ticket.

The token is the ticket id and an HMAC of it under SECRET_KEY, so a reply address cannot be
forged or guessed for another ticket. Tokens survive a SECRET_KEY rotation while the old key is in
SECRET_KEY_FALLBACKS. Lower-case letters, digits and one dash only: some mail servers lower-case
local parts, and none of these characters needs quoting in an address.
"""

from __future__ import annotations

import base64
import re

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "helpdesk.channels_intake.email.reply-token"
_SIGNATURE_LENGTH = 16  # base32 characters: 80 bits
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_TOKEN = re.compile(rf"^([0-9a-z]{{1,13}})-([a-z2-7]{{{_SIGNATURE_LENGTH}}})$")
_TAG_SEPARATOR = "+"
_MAX_ID = 2**63 - 1  # a bigint primary key


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, remainder = divmod(number, 36)
        digits = _DIGITS[remainder] + digits
        if not number:
            return digits


def _signature(ticket_id: int, secret: str) -> str:
    digest = salted_hmac(_SALT, str(ticket_id), secret=secret, algorithm="sha256").digest()
    return base64.b32encode(digest).decode("ascii").lower()[:_SIGNATURE_LENGTH]


def reply_token(ticket_id: int) -> str:
    """The token for replies to this ticket, e.g. "8c1-q3v7k2mxa5b6c7d2"."""
    if ticket_id < 0:
        raise ValueError("ticket ids are positive")
    return f"{_base36(ticket_id)}-{_signature(ticket_id, settings.SECRET_KEY)}"


def ticket_id_from_token(token: str) -> int | None:
    """The ticket id a token was made for, or None when it is malformed or its signature is wrong."""
    match = _TOKEN.match((token or "").strip().lower())
    if match is None:
        return None
    ticket_id = int(match.group(1), 36)
    if ticket_id > _MAX_ID:
        return None
    signature = match.group(2)
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    # Every key is compared (no early exit), each in constant time.
    valid = [constant_time_compare(signature, _signature(ticket_id, secret)) for secret in secrets]
    return ticket_id if any(valid) else None


def reply_address(mailbox: str, ticket_id: int) -> str:
    """`support@example.com` -> `support+<token>@example.com` for the Reply-To of outbound mail."""
    local, _, domain = mailbox.rpartition("@")
    if not local or not domain:
        raise ValueError(f"not an address: {mailbox!r}")
    local = local.split(_TAG_SEPARATOR, 1)[0]
    return f"{local}{_TAG_SEPARATOR}{reply_token(ticket_id)}@{domain}"


def split_address(address: str) -> tuple[str, str]:
    """ "Support+Tag@Example.com" -> ("support@example.com", "tag"); the tag is "" when there is none.

    Addresses are compared lower-cased throughout the intake (domain and, in practice, local part).
    """
    address = (address or "").strip().strip("<>").lower()
    local, _, domain = address.rpartition("@")
    if not local:
        return address, ""
    base, _, tag = local.partition(_TAG_SEPARATOR)
    return f"{base}@{domain}", tag


def ticket_id_from_address(address: str) -> int | None:
    """The ticket id of a valid reply address (`support+<token>@…`), else None."""
    _, tag = split_address(address)
    return ticket_id_from_token(tag) if tag else None
