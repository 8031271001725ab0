"""`to_inbound_message`: a parsed mail in the channel-neutral shape `ingest` takes, files included."""

from __future__ import annotations

import pytest

from channels_intake.email import parse_email, to_inbound_message
from channels_intake.services import ingest
from tests.channels_intake.email.corpus import parse
from tests.factories import make_team
from tickets.services.attachments import IncomingFile


def test_reply_maps_to_an_email_inbound_message_with_the_new_text():
    parsed = parse("reply_gmail_english.eml")

    inbound = to_inbound_message(parsed, team_slug="support")

    assert inbound.channel == "email"
    assert (inbound.sender_email, inbound.sender_name) == ("ann.lee@gmail.com", "Ann Lee")
    assert inbound.subject == "Re: [#10023] Router keeps rebooting"
    assert inbound.body_text == "Thanks, that fixed it!\n\nAnn"
    assert inbound.body_html == '<div dir="ltr">Thanks, that fixed it!<div><br></div><div>Ann</div></div>'
    assert inbound.external_id == "CAJ+gmail-reply-023@mail.gmail.com"
    assert inbound.team_slug == "support"
    assert inbound.ticket_number is None  # threading is the caller's job


def test_full_body_keeps_the_history_for_a_new_ticket():
    inbound = to_inbound_message(parse("reply_outlook_chinese_gb2312.eml"), full_body=True)

    assert "请尝试清除浏览器缓存。" in inbound.body_text
    assert inbound.body_html is None


def test_attachments_become_incoming_files_with_inline_flags():
    inbound = to_inbound_message(parse("inline_images_related.eml"))

    assert [type(file) for file in inbound.files] == [IncomingFile] * 3
    image, shot, manual = inbound.files
    assert (image.name, image.content_type, image.size, image.is_inline) == (
        "image001.png",
        "image/png",
        70,
        True,
    )
    assert image.content_id == "image001.png@01DA7F55.2B6E8E50"
    assert shot.is_inline is True
    assert (manual.name, manual.is_inline, manual.size) == ("manual.pdf", False, len(manual.content))


def test_mail_without_message_id_gets_a_content_hash_id():
    parsed = parse("missing_date_and_message_id.eml")

    assert to_inbound_message(parsed).external_id == f"sha256:{parsed.content_hash}"


def test_over_long_message_id_is_hashed_to_fit_the_column():
    parsed = parse_email(b"From: a@example.org\nMessage-ID: <" + b"x" * 900 + b"@example.org>\n\nhi\n")

    external_id = to_inbound_message(parsed).external_id
    assert external_id.startswith("mid-sha256:") and len(external_id) <= 512


@pytest.mark.django_db
def test_parsed_chinese_mail_becomes_a_ticket_with_its_files_once(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    team = make_team(slug="support")
    parsed = parse("attachments_chinese_filenames.eml")

    first = ingest(to_inbound_message(parsed, team_slug="support"))
    again = ingest(to_inbound_message(parse("attachments_chinese_filenames.eml"), team_slug="support"))

    assert first.created_ticket and not again.created_ticket
    assert again.message.pk == first.message.pk
    ticket = first.ticket
    assert (ticket.subject, ticket.team, ticket.channel) == ("附件：合同和截图", team, "email")
    assert first.message.body_text == "请看附件里的四个文件。"
    stored = sorted((a.filename, a.size) for a in first.message.attachments.all())
    assert stored == sorted((a.filename, a.size) for a in parsed.attachments)
    assert {a.filename for a in first.message.attachments.all()} == {
        "合同（最终版）.pdf",
        "屏幕截图.png",
        "说明.txt",
        "发票 2024.xlsx",
    }


@pytest.mark.parametrize(("header", "subject", "expected"), [
    ("zh-TW", "Printer", "zh-hant"),
    ("zh-CN", "Printer", "zh-hans"),
    ("en-US", "打印机无法连接", "en"),
    ("", "打印机无法连接，这个问题怎么办", "zh-hans"),
    ("", "印表機無法連線，這個問題怎麼辦", "zh-hant"),
    ("", "Printer offline — 王芳", ""),
])
def test_a_first_time_senders_language_comes_from_content_language_or_the_script(header, subject, expected):
    from channels_intake.email.parser import guess_language, parse_email

    headers = f"Content-Language: {header}\n" if header else ""
    raw = (f"From: a@example.org\nTo: support@example.com\nSubject: {subject}\n{headers}"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
           f"{subject}\n").encode()

    assert guess_language(parse_email(raw)) == expected
