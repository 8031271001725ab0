"""Reads of the public help center. Every query starts from `readable_translations(viewer)`, so
the role rule (drafts never, customers-only articles for signed-in readers, internal ones for
staff) is decided in one place; these functions only shape what a page needs, each in one query."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db.models import Count, Prefetch

from helpdesk.permissions import is_staff_member
from knowledgebase.models import Article, ArticleTranslation, Category
from knowledgebase.selectors import readable_translations, readable_visibilities

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tickets.models import User

    Viewer = User | AnonymousUser | None


COUNTS_CACHE_SECONDS = 120


class _AnySignedInCustomer:
    """Stands for "some signed-in customer" in the role rule: what sign-in would reveal."""

    is_authenticated = True
    is_active = True
    is_staff_member = False


@dataclass
class CategoryNode:
    """A category as the help center shows it: its name in the page's language, its children,
    and how many readable articles in that language it holds (its subtree included)."""

    category: Category
    language: str
    name: str
    description: str
    children: list[CategoryNode] = field(default_factory=list)
    parent: CategoryNode | None = None
    article_count: int = 0

    @property
    def slug(self) -> str:
        return self.category.slug

    @property
    def name_lang_attribute(self) -> str:
        """' lang="en"' when the name fell back to English on another language's page (screen
        readers then pronounce it as English), else ""."""
        return "" if self.category.names.get(self.language) else ' lang="en"'

    @property
    def ancestors(self) -> list[CategoryNode]:
        """From the root down to this node's parent."""
        chain: list[CategoryNode] = []
        node = self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return list(reversed(chain))


@dataclass
class CategoryTree:
    roots: list[CategoryNode]
    by_id: dict[int, CategoryNode]
    by_slug: dict[str, CategoryNode]
    # Every category the viewer may browse, with or without articles in the language: a
    # category page reached from another language's page exists, even when empty here.
    every_by_slug: dict[str, CategoryNode] = field(default_factory=dict)


def category_tree(*, viewer: Viewer, language: str, counts: bool = True) -> CategoryTree:
    """The categories the viewer may browse, named in `language` (English when a name is
    missing). With `counts`, categories without a readable article in `language` anywhere in
    their subtree are left out, so readers never open an empty page. One query, and one more
    when the counts are not cached."""
    categories = Category.objects.all()
    if not is_staff_member(viewer):
        categories = categories.filter(is_internal=False)
    nodes = {
        category.id: CategoryNode(category=category, language=language, name=category.name_in(language),
                                  description=category.description_in(language))
        for category in categories
    }
    for node in nodes.values():
        parent_id = node.category.parent_id
        if parent_id is not None and parent_id in nodes:
            node.parent = nodes[parent_id]
            nodes[parent_id].children.append(node)
    every_by_slug = {node.slug: node for node in nodes.values()}
    if counts:
        for category_id, count in category_article_counts(viewer=viewer, language=language).items():
            counted: CategoryNode | None = nodes.get(category_id)
            while counted is not None:
                counted.article_count += count
                counted = counted.parent
        visible = {node_id: node for node_id, node in nodes.items() if node.article_count}
        for node in nodes.values():
            node.children = [child for child in node.children if child.article_count]
        nodes = visible
    roots = [node for node in nodes.values() if node.parent is None]
    return CategoryTree(roots=roots, by_id=nodes, by_slug={node.slug: node for node in nodes.values()},
                        every_by_slug=every_by_slug)


def category_article_counts(*, viewer: Viewer, language: str) -> dict[int, int]:
    """Readable articles in `language` per category, for everyone with the viewer's role.

    Counting means reading every published translation of the language (0.4 s over 50,000 on
    a busy 2-core machine), so the result is shared through the cache for COUNTS_CACHE_SECONDS:
    a newly published article may take that long to be counted on the home page (the category
    page lists it at once)."""
    key = f"kb:help:counts:v1:{language}:{'+'.join(sorted(readable_visibilities(viewer)))}:{is_staff_member(viewer)}"
    counts = cache.get(key)
    if counts is None:
        rows = (
            readable_translations(viewer).filter(language=language)
            .values_list("article__category_id").annotate(count=Count("id")).order_by()
        )
        counts = dict(rows)
        cache.set(key, counts, COUNTS_CACHE_SECONDS)
    return counts


