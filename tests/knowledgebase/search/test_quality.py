"""Relevance of the search on the demo help center, measured on the labelled queries of
tests/fixtures/kb/queries.yml: recall@3 (share of queries with an expected article in the top 3)
and MRR@10 (mean of 1/rank of the first expected article within the top 10). Searches as an
anonymous reader, in the query's language, like the help center does."""

from __future__ import annotations

from pathlib import Path

import frontmatter
import pytest
import yaml
from django.conf import settings
from django.core.management import call_command, get_commands
from django.utils import timezone

from knowledgebase.markdown import render_markdown
from knowledgebase.models import Article, ArticleStatus, ArticleTranslation, Category
from knowledgebase.search import index_translations, kb_search

CORPUS = Path(settings.BASE_DIR) / "knowledgebase" / "demo" / "articles"
QUERIES = Path(settings.BASE_DIR) / "tests" / "fixtures" / "kb" / "queries.yml"
MIN_RECALL_AT_3 = 0.8


def _import_corpus_without_command(directory: Path) -> None:
    """The demo corpus as import_articles would store it (used only while that command is not
    available): categories, one Article per key, one rendered and indexed translation per file."""
    categories = {}
    for entry in yaml.safe_load((directory / "_categories.yml").read_text()):
        categories[entry["slug"]] = Category.objects.create(
            slug=entry["slug"], names=entry.get("names") or {}, position=entry.get("position") or 0,
            is_internal=entry["slug"] == "for-agents" or bool(entry.get("is_internal")),
        )
    ids = []
    for path in sorted(directory.glob("*/*.md")):
        post = frontmatter.load(path)
        article, _ = Article.objects.get_or_create(key=post["article"], defaults={
            "category": categories[post["category"]], "visibility": post.get("visibility", "public"),
            "tags": post.get("tags") or [],
        })
        status = post.get("status", ArticleStatus.DRAFT)
        translation = ArticleTranslation.objects.create(
            article=article, language=path.parent.name, title=post["title"], slug=f"{post['article']}",
            summary=post.get("summary", ""), body_markdown=post.content, body_html=render_markdown(post.content),
            status=status, published_at=timezone.now() if status == ArticleStatus.PUBLISHED else None,
        )
        ids.append(translation.pk)
    index_translations(translation_ids=ids)


@pytest.fixture
def demo_corpus(db) -> None:
    if "import_articles" in get_commands():
        call_command("import_articles", str(CORPUS), verbosity=0)
    else:
        _import_corpus_without_command(CORPUS)


def test_labelled_queries_find_the_expected_articles_in_the_top_3(demo_corpus, capsys):
    labelled = yaml.safe_load(QUERIES.read_text())
    assert len(labelled) >= 60
    keys_by_translation = dict(ArticleTranslation.objects.values_list("pk", "article__key"))
    hits_at_3 = 0
    reciprocal_ranks = []
    misses = []
    for entry in labelled:
        results = kb_search(query=entry["query"], language=entry["language"], viewer=None)
        ranked_keys = [keys_by_translation[hit.translation_id] for hit in results.hits[:10]]
        rank = next((position for position, key in enumerate(ranked_keys, 1) if key in entry["expected"]), None)
        if rank is not None and rank <= 3:
            hits_at_3 += 1
        else:
            misses.append(f"  {entry['language']:8} {entry['query']!r}: expected {entry['expected']}, "
                          f"got {ranked_keys[:3]}")
        reciprocal_ranks.append(1 / rank if rank else 0.0)
    recall_at_3 = hits_at_3 / len(labelled)
    mrr_at_10 = sum(reciprocal_ranks) / len(labelled)
    with capsys.disabled():
        print(f"\nKB search quality over {len(labelled)} labelled queries: "
              f"recall@3 {recall_at_3:.3f}, MRR@10 {mrr_at_10:.3f}")
        if misses:
            print("Not in the top 3:\n" + "\n".join(misses))
    assert recall_at_3 >= MIN_RECALL_AT_3
