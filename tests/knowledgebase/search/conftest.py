"""Articles for the search tests, created as rows and indexed with index_translations (the
authoring services call the same function after every save)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from django.utils.text import slugify

from knowledgebase.models import Article, ArticleStatus, ArticleTranslation, ArticleVisibility, Category
from knowledgebase.search import index_translations

_counter = itertools.count(1)


@pytest.fixture
def category(db) -> Category:
    return Category.objects.create(slug="general", names={"en": "General", "zh-hans": "常见问题", "zh-hant": "常見問題"})


@pytest.fixture
def make_article(category: Category) -> Callable[..., ArticleTranslation]:
    """make_article(title=..., body=..., language="en", visibility="public", status="published",
    tags=[...], category=..., article=...) → an indexed translation."""

    def make(*, title: str, body: str = "", language: str = "en", visibility: str = ArticleVisibility.PUBLIC,
             status: str = ArticleStatus.PUBLISHED, tags: list[str] | None = None, article: Article | None = None,
             key: str | None = None, **fields: Any) -> ArticleTranslation:
        n = next(_counter)
        if article is None:
            article = Article.objects.create(category=fields.pop("category", category), visibility=visibility,
                                             tags=tags or [], key=key or f"article-{n}")
        translation = ArticleTranslation.objects.create(
            article=article, language=language, title=title, slug=f"{slugify(title, allow_unicode=True)}-{n}",
            body_markdown=body, body_html=body, status=status,
            published_at=timezone.now() if status == ArticleStatus.PUBLISHED else None, **fields,
        )
        index_translations(translation_ids=[translation.pk])
        translation.refresh_from_db()
        return translation

    return make
