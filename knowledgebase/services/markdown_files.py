"""Articles as a folder of Markdown files with YAML front matter (import and export).

Layout: `DIR/_categories.yml` (optional) and `DIR/<language>/<article-key>.md`, one file per
translation; the front matter names the article key, title, category slug, tags, visibility,
status, related article keys and summary (and may name the language). Importing the same folder
again changes nothing; a changed file updates its translation with one new revision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import frontmatter
import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from knowledgebase.models import Article, ArticleStatus, ArticleTranslation, ArticleVisibility, Category
from knowledgebase.services.articles import (
    article_create,
    article_set_related,
    article_update,
    translation_create,
    translation_save,
    translation_set_status,
)

if TYPE_CHECKING:
    from tickets.models import User

CATEGORIES_FILE = "_categories.yml"
LANGUAGE_CODES = tuple(code for code, _name in settings.LANGUAGES)
_KEY = re.compile(r"^[-a-zA-Z0-9_]{1,100}$")


class ImportFileError(Exception):
    """A file that cannot be imported; the message says why, for the person who wrote it."""


@dataclass
class ImportReport:
    categories: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ExportReport:
    categories: int = 0
    files: int = 0


@dataclass(frozen=True)
class ArticleFile:
    path: Path
    key: str
    language: str
    title: str
    category_slug: str
    tags: list[str]
    visibility: str
    status: str
    related: list[str]
    summary: str
    body: str


# Reading -------------------------------------------------------------------------------------


def _string_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(item, (str, int)) for item in value):
        return [str(item).strip() for item in value if str(item).strip()]
    raise ImportFileError(f"'{name}' must be a list of words")


def parse_article_file(path: Path, *, folder_language: str | None) -> ArticleFile:
    """The file's front matter and body, checked; ImportFileError says what is wrong."""
    try:
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ImportFileError("not UTF-8 text") from None
    except yaml.YAMLError as error:
        raise ImportFileError(f"front matter is not valid YAML: {error}".splitlines()[0]) from None
    meta = post.metadata
    if not meta:
        raise ImportFileError("no front matter (a '---' block with article, title and category)")
    missing = [name for name in ("article", "title", "category") if not meta.get(name)]
    if missing:
        raise ImportFileError(f"front matter lacks {', '.join(missing)}")
    key = str(meta["article"]).strip()
    if not _KEY.match(key):
        raise ImportFileError(f"article key {key!r} may use only letters, digits, '-' and '_' (at most 100)")
    language = str(meta.get("language") or folder_language or "").strip().lower()
    if folder_language and meta.get("language") and language != folder_language:
        raise ImportFileError(f"language {language!r} in the front matter but the file is in {folder_language}/")
    if language not in LANGUAGE_CODES:
        raise ImportFileError(f"unknown language {language!r} (one of {', '.join(LANGUAGE_CODES)})")
    visibility = str(meta.get("visibility") or ArticleVisibility.PUBLIC)
    if visibility not in ArticleVisibility.values:
        raise ImportFileError(f"visibility {visibility!r} is not one of {', '.join(ArticleVisibility.values)}")
    status = str(meta.get("status") or ArticleStatus.DRAFT)
    if status not in ArticleStatus.values:
        raise ImportFileError(f"status {status!r} is not one of {', '.join(ArticleStatus.values)}")
    title = str(meta["title"]).strip()
    if len(title) > 200:
        raise ImportFileError("title is longer than 200 characters")
    summary = str(meta.get("summary") or "").strip()
    if len(summary) > 300:
        raise ImportFileError("summary is longer than 300 characters")
    return ArticleFile(
        path=path, key=key, language=language, title=title, category_slug=str(meta["category"]).strip(),
        tags=_string_list(meta.get("tags"), "tags"), visibility=visibility, status=status,
        related=_string_list(meta.get("related"), "related"), summary=summary, body=post.content,
    )


def _article_paths(directory: Path) -> list[tuple[Path, str | None]]:
    paths: list[tuple[Path, str | None]] = [(path, None) for path in sorted(directory.glob("*.md"))]
    for language in LANGUAGE_CODES:
        paths.extend((path, language) for path in sorted((directory / language).glob("*.md")))
    return paths


# Importing -----------------------------------------------------------------------------------


