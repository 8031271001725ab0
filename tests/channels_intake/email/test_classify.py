"""Signals for loop protection: automatic mail, bounces with what they refer to, spam scores."""

from __future__ import annotations

import pytest

from channels_intake.email import DeliveryRecipient, parse_email
from tests.channels_intake.email.corpus import parse


def test_postfix_dsn_names_our_message_and_the_failed_recipient():
    parsed = parse("bounce_dsn_postfix.eml")

    assert parsed.is_bounce and parsed.is_auto_submitted
    report = parsed.delivery_report
    assert report is not None and report.is_standard
    assert report.original_message_id == "ticket-10043-msg-3@example.com"
    assert report.reporting_mta == "mx.example.com"
    assert report.failed_recipients == (
        DeliveryRecipient(
            address="nobody@customer.example",
            action="failed",
            status="5.1.1",
            diagnostic="smtp; 550 5.1.1 <nobody@customer.example>: Recipient address rejected: User unknown",
            remote_mta="mx.customer.example",
            original_recipient="nobody@customer.example",
        ),
    )
    assert parsed.return_path == ""
    assert [a.filename for a in parsed.attachments] == ["delivery-status.txt", "returned-message.eml"]
    assert b"Message-ID: <ticket-10043-msg-3@example.com>" in parsed.attachments[1].content
    assert "could not\nbe delivered to one or more recipients." in parsed.body_text


def test_exchange_ndr_with_returned_headers_only():
    parsed = parse("bounce_dsn_exchange_headers_only.eml")

    assert parsed.is_bounce
    assert parsed.delivery_report.original_message_id == "ticket-10044-msg-2@example.com"
    ((address, status),) = [(r.address, r.status) for r in parsed.delivery_report.failed_recipients]
    assert (address, status) == ("old@contoso.com", "5.1.10")
    assert parsed.new_text == "Your message to old@contoso.com couldn't be delivered."


def test_old_style_qmail_bounce_is_recognised_from_sender_and_subject():
    parsed = parse("bounce_qmail_plain.eml")

    assert parsed.is_bounce
    report = parsed.delivery_report
    assert report.is_standard is False
    assert report.original_message_id == "ticket-10045-msg-1@example.com"
    assert [(r.address, r.action, r.status) for r in report.recipients] == [
        ("gone@isp.example", "failed", "5.1.1")
    ]


def test_chinese_provider_bounce_is_recognised():
    parsed = parse("bounce_chinese_provider.eml")

    assert parsed.subject == "退信：[#10046] 您的工单已更新"
    assert parsed.is_bounce
    assert parsed.delivery_report.original_message_id == "ticket-10046-msg-2@example.com"
    assert "该邮箱不存在" in parsed.body_text


def test_delay_notification_is_a_report_but_not_a_bounce():
    raw = (
        b"From: MAILER-DAEMON@mx.example.com\nSubject: Delayed Mail (still being retried)\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="d"\n\n'
        b"--d\nContent-Type: text/plain\n\nStill trying.\n--d\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; slow@example.org\nAction: delayed\n"
        b"Status: 4.4.1\n--d--\n"
    )

    parsed = parse_email(raw)

    assert parsed.delivery_report is not None
    assert parsed.is_bounce is False
    assert parsed.is_auto_submitted is True


@pytest.mark.parametrize(
    ("fixture", "reasons"),
    [
        ("auto_reply_out_of_office.eml", ("Auto-Submitted: auto-replied", "X-Auto-Response-Suppress: All")),
        ("auto_reply_chinese_autoreply_header.eml", ("Precedence: junk", "X-Autoreply: yes")),
        ("mailing_list_post.eml", ("Precedence: list", "List-Id present")),
    ],
)
def test_automatic_mail_is_flagged_with_the_reason(fixture, reasons):
    parsed = parse(fixture)

    assert parsed.is_auto_submitted
    assert parsed.auto_submitted_reasons == reasons
    assert parsed.is_bounce is False
    assert parsed.new_text  # still readable: the intake keeps it, it only must not answer it


def test_out_of_office_still_threads():
    parsed = parse("auto_reply_out_of_office.eml")

    assert parsed.in_reply_to == "ticket-10047-msg-1@example.com"
    assert parsed.new_text == "I am out of the office until April 2nd."


def test_chinese_auto_reply_text():
    parsed = parse("auto_reply_chinese_autoreply_header.eml")

    assert parsed.subject == "自动回复：[#10048] 您的请求"
    assert parsed.new_text == "您好，我正在休假，4月8日回来。"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (b"From: a@example.org\nAuto-Submitted: no\n", ()),
        (b"From: a@example.org\nAuto-Submitted: auto-generated\n", ("Auto-Submitted: auto-generated",)),
        (b"From: a@example.org\nPrecedence: bulk\n", ("Precedence: bulk",)),
        (b"From: a@example.org\nPrecedence: first-class\n", ()),
        (b"From: a@example.org\nReturn-Path: <>\n", ("Null return path (Return-Path: <>)",)),
        (b"From: Mail Delivery <MAILER-DAEMON@example.org>\n", ("System sender MAILER-DAEMON@example.org",)),
        (b"From: postmaster@example.org\n", ("System sender postmaster@example.org",)),
        (b"From: a@example.org\nX-Autoreply: yes\n", ("X-Autoreply: yes",)),
    ],
)
def test_rfc3834_rules(headers, expected):
    parsed = parse_email(headers + b"Subject: x\n\nbody\n")

    assert parsed.auto_submitted_reasons == expected
    assert parsed.is_auto_submitted is bool(expected)


def test_ordinary_customer_mail_may_be_answered():
    parsed = parse("charset_utf8_8bit.eml")

    assert parsed.is_auto_submitted is False
    assert parsed.is_bounce is False
    assert parsed.spam_score is None and parsed.is_spam_flagged is False


def test_spam_score_and_flag_from_the_upstream_filter():
    parsed = parse("spam_scored.eml")

    assert parsed.spam_score == 12.7
    assert parsed.is_spam_flagged is True


def test_spam_score_from_status_or_stars_only():
    status_only = parse_email(b"From: a@example.org\nX-Spam-Status: No, score=-0.4 required=5.0\n\nx\n")
    stars_only = parse_email(b"From: a@example.org\nX-Spam-Level: ****\n\nx\n")

    assert (status_only.spam_score, status_only.is_spam_flagged) == (-0.4, False)
    assert stars_only.spam_score == 4.0


def test_read_receipt_is_automatic():
    raw = (
        b"From: a@example.org\nSubject: Read: hi\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="r"\n\n'
        b"--r\nContent-Type: text/plain\n\nYour message was read.\n--r\nContent-Type: message/disposition-notification\n\n"
        b"Final-Recipient: rfc822; a@example.org\nDisposition: manual-action/MDN-sent-manually; displayed\n--r--\n"
    )

    parsed = parse_email(raw)

    assert "Read receipt (disposition notification)" in parsed.auto_submitted_reasons
    assert parsed.is_bounce is False
