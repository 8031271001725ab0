"""Hostile HTML reaches the agent's browser as harmless markup with the visible text intact."""

from __future__ import annotations

import re

from channels_intake.email import parse_email
from tests.channels_intake.email.corpus import parse


def test_xss_payloads_are_removed_and_the_invoice_text_kept():
    parsed = parse("xss_html_payloads.eml")
    html = parsed.body_html or ""
    lowered = html.lower()

    for forbidden in (
        "<script",
        "onerror",
        "onload",
        "onclick",
        "javascript:",
        "vbscript:",
        "expression(",
        "<svg",
        "<iframe",
        "<object",
        "<embed",
        "<form",
        "<input",
        "<meta",
        "<base",
        "<style",
        "<math",
        "data:",
        "style=",
    ):
        assert forbidden not in lowered, forbidden
    assert "alert(" not in html
    assert "Please see the invoice details below." in html
    assert "Total: 120 EUR" in html
    assert '<a href="https://example.com/invoice" rel="noopener noreferrer nofollow">Real link</a>' in html
    assert "Please see the invoice details below." in parsed.body_text
    assert "Total: 120 EUR" in parsed.body_text
    assert "alert" not in parsed.body_text
    assert "Invoice" not in parsed.body_text.split("\n")[0]  # the <title> is not body text
    assert parsed.new_html == html


def test_subject_with_markup_is_plain_text_for_the_template_to_escape():
    assert parse("xss_html_payloads.eml").subject == "Invoice <script>alert(1)</script>"


def test_cid_links_cannot_smuggle_attributes():
    raw = (
        b"From: a@example.org\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary=b\n\n"
        b"--b\nContent-Type: text/html\n\n"
        b'<img src=cid:a"onerror="alert(1)><img src=\'cid:x" onload="alert(2)\'>\n'
        b'--b\nContent-Type: image/png\nContent-ID: <a"onerror="alert(1)>\n\nPNG\n--b--\n'
    )

    parsed = parse_email(raw)

    html = parsed.body_html or ""
    assert "onerror" not in html and "onload" not in html and "alert" not in html
    (image,) = parsed.attachments
    assert re.fullmatch(r"h[0-9a-f]{40}", image.content_id)


def test_unsafe_html_in_a_text_part_is_escaped_when_shown_as_html():
    raw = (
        b"From: a@example.org\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/html\n\n<p>intro</p>\n--b\nContent-Type: text/plain\n\n<script>alert(1)</script>\n--b--\n"
    )

    parsed = parse_email(raw)

    assert "<script>" not in (parsed.body_html or "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (parsed.body_html or "")
    assert "<script>alert(1)</script>" in parsed.body_text
