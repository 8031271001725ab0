"""Signed reply addresses: they route to their ticket and cannot be forged, guessed or moved."""

from __future__ import annotations

import re

import pytest

from channels_intake.email.tokens import (
    reply_address,
    reply_token,
    split_address,
    ticket_id_from_address,
    ticket_id_from_token,
)


def test_reply_address_carries_a_token_that_leads_back_to_the_ticket():
    address = reply_address("Support@Example.com", 4711)

    assert re.fullmatch(r"Support\+[0-9a-z]+-[a-z2-7]{16}@Example\.com", address)
    assert ticket_id_from_address(address) == 4711
    assert ticket_id_from_address(address.upper()) == 4711  # servers that upper- or lower-case local parts


def test_tokens_of_other_tickets_differ_and_cannot_be_moved():
    token = reply_token(1)
    other = reply_token(2)

    assert token != other
    moved = other.split("-")[0] + "-" + token.split("-")[1]  # ticket 2's id with ticket 1's signature
    assert ticket_id_from_token(moved) is None


@pytest.mark.parametrize("token", ["", "abc", "1-", "1-aaaaaaaaaaaaaaaa", "zzzzzzzzzzzzz-aaaaaaaaaaaaaaaa", "1-a"])
def test_malformed_or_forged_tokens_are_refused(token):
    assert ticket_id_from_token(token) is None


def test_a_changed_secret_key_invalidates_tokens_unless_it_is_a_fallback(settings):
    original = settings.SECRET_KEY
    token = reply_token(99)

    settings.SECRET_KEY = "a-completely-different-secret-key-for-this-test-0123456789"
    settings.SECRET_KEY_FALLBACKS = []
    assert ticket_id_from_token(token) is None

    settings.SECRET_KEY_FALLBACKS = [original]
    assert ticket_id_from_token(token) == 99


def test_split_address_separates_the_tag():
    assert split_address("<Support+Abc-1@Example.COM>") == ("support@example.com", "abc-1")
    assert split_address("support@example.com") == ("support@example.com", "")
    assert split_address("no-at-sign") == ("no-at-sign", "")