def import_categories(path: Path) -> int:
    """Create or update the categories of `_categories.yml` by slug; parents may come later in the file."""
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as error:
        raise ImportFileError(f"not valid YAML: {error}".splitlines()[0]) from None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) and entry.get("slug") for entry in entries):
        raise ImportFileError("expected a list of categories, each with a slug")
    with transaction.atomic():
        for entry in entries:
            names = entry.get("names") or {}
            descriptions = entry.get("descriptions") or {}
            if not isinstance(names, dict) or not isinstance(descriptions, dict):
                raise ImportFileError(f"category {entry['slug']}: names and descriptions are per-language maps")
            Category.objects.update_or_create(slug=str(entry["slug"]), defaults={
                "names": {str(k): str(v) for k, v in names.items()},
                "descriptions": {str(k): str(v) for k, v in descriptions.items()},
                "icon": str(entry.get("icon") or ""),
                "position": int(entry.get("position") or 0),
                "is_internal": bool(entry.get("is_internal", entry.get("internal", False))),
            })
        by_slug = {category.slug: category for category in Category.objects.all()}
        for entry in entries:
            parent_slug = entry.get("parent")
            category = by_slug[str(entry["slug"])]
            parent = by_slug.get(str(parent_slug)) if parent_slug else None
            if parent_slug and parent is None:
                raise ImportFileError(f"category {category.slug}: unknown parent {parent_slug!r}")
            if category.parent_id != (parent.pk if parent else None):
                category.parent = parent
                category.save(update_fields=["parent"])
    return len(entries)


@dataclass(frozen=True)
class ArticleSettings:
    """What the files of one article agree on: category and visibility from the first file (the
    default language's first), the tags of all its files together (each language brings its own)."""

    category_slug: str
    visibility: str
    tags: list[str]


def _article_settings(items: list[ArticleFile], report: ImportReport) -> dict[str, ArticleSettings]:
    by_key: dict[str, list[ArticleFile]] = {}
    for item in items:
        by_key.setdefault(item.key, []).append(item)
    result = {}
    for key, files in by_key.items():
        files = sorted(files, key=lambda item: (item.language != settings.LANGUAGE_CODE, item.language))
        first = files[0]
        tags: list[str] = []
        for item in files:
            tags.extend(tag for tag in item.tags if tag not in tags)
            if (item.category_slug, item.visibility) != (first.category_slug, first.visibility):
                report.warnings.append((str(item.path), f"category and visibility of {first.path.name} "
                                        f"({first.language}) are used for the whole article"))
        result[key] = ArticleSettings(category_slug=first.category_slug, visibility=first.visibility, tags=tags)
    return result


def _import_one(
    item: ArticleFile, *, shared: ArticleSettings, categories: dict[str, Category], author: User | None,
) -> str:
    """Create or update one translation; "created", "updated" or "unchanged"."""
    category = categories.get(shared.category_slug)
    if category is None:
        raise ImportFileError(f"unknown category {shared.category_slug!r}")
    article = Article.objects.filter(key=item.key).first()
    if article is None:
        article_create(
            category=category, visibility=shared.visibility, tags=shared.tags, language=item.language,
            title=item.title, body_markdown=item.body, summary=item.summary, author=author, key=item.key,
            status=item.status, note=_("Imported"),
        )
        return "created"
    before = (article.category_id, article.visibility, list(article.tags))
    article = article_update(article=article, actor=author, category=category, visibility=shared.visibility,
                             tags=shared.tags)
    changed = before != (article.category_id, article.visibility, list(article.tags))
    translation = ArticleTranslation.objects.filter(article=article, language=item.language).first()
    if translation is None:
        translation_create(article=article, language=item.language, title=item.title, body_markdown=item.body,
                           summary=item.summary, author=author, status=item.status, note=_("Imported"))
        return "created"
    content_before = (translation.title, translation.body_markdown, translation.summary)
    if content_before != (item.title, item.body, item.summary):
        translation_save(translation=translation, title=item.title, body_markdown=item.body, summary=item.summary,
                         author=author, note=_("Imported"))
        changed = True
    if translation.status != item.status:
        # The files are the source of truth: their status is set as written, not walked through the workflow.
        translation_set_status(translation=translation, status=item.status, actor=author, enforce_workflow=False)
        changed = True
    return "updated" if changed else "unchanged"


