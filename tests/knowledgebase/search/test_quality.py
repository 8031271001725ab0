"""Relevance of the search on the demo help center, measured on the labelled queries of
tests/fixtures/kb/queries.yml: recall@3 (share of queries with an expected article in the top 3)
and MRR@10 (mean of 1/rank of the first expected article within the top 10). Searches as an
anonymous reader, in the query's language, like the help center does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command

from knowledgebase.models import ArticleTranslation
from knowledgebase.search import kb_search

CORPUS = Path(settings.BASE_DIR) / "knowledgebase" / "demo" / "articles"
QUERIES = Path(settings.BASE_DIR) / "tests" / "fixtures" / "kb" / "queries.yml"
MIN_RECALL_AT_3 = 0.8


@pytest.fixture
def demo_corpus(db) -> None:
    call_command("import_articles", str(CORPUS), verbosity=0)


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
