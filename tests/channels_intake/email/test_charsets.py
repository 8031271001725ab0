"""Every charset real mail uses ends as the text the sender wrote, and guesses are reported, not hidden."""

from __future__ import annotations

import base64

import pytest

from channels_intake.email.charsets import decode_bytes, decode_encoded_words, normalise_charset
from tests.channels_intake.email.corpus import parse

# (fixture, subject, sender name, the text an agent reads)
DECLARED_CHARSETS = [
    (
        "charset_utf8_8bit.eml",
        "订单 #1024 没有收到，请帮忙查一下",
        "王小明",
        "您好，\n\n我上周下的订单 #1024 到现在还没有收到。Café crème, naïve résumé — ✓ 😀\n\n谢谢！",
    ),
    (
        # Declared gb2312 but holding GBK-only characters (堃 镕 喆 啰): decoded as GB18030.
        "charset_gb2312_declared_gbk_content.eml",
        "关于堃镕公司的发票问题",
        "张喆",
        "你好，\n\n堃镕公司的发票抬头写错了，请重新开具。联系人：张喆。\n啰嗦一句：请尽快处理。",
    ),
    (
        "charset_gbk_quoted_printable.eml",
        "退款申请",
        "李雷",
        "我要申请退款，订单号 2024-0306。商品有质量问题。",
    ),
    (
        "charset_gb18030_four_byte.eml",
        "生僻字 𠀀 和表情 😀",
        "Chen",
        "名字里有生僻字𠀀，系统显示成问号了。😀",
    ),
    (
        # Declared big5 with Hong Kong (HKSCS) characters 嘅 㗎 啲: decoded as Big5-HKSCS.
        "charset_big5_hkscs.eml",
        "查詢訂單狀態",
        "陳大文",
        "你好，我嘅訂單仲未到㗎，可唔可以幫我查一查啲貨去咗邊？",
    ),
    (
        "charset_iso2022jp_declared.eml",
        "お問い合わせ：請求書について",
        "山田太郎",
        "お世話になっております。\n請求書の金額が違うようです。ご確認ください。",
    ),
    (
        "charset_iso8859_1_qp.eml",
        "Problème de facturation",
        "François Bérubé",
        "Bonjour, ma facture est erronée : ça coûte 150 francs, pas 510. Très étrange, merci de vérifier.",
    ),
    (
        "charset_iso8859_2.eml",
        "České znaky v předmětu",
        "Jan Novák",
        "Dobrý den, příliš žluťoučký kůň úpěl ďábelské ódy. Zażółć gęślą jaźń.",
    ),
    (
        "charset_iso8859_5_cyrillic.eml",
        "Вопрос по заказу",
        "Иван Петров",
        "Здравствуйте! Где мой заказ? Спасибо.",
    ),
    (
        "charset_windows1251.eml",
        "Возврат товара",
        "Ольга",
        "Прошу оформить возврат товара «Чайник» — он сломан.",
    ),
    (
        "charset_windows1250.eml",
        "Zamówienie nr 55",
        "Piotr",
        "Dzień dobry, zamówienie nr 55 nie dotarło. Łódź, ulica Źródlana.",
    ),
    (
        # Outlook labels windows-1252 text iso-8859-1: the curly quotes, dash, euro and ellipsis survive.
        "charset_windows1252_labelled_latin1.eml",
        "Smart quotes",
        "Outlook User",
        "It’s “broken” – the invoice says €40… please fix.",
    ),
]


@pytest.mark.parametrize(
    ("fixture", "subject", "sender_name", "text"),
    DECLARED_CHARSETS,
    ids=[row[0] for row in DECLARED_CHARSETS],
)
def test_declared_charset_is_read_as_the_sender_wrote_it(fixture, subject, sender_name, text):
    parsed = parse(fixture)

    assert parsed.subject == subject
    assert parsed.from_name == sender_name
    assert parsed.body_text == text
    assert parsed.new_text == text
    assert parsed.attachments == ()
    assert not any("charset" in defect or "decoded as" in defect for defect in parsed.defects)


def test_iso2022jp_without_declared_charset_is_detected_from_its_escape_sequences():
    parsed = parse("charset_iso2022jp_undeclared.eml")

    assert parsed.body_text == "注文した商品がまだ届きません。"
    assert "\x1b" not in parsed.body_text


