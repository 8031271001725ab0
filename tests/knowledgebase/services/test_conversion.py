"""A zh-Hant draft made from the zh-Hans translation, for a translator to review."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from knowledgebase.models import ArticleStatus
from knowledgebase.services import (
    translation_create,
    translation_draft_from_simplified,
    translation_save,
    translation_set_status,
)

pytestmark = pytest.mark.django_db


def test_traditional_draft_uses_taiwan_wording_and_needs_review(make_translation, author):
    simplified = make_translation(title="如何设置打印机", language="zh-hans", status=ArticleStatus.PUBLISHED,
                                  body="打开**软件**的设置，选择默认打印机。", summary="打印机设置")

    draft = translation_draft_from_simplified(article=simplified.article, actor=author)

    assert draft.language == "zh-hant"
    assert draft.title == "如何設置印表機"
    assert draft.body_markdown == "打開**軟體**的設置，選擇默認印表機。"
    assert draft.summary == "印表機設置"
    assert draft.slug == draft.title
    assert draft.body_html == "<p>打開<strong>軟體</strong>的設置，選擇默認印表機。</p>\n"
    assert (draft.status, draft.needs_translator_review) == (ArticleStatus.DRAFT, True)
    assert draft.revisions.get().note == "Converted from Simplified Chinese; needs translator review"


def test_conversion_refuses_when_a_traditional_translation_exists(make_translation, author):
    simplified = make_translation(title="退款", language="zh-hans")
    translation_create(article=simplified.article, language="zh-hant", title="退款（人工翻譯）",
                       body_markdown="譯者寫的", author=author)
    with pytest.raises(ValidationError):
        translation_draft_from_simplified(article=simplified.article, actor=author)
    assert simplified.article.translations.get(language="zh-hant").body_markdown == "譯者寫的"


def test_conversion_needs_a_simplified_translation(make_translation, author):
    english = make_translation(title="Refunds")
    with pytest.raises(ValidationError):
        translation_draft_from_simplified(article=english.article, actor=author)
    assert english.article.translations.count() == 1


def test_unreviewed_conversion_cannot_be_published_until_a_translator_marks_it(make_translation, author):
    simplified = make_translation(title="退款政策", language="zh-hans")
    draft = translation_draft_from_simplified(article=simplified.article, actor=author)

    with pytest.raises(ValidationError):
        translation_set_status(translation=draft, status=ArticleStatus.PUBLISHED, actor=author)
    translation_save(translation=draft, title=draft.title, body_markdown=draft.body_markdown, author=author,
                     translator_reviewed=True)
    translation_set_status(translation=draft, status=ArticleStatus.PUBLISHED, actor=author)

    draft.refresh_from_db()
    assert (draft.status, draft.needs_translator_review) == (ArticleStatus.PUBLISHED, False)
    assert list(draft.revisions.order_by("number").values_list("note", flat=True))[1:] == [
        "Translation reviewed", "Status changed from Draft to Published"]