def articles_import(
    *, directory: Path, author: User | None = None, progress: Callable[[str], None] = lambda _m: None,
) -> ImportReport:
    """Import a folder. Each file is its own transaction: a bad file is reported (with its name)
    and skipped, the others are imported. Related articles are linked after all files are in."""
    directory = Path(directory)
    report = ImportReport()
    if not directory.is_dir():
        report.errors.append((str(directory), "not a folder"))
        return report
    categories_path = directory / CATEGORIES_FILE
    if categories_path.exists():
        try:
            report.categories = import_categories(categories_path)
        except (ImportFileError, ValueError, TypeError) as error:
            report.errors.append((str(categories_path), str(error)))
    categories = {category.slug: category for category in Category.objects.all()}
    items: list[ArticleFile] = []
    seen: dict[tuple[str, str], Path] = {}
    for path, folder_language in _article_paths(directory):
        try:
            item = parse_article_file(path, folder_language=folder_language)
            if (item.key, item.language) in seen:
                raise ImportFileError(f"{seen[item.key, item.language]} has the same article and language")
        except ImportFileError as error:
            report.errors.append((str(path), str(error)))
            continue
        seen[item.key, item.language] = path
        items.append(item)
    shared = _article_settings(items, report)
    related: dict[str, tuple[Path, set[str]]] = {}
    for item in items:
        try:
            with transaction.atomic():
                outcome = _import_one(item, shared=shared[item.key], categories=categories, author=author)
        except ImportFileError as error:
            report.errors.append((str(item.path), str(error)))
            continue
        except ValidationError as error:
            report.errors.append((str(item.path), "; ".join(error.messages)))
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
        related.setdefault(item.key, (item.path, set()))[1].update(item.related)
        progress(f"{outcome}: {item.path}")
    _link_related(related, author=author, report=report)
    return report


def _link_related(related: dict[str, tuple[Path, set[str]]], *, author: User | None, report: ImportReport) -> None:
    keys = set(related) | {key for _path, keys in related.values() for key in keys}
    articles = {article.key: article for article in Article.objects.filter(key__in=keys)}
    for key, (path, related_keys) in related.items():
        unknown = sorted(related_keys - set(articles))
        if unknown:
            report.warnings.append((str(path), f"related articles not found: {', '.join(unknown)}"))
        wanted = [articles[other] for other in sorted(related_keys) if other in articles and other != key]
        article = articles[key]
        # Only additions: the relation is symmetrical, and a file that does not list its partner
        # must not undo the link the partner's file made.
        current = set(article.related.values_list("pk", flat=True))
        if any(other.pk not in current for other in wanted):
            with transaction.atomic():
                article_set_related(article=article, related=[*article.related.all(), *wanted], actor=author)


# Exporting -----------------------------------------------------------------------------------


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)


def articles_export(*, directory: Path) -> ExportReport:
    """Write every category and every translation (any status) in the import layout."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    report = ExportReport()
    categories = list(Category.objects.select_related("parent").order_by("position", "slug"))
    entries = [
        {"slug": category.slug, "parent": category.parent.slug if category.parent else None,
         "position": category.position, "icon": category.icon, "is_internal": category.is_internal,
         "names": category.names, "descriptions": category.descriptions}
        for category in categories
    ]
    (directory / CATEGORIES_FILE).write_text(_yaml(entries), encoding="utf-8")
    report.categories = len(entries)
    related_keys: dict[int, list[str]] = {}
    for article in Article.objects.prefetch_related("related").only("pk", "key"):
        related_keys[article.pk] = sorted(other.key or f"article-{other.pk}" for other in article.related.all())
    translations = ArticleTranslation.objects.select_related("article__category").order_by("article_id", "language")
    for translation in translations.iterator(chunk_size=500):
        article = translation.article
        key = article.key or f"article-{article.pk}"
        meta = {
            "article": key, "title": translation.title, "category": article.category.slug, "tags": list(article.tags),
            "visibility": article.visibility, "status": translation.status, "related": related_keys.get(article.pk, []),
            "summary": translation.summary,
        }
        folder = directory / translation.language
        folder.mkdir(exist_ok=True)
        body = translation.body_markdown.strip("\n")
        (folder / f"{key}.md").write_text(f"---\n{_yaml(meta)}---\n{body}\n", encoding="utf-8")
        report.files += 1
    return report