def popular_translations(*, viewer: Viewer, language: str, limit: int = 8) -> list[ArticleTranslation]:
    """The most read articles in `language` (kb_translation_popular index)."""
    return list(
        readable_translations(viewer).filter(language=language).select_related("article")
        .only("id", "language", "slug", "title", "summary", "view_count", "article__visibility")
        .order_by("-view_count", "title")[:limit]
    )


def category_translations(
    *, viewer: Viewer, language: str, category: Category, offset: int = 0, limit: int = 30,
) -> tuple[list[ArticleTranslation], bool]:
    """One page of the readable articles filed directly in `category`, in the authors' order,
    and whether there are more after it (read with the page, no count)."""
    rows = list(
        readable_translations(viewer).filter(language=language, article__category=category)
        .select_related("article").defer("body_markdown", "body_html", "search_vector", "search_title")
        .order_by("article__position", "title", "id")[offset:offset + limit + 1]
    )
    return rows[:limit], len(rows) > limit


def translation_by_slug(*, viewer: Viewer, language: str, slug: str) -> ArticleTranslation | None:
    """The article page's translation with its article and category, or None when it does not
    exist or the viewer may not read it. The article's other readable translations (language
    switcher, hreflang) come prefetched as `article.readable_translations`."""
    siblings = Prefetch(
        "article__translations",
        queryset=readable_translations(viewer).only("id", "article_id", "language", "slug", "title"),
        to_attr="readable_translations",
    )
    return (
        readable_translations(viewer).filter(language=language, slug=slug)
        .select_related("article__category").prefetch_related(siblings).first()
    )


def translation_by_old_slug(*, viewer: Viewer, language: str, slug: str) -> ArticleTranslation | None:
    """The readable translation that used to have `slug` (its title changed since)."""
    return (
        readable_translations(viewer).filter(language=language, old_slugs__language=language,
                                             old_slugs__old_slug=slug)
        .only("id", "language", "slug").first()
    )


def sign_in_would_reveal(*, language: str, slug: str) -> bool:
    """Whether some signed-in customer may read the article at this slug (current or old): an
    anonymous reader who follows a link to a customers-only article is asked to sign in.
    Internal articles and drafts answer False, so their existence is never revealed."""
    readable = readable_translations(_AnySignedInCustomer())  # type: ignore[arg-type]
    return (
        readable.filter(language=language, slug=slug).exists()
        or readable.filter(language=language, old_slugs__language=language, old_slugs__old_slug=slug).exists()
    )


def related_translations(*, viewer: Viewer, translation: ArticleTranslation, limit: int = 6) -> list[ArticleTranslation]:
    """The related articles that exist in the same language and that the viewer may read."""
    related_articles = Article.related.through.objects.filter(
        from_article_id=translation.article_id,
    ).values("to_article_id")
    return list(
        readable_translations(viewer).filter(language=translation.language, article_id__in=related_articles)
        .select_related("article").only("id", "language", "slug", "title", "summary", "article__visibility")
        .order_by("title")[:limit]
    )


def readable_translation_by_id(*, viewer: Viewer, translation_id: int) -> ArticleTranslation | None:
    return readable_translations(viewer).filter(pk=translation_id).first()


def sitemap_article_count() -> int:
    """How many articles an anonymous reader (a search engine) may read in some language;
    cached like the category counts (counting reads every published translation)."""
    key = "kb:help:sitemap-count:v1"
    count = cache.get(key)
    if count is None:
        count = readable_translations(None).values("article_id").distinct().count()
        cache.set(key, count, COUNTS_CACHE_SECONDS)
    return count


def sitemap_translations(*, offset: int = 0, limit: int | None = None) -> dict[int, list[ArticleTranslation]]:
    """The translations an anonymous reader may read of the articles [offset, offset + limit) in
    id order, grouped by article so each URL can name its alternates in the other languages."""
    public = readable_translations(None)
    if offset or limit is not None:
        article_ids = public.order_by("article_id").values_list("article_id", flat=True).distinct()
        article_ids = article_ids[offset:offset + limit] if limit is not None else article_ids[offset:]
        public = public.filter(article_id__in=list(article_ids))
    by_article: dict[int, list[ArticleTranslation]] = defaultdict(list)
    rows = public.only("id", "article_id", "language", "slug", "updated_at").order_by("article_id", "language")
    for translation in rows:
        by_article[translation.article_id].append(translation)
    return dict(by_article)
