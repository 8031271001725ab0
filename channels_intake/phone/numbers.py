"""Phone numbers as the phone channel stores and compares them: E.164 (`+8613812345678`)."""

from __future__ import annotations

import phonenumbers
from django.conf import settings


def default_region() -> str:
    """The region a number without a country code is read in (settings.HELPDESK_PHONE_DEFAULT_REGION)."""
    return str(getattr(settings, "HELPDESK_PHONE_DEFAULT_REGION", "CN") or "CN").upper()


def normalize_number(raw: str, *, region: str | None = None) -> str:
    """The number in E.164, or "" when it is not a possible phone number (anonymous, an extension…).

    A number with a leading "+" or an international prefix keeps its own country; any other is
    read as a number of `region` (default: the setting).
    """
    text = (raw or "").strip()
    if not text:
        return ""
    if text.startswith("00"):
        # The international call prefix most PBXs log (Asterisk's `src` for a foreign caller).
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, (region or default_region()).upper())
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def format_number(e164: str) -> str:
    """A stored E.164 number as people read it (international format), the input when it is not one."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
