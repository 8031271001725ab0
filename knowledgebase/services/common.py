"""Pieces the knowledge-base services share: the staff check, slugs, revisions, re-rendering and
re-indexing of a translation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.utils.text import slugify

from helpdesk.permissions import is_staff_member
from knowledgebase.markdown import render_markdown
from knowledgebase.models import ArticleRevision, ArticleTranslation, SlugRedirect

if TYPE_CHECKING:
    from tickets.models import User

# Room for a "-12" suffix within the 220 characters of the slug field.
SLUG_MAX_LENGTH = 200


def require_author(actor: User | None) -> None:
    """Authoring is for staff. `None` is the system (the Markdown import, the demo seed)."""
    if actor is not None and (not is_staff_member(actor) or not actor.is_active):
        raise PermissionDenied("Only staff may write knowledge-base articles.")


def slug_for_title(title: str) -> str:
    """A URL slug that keeps the title's own script: "如何申请退款" stays Chinese (browsers show
    it as typed, and Chinese readers recognise it), "How to request a refund" is ASCII."""
    return slugify(title, allow_unicode=True)[:SLUG_MAX_LENGTH].strip("-_") or "article"


def unique_slug(*, language: str, title: str, translation_id: int | None = None) -> str:
    """The slug for `title`, suffixed -2, -3 … while another translation of the language holds it
    as its slug or as an old (redirecting) slug. This translation's own old slugs are free: a
    title changed back takes its old URL back."""
    base = slug_for_title(title)
    live = ArticleTranslation.objects.filter(language=language, slug__startswith=base)
    if translation_id is not None:
        live = live.exclude(pk=translation_id)
    old = SlugRedirect.objects.filter(language=language, old_slug__startswith=base)
    if translation_id is not None:
        old = old.exclude(translation_id=translation_id)
    taken = set(live.values_list("slug", flat=True)) | set(old.values_list("old_slug", flat=True))
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def change_slug(translation: ArticleTranslation, new_slug: str) -> None:
    """Give the translation `new_slug`, keeping the old one as a redirect (not saved here)."""
    if new_slug == translation.slug:
        return
    if translation.slug:
        SlugRedirect.objects.update_or_create(
            language=translation.language, old_slug=translation.slug, defaults={"translation": translation},
        )
    # Its own redirect from the new slug would loop: the slug is live again.
    SlugRedirect.objects.filter(language=translation.language, old_slug=new_slug, translation=translation).delete()
    translation.slug = new_slug


def add_revision(translation: ArticleTranslation, *, author: User | None, note: str) -> ArticleRevision:
    """A snapshot of the translation as it now is. Callers hold the translation's row lock, so
    numbers do not collide."""
    last = translation.revisions.aggregate(last=Max("number"))["last"] or 0
    return ArticleRevision.objects.create(
        translation=translation, number=last + 1, title=translation.title, summary=translation.summary,
        body_markdown=translation.body_markdown, status=translation.status, note=note[:300], author=author,
    )


def render_body(translation: ArticleTranslation) -> None:
    translation.body_html = render_markdown(translation.body_markdown)


def reindex(translation_ids: list[int]) -> None:
    """Recompute the search columns in the same transaction as the change, so search never
    answers with a title or body that is no longer there."""
    from knowledgebase.search import index_translations

    if translation_ids:
        index_translations(translation_ids=translation_ids)


def lock_translation(translation: ArticleTranslation) -> ArticleTranslation:
    return ArticleTranslation.objects.select_for_update(of=("self",)).select_related("article").get(
        pk=translation.pk
    )
