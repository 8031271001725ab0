"""Reads of the knowledge base. Every read of articles goes through `readable_translations`
(what a reader may see in the help center, search and suggestions) or, for authors,
`authorable_translations`; nothing else filters on visibility or status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from helpdesk.permissions import is_staff_member
from knowledgebase.models import Article, ArticleStatus, ArticleTranslation, ArticleVisibility

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tickets.models import User


def readable_visibilities(viewer: User | AnonymousUser | None) -> list[str]:
    """Anonymous readers see public articles; signed-in customers also the customers-only ones;
    staff also the internal ones."""
    if is_staff_member(viewer):
        return [ArticleVisibility.PUBLIC, ArticleVisibility.CUSTOMERS, ArticleVisibility.INTERNAL]
    if viewer is not None and viewer.is_authenticated:
        return [ArticleVisibility.PUBLIC, ArticleVisibility.CUSTOMERS]
    return [ArticleVisibility.PUBLIC]


def readable_translations(viewer: User | AnonymousUser | None) -> QuerySet[ArticleTranslation]:
    """Published translations the viewer may read. Drafts, articles in review and archived ones
    are never readable here, not even by staff: authors preview through the authoring views."""
    translations = ArticleTranslation.objects.filter(
        status=ArticleStatus.PUBLISHED, article__visibility__in=readable_visibilities(viewer),
    )
    if not is_staff_member(viewer):
        translations = translations.filter(article__category__is_internal=False)
    return translations


def authorable_translations(viewer: User | AnonymousUser | None) -> QuerySet[ArticleTranslation]:
    """Every translation in any status, for staff only (authors, reviewers); nothing otherwise."""
    if not is_staff_member(viewer):
        return ArticleTranslation.objects.none()
    return ArticleTranslation.objects.all()


def authorable_articles(viewer: User | AnonymousUser | None) -> QuerySet[Article]:
    """Every article, for staff only; nothing otherwise."""
    if not is_staff_member(viewer):
        return Article.objects.none()
    return Article.objects.all()


@dataclass(frozen=True)
class AuthoringFilters:
    language: str = ""
    status: str = ""
    category_id: int | None = None
    query: str = ""


def authoring_translation_list(
    *, viewer: User | AnonymousUser | None, filters: AuthoringFilters,
) -> QuerySet[ArticleTranslation]:
    """The authors' list: translations in any status, filtered, newest edit first, with what a
    row shows (category, last editor) read in the same query."""
    translations = authorable_translations(viewer).select_related("article__category", "author").defer(
        "body_markdown", "body_html", "search_vector", "search_title",
    )
    if filters.language:
        translations = translations.filter(language=filters.language)
    if filters.status:
        translations = translations.filter(status=filters.status)
    if filters.category_id:
        translations = translations.filter(article__category_id=filters.category_id)
    if filters.query:
        # search_title holds the title (and its segmented words) under a trigram index, which
        # serves a substring match; the title itself has no such index.
        translations = translations.filter(search_title__icontains=filters.query)
    return translations.order_by("-updated_at", "-id")


def readable_article_ids(viewer: User | AnonymousUser | None, article_ids: list[int]) -> set[int]:
    """Which of these articles the viewer may read in at least one language (for their files)."""
    if is_staff_member(viewer):
        return set(Article.objects.filter(pk__in=article_ids).values_list("pk", flat=True))
    return set(readable_translations(viewer).filter(article_id__in=article_ids).values_list("article_id", flat=True))
