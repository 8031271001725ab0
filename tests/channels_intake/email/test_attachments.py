"""Every file a customer sends arrives with its name and its exact bytes; inline images stay linked."""

from __future__ import annotations

import base64
import hashlib
import os

from channels_intake.email import parse_email
from tests.channels_intake.email.corpus import parse

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"


def files(parsed):
    return [
        (attachment.filename, attachment.content_type, attachment.content)
        for attachment in parsed.attachments
    ]


def test_chinese_file_names_in_every_encoding_senders_use():
    parsed = parse("attachments_chinese_filenames.eml")

    assert parsed.subject == "附件：合同和截图"
    assert parsed.new_text == "请看附件里的四个文件。"
    assert files(parsed) == [
        ("合同（最终版）.pdf", "application/pdf", PDF),  # RFC 2231, UTF-8
        ("屏幕截图.png", "image/png", PNG),  # RFC 2231 continuations, GBK
        ("说明.txt", "text/plain", "说明文字\n".encode("gbk")),  # RFC 2047 word in name= (Outlook)
        ("发票 2024.xlsx", "application/octet-stream", b"PK\x03\x04 fake xlsx"),  # raw 8-bit UTF-8
    ]
    assert parsed.defects == ()


def test_inline_images_are_linked_by_content_id_and_other_files_stay_attachments():
    parsed = parse("inline_images_related.eml")

    image, settings_shot, manual = parsed.attachments
    assert (image.filename, image.content, image.is_inline) == ("image001.png", PNG, True)
    assert image.content_id == "image001.png@01DA7F55.2B6E8E50"
    assert (settings_shot.content, settings_shot.is_inline) == (PNG + b"second", True)
    # "<settings shot>" has a space: replaced by a stable hash that needs no URL quoting.
    assert settings_shot.content_id.startswith("h") and " " not in settings_shot.content_id
    assert (manual.filename, manual.content, manual.is_inline) == ("manual.pdf", PDF, False)

    assert parsed.inline_images == {image.content_id: 0, settings_shot.content_id: 1}
    for content_id in parsed.inline_images:
        assert f'src="cid:{content_id}"' in (parsed.body_html or "")
    assert (
        "HTML shows 1 inline image(s) the message does not contain: missing-logo@example.org"
        in parsed.defects
    )
    assert parsed.new_text == "Here is the error dialog:\n[image: dialog]\nand the settings:"


def test_mail_forwarded_as_attachment_is_kept_as_eml_and_summarised():
    parsed = parse("forwarded_as_attachment.eml")

    (eml,) = parsed.attachments
    assert (eml.filename, eml.content_type) == ("报价单 Q-2024-17.eml", "message/rfc822")
    inner = parse_email(eml.content)
    assert inner.subject == "报价单 Q-2024-17"
    assert [(a.filename, a.content) for a in inner.attachments] == [("quote.pdf", PDF)]

    (forwarded,) = parsed.forwarded
    assert (forwarded.subject, forwarded.from_name, forwarded.from_address) == (
        "报价单 Q-2024-17",
        "供应商",
        "sales@supplier.example",
    )
    assert forwarded.attachment_index == 0
    assert parsed.new_text == (
        "Can you check the attached quote?\n\n---------- Forwarded message ----------\n"
        "From: 供应商 <sales@supplier.example>\nDate: 2024-03-25T08:00:00+08:00\nSubject: 报价单 Q-2024-17\n\n"
        "附件是报价单，单价 ¥88。\n\n[Attachments in 报价单 Q-2024-17.eml: quote.pdf]"
    )


def test_winmail_dat_is_kept_as_an_attachment():
    parsed = parse("tnef_winmail.eml")

    ((name, content_type, content),) = files(parsed)
    assert (name, content_type) == ("winmail.dat", "application/ms-tnef")
    assert content == b"\x78\x9f\x3e\x22" + bytes(range(200)) + b"winmail"
    assert parsed.new_text == "See the attached document (sent from Outlook in RTF)."


def test_calendar_invite_is_kept_next_to_the_html_body():
    parsed = parse("calendar_invite_outlook.eml")

    ((name, content_type, content),) = files(parsed)
    assert (name, content_type) == ("invite.ics", "text/calendar")
    assert b"SUMMARY:Onboarding call" in content and b"METHOD:REQUEST" in content
    assert parsed.new_text == "Let's do the onboarding call on Tuesday."
    assert parsed.body_html == "<p>Let's do the onboarding call on <b>Tuesday</b>.</p>\n"


def test_outlook_attachment_next_to_the_alternative_body():
    parsed = parse("reply_outlook_desktop_original_message.eml")

    assert files(parsed) == [
        ("error.log", "text/plain", b"2024-03-26 11:59:01 ERROR 500 Internal Server Error\n")
    ]


def test_apple_mail_text_image_text_keeps_both_texts_and_the_photo():
    parsed = parse("apple_mail_mixed_inline_parts.eml")

    assert parsed.new_text == "The box arrived like this:\n\nAnd the product inside is scratched."
    assert files(parsed) == [("IMG_0001.png", "image/png", PNG)]
    assert parsed.attachments[0].is_inline is False  # no HTML shows it: it must be listed


def test_uuencoded_attachment_is_decoded():
    parsed = parse("uuencoded_attachment.eml")

    assert files(parsed) == [("notes.txt", "application/octet-stream", b"uuencoded notes\n")]


def test_encrypted_mail_keeps_its_parts_and_says_so():
    parsed = parse("encrypted_pgp_mime.eml")

    assert [name for name, _, _ in files(parsed)] == ["attachment.pgp", "encrypted.asc"]
    assert b"-----BEGIN PGP MESSAGE-----" in parsed.attachments[1].content
    assert "Encrypted message: its content is kept as attachments, not read" in parsed.defects


def test_thirty_megabyte_attachment_arrives_intact():
    data = os.urandom(30 * 1024 * 1024)
    raw = (
        b"From: Big Sender <big@example.org>\nTo: support@example.com\nSubject: Disk image\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nThe image is attached.\n'
        b"--b\nContent-Type: application/octet-stream\n"
        b"Content-Disposition: attachment; filename*=utf-8''%E7%A3%81%E7%9B%98.img\n"
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(data) + b"--b--\n"
    )

    parsed = parse_email(raw)

    (attachment,) = parsed.attachments
    assert attachment.filename == "磁盘.img"
    assert attachment.size == len(data)
    assert hashlib.sha256(attachment.content).digest() == hashlib.sha256(data).digest()
    assert parsed.new_text == "The image is attached."


def test_binary_attachment_without_base64_keeps_every_byte_value():
    data = bytes(range(256)).replace(b"\r", b"").replace(b"\n", b"")
    raw = (
        b"From: a@example.org\nSubject: binary\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=raw.bin\n"
        b"Content-Transfer-Encoding: binary\n\n" + data + b"\n--b--\n"
    )

    assert files(parse_email(raw)) == [("raw.bin", "application/octet-stream", data)]


def test_file_names_lose_paths_and_control_characters():
    raw = (
        b"From: a@example.org\nSubject: names\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        b'--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="..\\\\..\\\\evil.pdf"\n\n'
        b"x\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=utf-8''%2Fetc%2Fpasswd\n\n"
        b"y\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=utf-8''bad%0D%0ABcc%00.pdf\n\n"
        b"z\n--b--\n"
    )

    assert [attachment.filename for attachment in parse_email(raw).attachments] == [
        "evil.pdf",
        "passwd",
        "bad Bcc.pdf",
    ]
