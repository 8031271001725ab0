"""What the customer wrote now is shown apart from the quoted history; the full text is always kept."""

from __future__ import annotations

import pytest

from channels_intake.email import parse_email
from channels_intake.email.quotes import cut_html_reply, split_reply
from tests.channels_intake.email.corpus import parse

# (fixture, subject, new text, a line of the quoted history that must stay in the full text)
REPLIES = [
    (
        "reply_gmail_english.eml",
        "Re: [#10023] Router keeps rebooting",
        "Thanks, that fixed it!\n\nAnn",
        "> please restart the router.",
    ),
    (
        "reply_gmail_chinese.eml",
        "回复：[#10024] 包裹什么时候发货",
        "好的，已经收到货了，谢谢！",
        "> 您好，您的包裹已经发出。",
    ),
    (
        "reply_outlook_web_english.eml",
        "RE: [#10025] Replacement",
        "Yes, please go ahead with the replacement.\n\nBest regards,\nBob",
        "Shall we send a replacement?",
    ),
    (
        "reply_outlook_desktop_original_message.eml",
        "RE: [#10026] Error 500",
        "Hi,\n\nthe attached log shows the error.\n\nKind regards\nCarla",
        "Could you send us the log?",
    ),
    (
        "reply_outlook_chinese_gb2312.eml",
        "答复: [#10027] 无法登录",
        "您好，\n\n问题已经解决了，可以关闭工单。\n\n刘洋",
        "请尝试清除浏览器缓存。",
    ),
    (
        "reply_outlook_traditional_big5.eml",
        "回覆: [#10028] 退貨流程",
        "您好，\n\n收到了，謝謝您的協助。\n\n林志明",
        "請將商品寄回以下地址。",
    ),
    (
        "reply_foxmail_gbk.eml",
        "回复: [#10029] 付款失败",
        "好的，我明天再试一下。\n\n\n\nzhaoliu@foxmail.com",
        "请换一张银行卡再试。",
    ),
    (
        "reply_qqmail.eml",
        "回复：[#10030] 网页打不开",
        "已经按照你说的操作了，还是不行。",
        "请先重启一下路由器。",
    ),
    (
        "reply_apple_mail_iphone.eml",
        "Re: [#10031] App crashes",
        "Still broken after the update.",
        "Please update the app.",
    ),
    (
        "reply_thunderbird_flowed.eml",
        "Re: [#10032] Export",
        "The export works now, but the file name contains the wrong date. It says 2023 instead of 2024 in every file"
        " I download.",
        "> Please try the export again.",
    ),
]


@pytest.mark.parametrize(
    ("fixture", "subject", "new_text", "quoted_line"), REPLIES, ids=[row[0] for row in REPLIES]
)
def test_reply_shows_the_new_text_and_keeps_the_history(fixture, subject, new_text, quoted_line):
    parsed = parse(fixture)

    assert parsed.subject == subject
    assert parsed.new_text == new_text
    assert parsed.body_text.startswith(new_text.split("\n")[0])
    assert quoted_line in parsed.body_text
    assert quoted_line.lstrip("> ") not in parsed.new_text


@pytest.mark.parametrize(
    ("fixture", "new_html"),
    [
        (
            "reply_gmail_english.eml",
            '<div dir="ltr">Thanks, that fixed it!<div><br></div><div>Ann</div></div>',
        ),
        ("reply_gmail_chinese.eml", '<div dir="ltr">好的，已经收到货了，谢谢！</div>'),
        (
            "reply_outlook_web_english.eml",
            "<div>Yes, please go ahead with the replacement.</div><div>Best regards,<br>Bob</div>",
        ),
        (
            "reply_outlook_desktop_original_message.eml",
            "<div><p>Hi,</p><p>the attached log shows the error.</p><p>Kind regards<br>Carla</p></div>",
        ),
        ("reply_qqmail.eml", "<div>已经按照你说的操作了，还是不行。</div>"),
        (
            "reply_apple_mail_iphone.eml",
            '<div dir="ltr">Still broken after the update.</div><div dir="ltr"><br><div>Sent from my iPhone</div></div>',
        ),
    ],
)
def test_html_reply_is_cut_before_the_quoted_history(fixture, new_html):
    parsed = parse(fixture)

    assert parsed.new_html == new_html
    assert parsed.body_html is not None and len(parsed.body_html) > len(new_html)


def test_foxmail_html_keeps_the_signature_and_drops_the_header_block():
    parsed = parse("reply_foxmail_gbk.eml")

    assert parsed.new_html is not None
    assert "好的，我明天再试一下。" in parsed.new_html
    assert "zhaoliu@foxmail.com" in parsed.new_html
    assert "发件人" not in parsed.new_html and "请换一张银行卡再试。" not in parsed.new_html
    assert "请换一张银行卡再试。" in (parsed.body_html or "")


def test_signatures_are_set_apart():
    assert parse("reply_thunderbird_flowed.eml").signature == "-- \nErik Müller\nAcme GmbH"
    assert parse("reply_apple_mail_iphone.eml").signature == "Sent from my iPhone"


def test_format_flowed_paragraphs_are_joined_but_quotes_stay_quotes():
    parsed = parse("reply_thunderbird_flowed.eml")

    assert (
        "It says 2023 instead of 2024 in every file I download.\n\nAm 26.03.24 um 17:00 schrieb Support:\n"
        "> Please try the export again." in parsed.body_text
    )


def test_forwarded_mail_keeps_the_forwarded_text_as_new_text():
    text = (
        "FYI, see below.\n\n-----Original Message-----\nFrom: Vendor <v@example.org>\nSent: Monday\n"
        "To: me\nSubject: Price\n\nThe price goes up in May."
    )

    assert split_reply(text, is_forward=True).new_text == text
    assert split_reply(text).new_text == "FYI, see below."


def test_fwd_subject_keeps_the_whole_body():
    raw = (
        b"From: a@example.org\nSubject: Fwd: Price change\n\nSee below.\n\n-----Original Message-----\n"
        b"From: Vendor <v@example.org>\nSent: Monday\nTo: me\nSubject: Price\n\nThe price goes up in May.\n"
    )

    assert "The price goes up in May." in parse_email(raw).new_text


def test_message_that_is_only_a_quote_keeps_all_of_it():
    assert split_reply("> all quoted\n> nothing new").new_text == "> all quoted\n> nothing new"


def test_inline_answers_between_quotes_are_not_cut():
    text = "> Which model?\nThe X200.\n> Since when?\nSince Monday."

    assert split_reply(text).new_text == text


def test_trailing_quote_block_without_a_header_is_cut():
    parts = split_reply("Works now.\n\nAnn wrote:\n> try again\n> please")

    assert parts.new_text == "Works now."
    assert parts.quoted_text == "Ann wrote:\n> try again\n> please"


def test_text_mentioning_from_is_not_mistaken_for_a_header_block():
    text = "From: my accountant I heard the invoice is wrong.\nPlease check it."

    assert split_reply(text).new_text == text


def test_html_without_history_is_not_cut():
    assert cut_html_reply("<p>Hello</p><p>Just a question.</p>") is None


def test_prose_that_looks_like_an_attribution_is_not_cut():
    text = "On Monday I wrote:\nthe printer is broken.\n他在信里写道：\n机器坏了。"

    assert split_reply(text).new_text == text
