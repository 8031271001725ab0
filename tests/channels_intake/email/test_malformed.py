"""Broken MIME still shows the customer's words; only input that is no mail at all is refused."""

from __future__ import annotations

import base64

import pytest

from channels_intake.email import UnparseableEmail, parse_email
from tests.channels_intake.email.corpus import parse

PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"


def test_missing_closing_boundary_keeps_text_and_attachment():
    parsed = parse("malformed_missing_close_boundary.eml")

    assert parsed.new_text == "The first part arrived."
    assert [(a.filename, a.content) for a in parsed.attachments] == [("report.pdf", PDF)]
    assert "Closing MIME boundary missing (in a multipart/mixed part)" in parsed.defects


def test_parts_using_another_boundary_than_declared_are_read_with_theirs():
    parsed = parse("malformed_wrong_boundary.eml")

    assert parsed.body_text == "My printer prints blank pages since the update."
    assert "multipart/mixed declared another boundary than its parts use; read with theirs" in parsed.defects


def test_multipart_without_boundary_is_read_as_text():
    parsed = parse("malformed_no_boundary_parameter.eml")

    assert parsed.body_text == "The password reset link has expired twice."
    assert "multipart/alternative part without usable boundary; its content is read as text" in parsed.defects


def test_stray_header_line_does_not_turn_the_headers_below_it_into_body():
    parsed = parse("malformed_broken_base64_and_headers.eml")

    # The Content-Transfer-Encoding under the stray line still applies, and unpadded base64 decodes.
    assert parsed.body_text == "The invoice total is wrong: 42 EUR instead of 24 EUR."
    assert "Ignored a malformed header line 'X-Weird-Header-Without-Colon'" in parsed.defects


def test_body_starting_without_blank_line_stays_body():
    parsed = parse_email(b"From: a@example.org\nSubject: hi\nthis line is body text\nand so is this\n")

    assert parsed.subject == "hi"
    assert parsed.body_text == "this line is body text\nand so is this"


def test_crlf_mbox_line_and_nul_byte():
    parsed = parse("mbox_from_line_crlf_nul.eml")

    assert parsed.subject == "CRLF and a NUL"
    assert parsed.from_address == "rick@example.org"
    assert parsed.body_text == "Line one\nLine\ufffdtwo"  # PostgreSQL text cannot hold NUL
    assert "Text part contains NUL or invalid characters, shown as \ufffd" in parsed.defects


def test_base64_with_garbage_characters_still_decodes():
    text = "Bitte rufen Sie mich zurück."
    encoded = base64.b64encode(text.encode()).decode()
    garbage = encoded[:10] + "!!" + encoded[10:] + "\n"
    raw = (
        "From: a@example.org\nSubject: x\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n\n" + garbage
    ).encode()

    parsed = parse_email(raw)

    assert parsed.body_text == text
    assert any("Base64" in defect for defect in parsed.defects)


def test_deeply_nested_multiparts_are_kept_without_crashing():
    depth = 60
    opening = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth))
    closing = "".join(f"\n--b{i}--\n" for i in reversed(range(depth)))
    raw = f"From: a@example.org\nSubject: deep\nMIME-Version: 1.0\n{opening}Content-Type: text/plain\n\nbottom{closing}"

    parsed = parse_email(raw.encode())

    assert parsed.subject == "deep"
    assert any("nesting deeper than" in defect for defect in parsed.defects)
    (attachment,) = parsed.attachments
    assert b"bottom" in attachment.content


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "The message is empty"),
        (b"\r\n \n\t", "The message is empty"),
        (
            bytes.fromhex("ffd8ffe000104a46494600010100000100010000"),
            "No header lines: this is not an e-mail message",
        ),
        (
            b"Just some text someone pasted\nwithout any header\n",
            "No header lines: this is not an e-mail message",
        ),
    ],
)
def test_input_that_is_no_mail_is_refused_with_a_reason(raw, reason):
    with pytest.raises(UnparseableEmail, match=reason):
        parse_email(raw)


def test_non_bytes_input_is_a_programming_error():
    with pytest.raises(TypeError):
        parse_email("From: a@example.org\n\nhi")  # type: ignore[arg-type]
