import re

from django.db import connection

from knowledgebase.search import index_translations


def _matches(translation_id: int, config: str, query: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_vector @@ plainto_tsquery(%s::regconfig, %s) FROM knowledgebase_articletranslation WHERE id = %s",
            [config, query, translation_id],
        )
        return cursor.fetchone()[0]


def _weights(translation_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_vector::text FROM knowledgebase_articletranslation WHERE id = %s", [translation_id])
        return cursor.fetchone()[0]


def test_english_translation_is_stemmed_and_weighted_title_tags_body(make_article):
    translation = make_article(title="Resetting passwords", tags=["sign-in"], body="Use the **recovery** link.")
    assert _matches(translation.pk, "english", "reset password")
    vector = _weights(translation.pk)
    assert "'password':2A" in vector
    assert "'sign':3B" in vector
    assert re.search(r"'recoveri':\d+C", vector)
    assert translation.search_title == "Resetting passwords"


def test_chinese_translation_is_segmented_into_simple_words(make_article):
    translation = make_article(title="如何申请退款", language="zh-hans", body="退款会在三个工作日内到账。")
    assert _matches(translation.pk, "simple", "退款")
    assert _matches(translation.pk, "simple", "申请")
    assert "如何申请退款" in translation.search_title
    assert "申请 退款" in translation.search_title


def test_traditional_translation_is_indexed_with_simplified_words(make_article):
    translation = make_article(title="如何申請退款", language="zh-hant", body="退款會在三個工作日內到帳。")
    assert _matches(translation.pk, "simple", "申请")
    # The title as written stays in search_title for trigram matching of a pasted title.
    assert translation.search_title.startswith("如何申請退款")


def test_reindex_follows_a_changed_title(make_article):
    translation = make_article(title="Billing address")
    translation.title = "Invoice language"
    translation.save(update_fields=["title"])
    index_translations(translation_ids=[translation.pk])
    assert _matches(translation.pk, "english", "invoice")
    assert not _matches(translation.pk, "english", "billing")


def test_indexing_nothing_is_harmless(db):
    index_translations(translation_ids=[])
