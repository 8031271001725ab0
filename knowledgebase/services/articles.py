"""Writing articles: create, edit (every save a revision), status, restore, article settings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from knowledgebase.models import (
    Article,
    ArticleRevision,
    ArticleStatus,
    ArticleTranslation,
    ArticleVisibility,
    Category,
)
from knowledgebase.services.common import (
    add_revision,
    change_slug,
    lock_translation,
    reindex,
    render_body,
    require_author,
    unique_slug,
)

if TYPE_CHECKING:
    from tickets.models import User

# Where a translation may go from each status. Archiving is the way out of the help center;
# an archived article comes back only as a draft, to be reviewed again before it is published.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    ArticleStatus.DRAFT: frozenset({ArticleStatus.IN_REVIEW, ArticleStatus.PUBLISHED, ArticleStatus.ARCHIVED}),
    ArticleStatus.IN_REVIEW: frozenset({ArticleStatus.DRAFT, ArticleStatus.PUBLISHED}),
    ArticleStatus.PUBLISHED: frozenset({ArticleStatus.DRAFT, ArticleStatus.ARCHIVED}),
    ArticleStatus.ARCHIVED: frozenset({ArticleStatus.DRAFT}),
}
LANGUAGE_CODES = frozenset(code for code, _name in settings.LANGUAGES)


def allowed_statuses(translation: ArticleTranslation) -> list[str]:
    """The statuses the authoring page offers as buttons, in the order of the workflow."""
    allowed = STATUS_TRANSITIONS.get(translation.status, frozenset())
    return [value for value in ArticleStatus.values if value in allowed]


def _validate_language(language: str) -> None:
    if language not in LANGUAGE_CODES:
        raise ValidationError(_("Unknown language: %(language)s.") % {"language": language}, code="language")


def _validate_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise ValidationError(_("An article needs a title."), code="title")
    return title[:200]


def _clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        tag = str(tag).strip().lower()[:50]
        if tag and tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def _unique_key(*, key: str | None, title: str) -> str | None:
    """The given key, or one from the (ASCII) title when it is free; None has the article named
    by its id (Chinese-only titles, clashes)."""
    if key:
        if Article.objects.filter(key=key).exists():
            raise ValidationError(_("Another article already has the key %(key)s.") % {"key": key}, code="key")
        return key
    candidate = slugify(title)[:100].strip("-")
    if candidate and not Article.objects.filter(key=candidate).exists():
        return candidate
    return None


def _id_key(article_id: int) -> str:
    candidate, number = f"article-{article_id}", 1
    while Article.objects.filter(key=candidate).exists():
        number += 1
        candidate = f"article-{article_id}-{number}"
    return candidate


def _publish_fields(translation: ArticleTranslation, status: str) -> None:
    if status == ArticleStatus.PUBLISHED:
        if translation.needs_translator_review:
            raise ValidationError(
                _("A translator must review this machine-converted translation before it is published."),
                code="needs_review",
            )
        # The first publication date stays: it is what readers and sitemaps know the article by.
        if translation.published_at is None:
            translation.published_at = timezone.now()


@transaction.atomic
def article_create(
    *, category: Category, visibility: str, tags: Iterable[str], language: str, title: str, body_markdown: str,
    author: User | None, key: str | None = None, status: str = ArticleStatus.DRAFT, summary: str = "",
    source_ticket_id: int | None = None, needs_translator_review: bool = False, note: str = "",
) -> ArticleTranslation:
    """A new article with its first translation (and revision 1)."""
    require_author(author)
    _validate_language(language)
    title = _validate_title(title)
    if visibility not in ArticleVisibility.values:
        raise ValidationError(_("Unknown visibility."), code="visibility")
    if status not in ArticleStatus.values:
        raise ValidationError(_("Unknown status."), code="status")
    article = Article.objects.create(
        key=_unique_key(key=key, title=title), category=category, visibility=visibility, tags=_clean_tags(tags),
        source_ticket_id=source_ticket_id, created_by=author,
    )
    if article.key is None:
        # Every article has a key, so an export names its files and a re-import finds them again.
        article.key = _id_key(article.pk)
        article.save(update_fields=["key"])
    return _translation_insert(
        article=article, language=language, title=title, body_markdown=body_markdown, summary=summary,
        author=author, status=status, needs_translator_review=needs_translator_review, note=note or _("Created"),
    )


def _translation_insert(
    *, article: Article, language: str, title: str, body_markdown: str, summary: str, author: User | None,
    status: str, needs_translator_review: bool, note: str,
) -> ArticleTranslation:
    translation = ArticleTranslation(
        article=article, language=language, title=title, summary=(summary or "").strip()[:300],
        body_markdown=body_markdown or "", status=status, author=author,
        needs_translator_review=needs_translator_review,
        slug=unique_slug(language=language, title=title),
    )
    _publish_fields(translation, status)
    render_body(translation)
    translation.save()
    add_revision(translation, author=author, note=note)
    reindex([translation.pk])
    return translation


@transaction.atomic
def translation_create(
    *, article: Article, language: str, title: str, body_markdown: str, author: User | None, summary: str = "",
    status: str = ArticleStatus.DRAFT, needs_translator_review: bool = False, note: str = "",
) -> ArticleTranslation:
    """Another language of an existing article; one translation per language."""
    require_author(author)
    _validate_language(language)
    title = _validate_title(title)
    # The article row lock makes two translators adding the same language wait for each other.
    article = Article.objects.select_for_update().get(pk=article.pk)
    if article.translations.filter(language=language).exists():
        raise ValidationError(_("This article already has a translation in that language."), code="exists")
    return _translation_insert(
        article=article, language=language, title=title, body_markdown=body_markdown, summary=summary,
        author=author, status=status, needs_translator_review=needs_translator_review,
        note=note or _("Translation added"),
    )


@transaction.atomic
def translation_save(
    *, translation: ArticleTranslation, title: str, body_markdown: str, author: User | None, note: str = "",
    summary: str | None = None, translator_reviewed: bool = False,
) -> ArticleTranslation:
    """Save an edit as a new revision. A new title gives a new slug, and the old one keeps
    working as a redirect. A save that changes nothing adds no revision.

    `translator_reviewed` clears the machine-conversion flag (the translator has read it)."""
    require_author(author)
    locked = lock_translation(translation)
    _apply_edit(locked, title=title, body_markdown=body_markdown, summary=summary, author=author, note=note,
                translator_reviewed=translator_reviewed, always_revise=False)
    _copy_to(translation, locked)
    return locked


def _apply_edit(
    locked: ArticleTranslation, *, title: str, body_markdown: str, summary: str | None, author: User | None,
    note: str, translator_reviewed: bool, always_revise: bool,
) -> None:
    title = _validate_title(title)
    new_summary = locked.summary if summary is None else summary.strip()[:300]
    body_markdown = body_markdown or ""
    changed = (title, body_markdown, new_summary) != (locked.title, locked.body_markdown, locked.summary)
    reviewed = translator_reviewed and locked.needs_translator_review
    if not changed and not reviewed:
        if always_revise:
            add_revision(locked, author=author, note=note)
        return
    if title != locked.title:
        change_slug(locked, unique_slug(language=locked.language, title=title, translation_id=locked.pk))
    locked.title, locked.body_markdown, locked.summary = title, body_markdown, new_summary
    if reviewed:
        locked.needs_translator_review = False
    locked.author = author
    render_body(locked)
    locked.save()
    add_revision(locked, author=author, note=note or (_("Translation reviewed") if reviewed and not changed else ""))
    reindex([locked.pk])


def _copy_to(target: ArticleTranslation, source: ArticleTranslation) -> None:
    """Callers keep their instance; make it show what was saved."""
    if target is not source:
        target.__dict__.update({k: v for k, v in source.__dict__.items() if not k.startswith("_")})


def _status_note(old: str, new: str) -> str:
    labels = dict(ArticleStatus.choices)
    return _("Status changed from %(old)s to %(new)s") % {"old": labels[old], "new": labels[new]}


@transaction.atomic
def translation_set_status(
    *, translation: ArticleTranslation, status: str, actor: User | None, enforce_workflow: bool = True,
) -> ArticleTranslation:
    """Move a translation through draft → in review → published → archived (and back to draft).
    The change is kept as a revision that notes it. `enforce_workflow=False` is for the import,
    which sets whatever status its files say."""
    require_author(actor)
    if status not in ArticleStatus.values:
        raise ValidationError(_("Unknown status."), code="status")
    locked = lock_translation(translation)
    if status == locked.status:
        return locked
    if enforce_workflow and status not in STATUS_TRANSITIONS[locked.status]:
        raise ValidationError(_("An article cannot go from %(old)s to %(new)s.") % {
            "old": locked.get_status_display(), "new": dict(ArticleStatus.choices)[status],
        }, code="transition")
    old = locked.status
    _publish_fields(locked, status)
    locked.status = status
    if actor is not None:
        locked.author = actor
    locked.save(update_fields=["status", "published_at", "author", "updated_at"])
    add_revision(locked, author=actor, note=_status_note(old, status))
    # Ranking may use the status and publication date (freshness).
    reindex([locked.pk])
    _copy_to(translation, locked)
    return locked


@transaction.atomic
def revision_restore(*, revision: ArticleRevision, actor: User | None) -> ArticleTranslation:
    """Bring back an earlier version as a NEW revision; history is never rewritten. Restoring
    the content the translation already has still leaves a revision, as a trace of the decision."""
    require_author(actor)
    locked = lock_translation(revision.translation)
    _apply_edit(locked, title=revision.title, body_markdown=revision.body_markdown, summary=revision.summary,
                author=actor, note=_("Restored revision %(number)s") % {"number": revision.number},
                translator_reviewed=False, always_revise=True)
    return locked


@transaction.atomic
def article_update(
    *, article: Article, actor: User | None, category: Category | None = None, visibility: str | None = None,
    tags: Iterable[str] | None = None, key: str | None = None,
) -> Article:
    """Change what all translations share: category, visibility, tags (and the import key)."""
    require_author(actor)
    locked = Article.objects.select_for_update().get(pk=article.pk)
    fields: list[str] = []
    if category is not None and category.pk != locked.category_id:
        locked.category = category
        fields.append("category")
    if visibility is not None and visibility != locked.visibility:
        if visibility not in ArticleVisibility.values:
            raise ValidationError(_("Unknown visibility."), code="visibility")
        locked.visibility = visibility
        fields.append("visibility")
    if tags is not None:
        cleaned = _clean_tags(tags)
        if cleaned != locked.tags:
            locked.tags = cleaned
            fields.append("tags")
    if key is not None and key != locked.key:
        if key and Article.objects.filter(key=key).exclude(pk=locked.pk).exists():
            raise ValidationError(_("Another article already has the key %(key)s.") % {"key": key}, code="key")
        locked.key = key or None
        fields.append("key")
    if fields:
        locked.save(update_fields=[*fields, "updated_at"])
        if "tags" in fields:
            # Tags are weighted into every translation's search vector.
            reindex(list(locked.translations.values_list("pk", flat=True)))
    article.__dict__.update({k: v for k, v in locked.__dict__.items() if not k.startswith("_")})
    return locked


@transaction.atomic
def article_set_related(*, article: Article, related: Iterable[Article], actor: User | None) -> Article:
    """Replace the article's related articles (the relation goes both ways)."""
    require_author(actor)
    others = [other for other in related if other.pk != article.pk]
    article.related.set(others)
    return article
