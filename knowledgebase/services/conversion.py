"""A Traditional Chinese draft from the Simplified Chinese translation, for a translator to review."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from zhconv import convert

from knowledgebase.models import Article, ArticleStatus, ArticleTranslation
from knowledgebase.services.articles import translation_create
from knowledgebase.services.common import require_author

if TYPE_CHECKING:
    from tickets.models import User

# zhconv's "zh-tw" rather than plain "zh-hant": "zh-hant" only swaps characters, so mainland
# vocabulary stays (软件 → 軟件, 默认 → 默認, 打印机 → 打印機) and reads as a transliteration;
# "zh-tw" also applies Taiwan's word list (軟體, 預設, 印表機, 帳戶), which reads as written for
# Taiwan, the larger Traditional Chinese readership, and is still understood in Hong Kong. It is a
# draft either way: a translator reviews it (needs_translator_review) before it can be published.
CONVERSION_LOCALE = "zh-tw"


def to_traditional(text: str) -> str:
    return convert(text, CONVERSION_LOCALE) if text else text


@transaction.atomic
def translation_draft_from_simplified(*, article: Article, actor: User | None) -> ArticleTranslation:
    """A zh-hant draft converted from the article's zh-hans translation (whatever its status),
    flagged for translator review. Refused when a zh-hant translation exists: conversion would
    overwrite a translator's work."""
    require_author(actor)
    source = ArticleTranslation.objects.filter(article=article, language="zh-hans").first()
    if source is None:
        raise ValidationError(_("This article has no Simplified Chinese translation to convert."), code="no_source")
    if ArticleTranslation.objects.filter(article=article, language="zh-hant").exists():
        raise ValidationError(_("This article already has a Traditional Chinese translation."), code="exists")
    return translation_create(
        article=article, language="zh-hant", title=to_traditional(source.title),
        body_markdown=to_traditional(source.body_markdown), summary=to_traditional(source.summary),
        author=actor, status=ArticleStatus.DRAFT, needs_translator_review=True,
        note=_("Converted from Simplified Chinese; needs translator review"),
    )
