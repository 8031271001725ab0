"""Keeping each translation's search columns current: `search_vector` (title A, tags B, body C)
and `search_title` (for trigram similarity)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import connection

from knowledgebase.search.segment import markdown_to_text, segmented_text, to_simplified

ENGLISH_LANGUAGES = frozenset({"en"})
BATCH_SIZE = 500

_UPDATE_SQL = """
UPDATE knowledgebase_articletranslation AS t
SET search_vector = setweight(to_tsvector(v.config::regconfig, v.title), 'A')
                 || setweight(to_tsvector(v.config::regconfig, v.tags), 'B')
                 || setweight(to_tsvector(v.config::regconfig, v.body), 'C'),
    search_title = v.search_title
FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
     AS v(id, config, title, tags, body, search_title)
WHERE t.id = v.id
"""


def search_config(language: str) -> str:
    """The text search configuration a language's text goes through: `english` (stemming,
    stopwords) for English; `simple` for Chinese, which arrives already segmented."""
    return "english" if language in ENGLISH_LANGUAGES else "simple"


def prepare_document(*, language: str, title: str, tags: Iterable[str], body_markdown: str) -> tuple[str, str, str, str, str]:
    """(config, title, tags, body, search_title) as the UPDATE above takes them."""
    config = search_config(language)
    body = markdown_to_text(body_markdown)
    tag_text = " ".join(tag.replace("-", " ").replace("_", " ") for tag in tags)
    if config == "english":
        return config, title, tag_text, body, title
    segmented_title = segmented_text(title)
    # The title as written (so an exact paste still matches) plus its Simplified words, so
    # trigram similarity works on words for a zh-Hant title too.
    return config, segmented_title, segmented_text(tag_text), segmented_text(body), f"{title} {segmented_title}"


def _batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def index_translations(*, translation_ids: list[int]) -> None:
    """Recompute search_vector and search_title of these translations from their current title,
    body and the article's tags. Runs in the caller's transaction, in batches of BATCH_SIZE."""
    ids = sorted({int(pk) for pk in translation_ids})
    if not ids:
        return
    with connection.cursor() as cursor:
        for batch in _batches(ids, BATCH_SIZE):
            cursor.execute(
                """SELECT t.id, t.language, t.title, t.body_markdown, a.tags
                   FROM knowledgebase_articletranslation t
                   JOIN knowledgebase_article a ON a.id = t.article_id
                   WHERE t.id = ANY(%s)""",
                [batch],
            )
            columns: list[list] = [[], [], [], [], [], []]
            for pk, language, title, body_markdown, tags in cursor.fetchall():
                prepared = prepare_document(language=language, title=title, tags=tags or [],
                                            body_markdown=body_markdown)
                columns[0].append(pk)
                for column, value in zip(columns[1:], prepared, strict=True):
                    column.append(value)
            if columns[0]:
                cursor.execute(_UPDATE_SQL, columns)


__all__ = ["index_translations", "prepare_document", "search_config", "to_simplified"]
