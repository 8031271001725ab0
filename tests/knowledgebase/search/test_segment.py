from knowledgebase.search.segment import (
    markdown_to_text,
    normalize_query,
    segment,
    segmented_text,
    to_simplified,
)


def test_chinese_is_cut_into_words_in_search_engine_mode():
    words = segment("如何申请退款")
    assert "申请" in words
    assert "退款" in words
    # A question word matches every article; it is not a search term.
    assert "如何" not in words


def test_long_words_also_yield_the_words_inside_them():
    words = segment("退款政策")
    assert {"退款", "政策"} <= set(words)


def test_traditional_and_simplified_text_give_the_same_words():
    assert segment("如何申請退款") == segment("如何申请退款")
    assert segment("重設密碼") == segment("重设密码")
    assert to_simplified("帳戶設定") == "账户设定"
    assert to_simplified("帐户") == to_simplified("账户")
    assert segment("網路連線") == segment("网络连线")


def test_mixed_chinese_and_english_keeps_latin_words_whole_and_drops_punctuation():
    words = segment("如何在iPhone上开启VPN？（iOS 17）")
    assert "iphone" in words
    assert "vpn" in words
    assert "ios" in words
    assert "17" in words
    assert not any(word in {"？", "（", "）", " "} for word in words)


def test_english_text_is_lower_cased_words():
    assert segment("Reset your Password, then sign in.") == ["reset", "your", "password", "then", "sign", "in"]


def test_segmented_text_is_space_separated():
    assert segmented_text("申请退款") == "申请 退款"


def test_normalized_query_folds_script_case_and_spaces():
    assert normalize_query("  Reset   PASSWORD ") == "reset password"
    assert normalize_query("退款 政策") == normalize_query("退款  政策")
    assert normalize_query("申請退款") == "申请退款"


def test_markdown_is_reduced_to_its_words():
    text = markdown_to_text(
        "# Reset your password\n\n1. Open **Settings** > [Security](https://example.com/sec)\n"
        "2. Click `Reset`\n\n![screenshot of the form](img.png)\n\n| a | b |\n|---|---|\n| x | y |\n"
        "<div>html</div>\n```\ncode line\n```\n"
    )
    assert "#" not in text
    assert "**" not in text
    assert "https://" not in text
    assert "Security" in text
    assert "screenshot of the form" in text
    assert "code line" in text
    assert "Reset your password" in text
