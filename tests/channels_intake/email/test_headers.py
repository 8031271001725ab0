"""Subjects, names, addresses, ids and dates as the agent and the threading code need them."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta, timezone

from channels_intake.email import EmailAddress, parse_email
from tests.channels_intake.email.corpus import parse


def test_raw_gbk_headers_from_old_chinese_clients_are_decoded():
    parsed = parse("headers_raw_8bit_gbk.eml")

    assert parsed.subject == "发票开错了，请重新开"
    assert (parsed.from_name, parsed.from_address) == ("张三", "zhangsan@example.cn")
    assert parsed.to == (EmailAddress(address="support@example.com", name="客服"),)
    assert parsed.body_text == "发票抬头应为“上海某某有限公司”。"
    assert parsed.defects == ()


def test_raw_utf8_headers_are_decoded():
    parsed = parse("headers_raw_8bit_utf8.eml")

    assert parsed.subject == "Beställning 77 – fel färg 🙁"
    assert parsed.from_name == "Zoë Ångström"
    assert parsed.body_text == "Jag fick fel färg på tröjan."


def test_encoded_words_split_across_characters_and_charsets_make_one_subject():
    parsed = parse("headers_encoded_words_awkward.eml")

    assert parsed.subject == "报价单 and the € price plus café end"
    assert parsed.from_name == "张三"


def test_recipients_with_commas_in_names_are_kept_whole_and_junk_entries_skipped():
    parsed = parse("headers_encoded_words_awkward.eml")

    assert parsed.to == (
        EmailAddress(address="john@example.org", name="Doe, John"),
        EmailAddress(address="anna@example.de", name="Müller, Anna"),
        EmailAddress(address="team@example.com", name="Team"),
    )
    assert parsed.cc == ()  # "undisclosed-recipients:;" is an empty group, not an address
    assert "Skipped 1 invalid address(es) in To: 'bogus-entry'" in parsed.defects


def test_crlf_in_encoded_subject_or_name_cannot_inject_headers():
    parsed = parse("header_injection_crlf.eml")

    assert parsed.subject == "Hello Bcc: victim@example.org injected body"
    assert parsed.from_name == "Eve Bcc: victim@example.org"
    assert parsed.from_address == "eve@evil.example"
    for text in (parsed.subject, parsed.from_name):
        assert "\r" not in text and "\n" not in text
    assert parsed.body_text == "Normal body."


def test_thread_headers_are_normalised_for_lookup():
    parsed = parse("reply_gmail_english.eml")

    assert parsed.message_id == "CAJ+gmail-reply-023@mail.gmail.com"
    assert parsed.in_reply_to == "ticket-10023-msg-2@example.com"
    assert parsed.references == ("ticket-10023-msg-1@example.com", "ticket-10023-msg-2@example.com")
    assert parsed.date == datetime(2024, 3, 26, 9, 0, tzinfo=UTC)


def test_bare_message_id_comments_and_repeated_references_are_tolerated():
    parsed = parse("bad_date_bare_message_id.eml")

    assert parsed.message_id == "bare-id-042@example.org"
    assert parsed.in_reply_to == "ticket-10042-msg-1@example.com"
    assert parsed.references == ("a@example.com", "b@example.com")
    assert parsed.date is None
    assert "Unreadable Date header 'someday soon'" in parsed.defects
    assert parsed.body_text == "Hello."


def test_missing_date_and_message_id_are_reported_and_the_mail_still_has_a_stable_id():
    first = parse("missing_date_and_message_id.eml")

    assert first.message_id == ""
    assert first.date is None
    assert {"No Message-ID", "No Date header"} <= set(first.defects)
    assert first.body_text == "Please call me back."
    assert first.external_id == "sha256:" + first.content_hash
    assert len(first.content_hash) == 64


def test_content_hash_is_the_same_whichever_door_delivered_the_mail():
    body = b"From: Leo <leo@example.org>\nTo: support@example.com\nSubject: No id\n\nPlease call me back.\n"
    via_imap = (
        b"Return-Path: <leo@example.org>\nDelivered-To: support@example.com\nReceived: from a by b\n" + body
    )
    via_smtp = body.replace(b"\n", b"\r\n")
    other_mail = body.replace(b"call me back", b"call me tomorrow")

    hashes = {parse_email(message).external_id for message in (body, via_imap, via_smtp)}

    assert len(hashes) == 1
    assert parse_email(other_mail).external_id not in hashes


def test_dates_keep_their_zone_and_odd_formats_still_parse():
    def date_of(value: str):
        return parse_email(f"From: a@example.org\nDate: {value}\n\nx\n".encode()).date

    assert date_of("Wed, 27 Mar 2024 09:30:00 +0800") == datetime(
        2024, 3, 27, 9, 30, tzinfo=timezone(timedelta(hours=8))
    )
    assert date_of("27 Mar 2024 09:30:00 -0000") == datetime(2024, 3, 27, 9, 30, tzinfo=UTC)
    assert date_of("Wed, 27 Mar 2024 09:30:00 +0800 (CST)") == datetime(
        2024, 3, 27, 9, 30, tzinfo=timezone(timedelta(hours=8))
    )
    assert date_of("2024-03-27 09:30:00") == datetime(2024, 3, 27, 9, 30, tzinfo=UTC)
    assert date_of("Wed, 99 Foo 99999 99:99:99") is None


def test_ten_thousand_recipients_are_all_read_quickly():
    names = [f"用户{index}" for index in range(10_000)]
    to = ", ".join(
        f'"=?utf-8?B?{base64.b64encode(name.encode()).decode()}?=" <user{index}@example.com>'
        for index, name in enumerate(names)
    )
    cc = ", ".join(f"Person {index} <person{index}@example.org>" for index in range(10_000))
    raw = f"From: a@example.org\nTo: {to}\nCc: {cc}\nSubject: Newsletter\n\nHello all\n".encode()

    started = time.perf_counter()
    parsed = parse_email(raw)
    elapsed = time.perf_counter() - started

    assert len(parsed.to) == 10_000
    assert len(parsed.cc) == 10_000
    assert parsed.to[0] == EmailAddress(address="user0@example.com", name="用户0")
    assert parsed.to[-1] == EmailAddress(address="user9999@example.com", name="用户9999")
    assert parsed.cc[-1] == EmailAddress(address="person9999@example.org", name="Person 9999")
    assert parsed.body_text == "Hello all"
    # The stdlib's modern header parser needs ~12 s for this; ours is linear. Generous for a busy CI box.
    assert elapsed < 5


def test_sender_falls_back_to_reply_to_when_from_is_unusable():
    parsed = parse_email(
        b"From: not an address\nReply-To: Real Person <real@example.org>\nSubject: x\n\nhi\n"
    )

    assert (parsed.from_name, parsed.from_address) == ("Real Person", "real@example.org")
    assert "No usable From address; using Reply-To" in parsed.defects


def test_address_forms_seen_in_the_wild():
    parsed = parse_email(
        b"From: ann@example.org (Ann Example)\n"
        b"To: <mailto:bob@example.org>, 'carl@example.org' <carl@example.org>, Team: dan@example.org, eve@example.org;,"
        b" BOB@example.org\nSubject: x\n\nhi\n"
    )

    assert (parsed.from_name, parsed.from_address) == ("Ann Example", "ann@example.org")
    assert [address.address for address in parsed.to] == [
        "bob@example.org",
        "carl@example.org",
        "dan@example.org",
        "eve@example.org",
    ]
    assert parsed.to[1].name == ""  # a name that only repeats the address is no name


def test_raw_iso2022jp_subject_without_encoded_words_is_decoded():
    raw = b"From: a@example.jp\nSubject: " + "請求書の件".encode("iso-2022-jp") + b"\n\nx\n"

    assert parse_email(raw).subject == "請求書の件"
