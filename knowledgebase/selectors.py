"""Reads of the knowledge base. Every read of articles goes through `readable_translations`
(what a reader may see in the help center, search and suggestions) or, for authors,
`authorable_translations`; nothing else filters on visibility or status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from helpdesk.permissions import is_staff_member
from knowledgebase.models import ArticleStatus, ArticleTranslation, ArticleVisibility

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