MISLABELLED = [
    (
        "charset_utf8_labelled_latin1.eml",
        "Name: 周杰\nMessage: Zürich office — 我的账户被锁定了。",
        "Text part declared 'ISO-8859-1' but is UTF-8",
    ),
    (
        "charset_gbk_labelled_utf8.eml",
        "我的账户无法登录，提示密码错误，但是我没有修改过密码。请帮我重置。",
        "Text part declared 'utf-8' but is not valid utf-8; decoded as gb18030 (guessed)",
    ),
    (
        "charset_missing_gbk.eml",
        "请问你们周末上班吗？我需要更换收货地址。",
        "Text part has 8-bit bytes and no charset; decoded as gb18030 (guessed)",
    ),
    (
        "charset_missing_big5.eml",
        "請問我的包裹什麼時候會寄出？謝謝您的幫忙。",
        "Text part has 8-bit bytes and no charset; decoded as big5hkscs (guessed)",
    ),
    (
        "charset_unknown_label.eml",
        "Grüße aus Köln — 你好",
        "Text part declared unknown charset 'x-user-defined-foo'; decoded as utf-8",
    ),
]


@pytest.mark.parametrize(("fixture", "text", "defect"), MISLABELLED, ids=[row[0] for row in MISLABELLED])
def test_mislabelled_or_missing_charset_is_detected_and_reported_to_admins(fixture, text, defect):
    parsed = parse(fixture)

    assert parsed.body_text == text
    assert defect in parsed.defects


def test_account_subject_of_mislabelled_mail_is_still_decoded():
    assert parse("charset_gbk_labelled_utf8.eml").subject == "账户问题"


def test_undecodable_bytes_fall_back_to_a_lossless_single_byte_reading_with_a_defect():
    data = b"caf\xe9 \x81\x8d\x8f \xff"  # not UTF-8, not CJK, not even windows-1252

    decoded = decode_bytes(data, "utf-8")

    assert decoded.text.encode("latin-1") == data
    assert decoded.defect == "Text declared 'utf-8' but is not valid utf-8; decoded as latin-1 (guessed)"


def test_latin1_word_is_not_mistaken_for_chinese():
    decoded = decode_bytes("Größe und Grüße aus München".encode("latin-1"))

    assert decoded.text == "Größe und Grüße aus München"
    assert decoded.charset == "cp1252"


def test_utf8_text_with_one_broken_byte_keeps_its_reading_and_shows_the_byte():
    data = "Lieferung nach Zürich und 北京 am Montag".encode() + b"\xff" + " bitte bestätigen".encode()

    decoded = decode_bytes(data, "utf-8")

    assert decoded.text == "Lieferung nach Zürich und 北京 am Montag\\xff bitte bestätigen"
    assert "1 undecodable byte(s)" in decoded.defect


def test_dangerous_codec_names_are_not_used_as_charsets():
    for label in ("unicode_escape", "raw-unicode-escape", "base64", "zlib", "rot13", "undefined", "idna"):
        assert normalise_charset(label) == ""
    assert decode_bytes(b"\\u0041 \\x42", "unicode_escape").text == "\\u0041 \\x42"


def test_charset_aliases_pick_the_superset_senders_mean():
    assert normalise_charset("GB2312") == "gb18030"
    assert normalise_charset('"gbk"') == "gb18030"
    assert normalise_charset("Big5") == "big5hkscs"
    assert normalise_charset("ks_c_5601-1987") == "cp949"
    assert normalise_charset("Shift_JIS") == "cp932"
    assert normalise_charset("windows-1251") == "cp1251"
    assert normalise_charset("utf-8*zh-cn") == "utf-8"


def test_encoded_words_join_split_multibyte_characters():
    # "报价单" cut in the middle of a UTF-8 character across two B words.
    data = "报价单".encode()
    first, second = base64.b64encode(data[:4]).decode(), base64.b64encode(data[4:]).decode()

    assert decode_encoded_words(f"=?utf-8?B?{first}?= =?utf-8?B?{second}?=") == "报价单"


def test_encoded_word_with_bad_base64_is_kept_visible():
    defects: list[str] = []

    text = decode_encoded_words("Hello =?utf-8?B?!!!?= world", defects)

    assert text == "Hello =?utf-8?B?!!!?= world"
    assert defects == ["Undecodable encoded word '=?utf-8?B?!!!?=' kept as is"]


def test_html_without_declared_charset_uses_its_meta_tag():
    parsed = parse("html_only_meta_charset.eml")

    assert parsed.subject == "网页表单提交"
    assert parsed.body_html == "<h1>表单</h1><p>姓名：吴九</p><p>留言：产品很好用！</p>\n"
    assert parsed.body_text == "表单\n姓名：吴九\n留言：产品很好用！"
    assert parsed.defects == ()
