"""Writing articles: revisions on every save, slugs and their redirects, the status workflow, restore."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from knowledgebase.models import ArticleRevision, ArticleStatus, ArticleTranslation, SlugRedirect
from knowledgebase.services import (
    revision_restore,
    translation_create,
    translation_save,
    translation_set_status,
)

pytestmark = pytest.mark.django_db


def test_article_create_renders_body_writes_revision_one_and_indexes(make_translation, author):
    translation = make_translation(title="How to request a refund", body="Open **Billing**.")

    translation.refresh_from_db()
    assert translation.slug == "how-to-request-a-refund"
    assert translation.body_html == "<p>Open <strong>Billing</strong>.</p>\n"
    assert translation.status == ArticleStatus.DRAFT and translation.published_at is None
    assert translation.article.key == "how-to-request-a-refund"
    assert translation.search_vector is not None
    revision = translation.revisions.get()
    assert (revision.number, revision.title, revision.author, revision.status) == (
        1, "How to request a refund", author, ArticleStatus.DRAFT)


def test_chinese_title_keeps_chinese_characters_in_the_slug(make_translation):
    translation = make_translation(title="如何申请退款？", language="zh-hans")
    assert translation.slug == "如何申请退款"
    # No ASCII key can be made from a Chinese title: the article is named by its id instead.
    assert translation.article.key == f"article-{translation.article_id}"


def test_slugs_are_unique_per_language_but_may_repeat_across_languages(make_translation):
    first = make_translation(title="Refunds")
    second = make_translation(title="Refunds")
    other_language = make_translation(title="Refunds", language="zh-hans")
    assert (first.slug, second.slug, other_language.slug) == ("refunds", "refunds-2", "refunds")


def test_one_translation_per_language(make_translation, author):
    translation = make_translation(language="en")
    with pytest.raises(ValidationError):
        translation_create(article=translation.article, language="en", title="Again", body_markdown="", author=author)
    assert translation.article.translations.count() == 1


def test_every_save_is_a_new_revision_with_author_and_note(make_translation, author):
    translation = make_translation(body="First text.")
    translation_save(translation=translation, title=translation.title, body_markdown="Second text.",
                     author=author, note="Clarified the steps")

    revisions = list(translation.revisions.order_by("number").values_list("number", "body_markdown", "note"))
    assert revisions == [(1, "First text.", "Created"), (2, "Second text.", "Clarified the steps")]
    translation.refresh_from_db()
    assert translation.body_html == "<p>Second text.</p>\n"


def test_a_save_that_changes_nothing_adds_no_revision(make_translation, author):
    translation = make_translation()
    translation_save(translation=translation, title=translation.title, body_markdown=translation.body_markdown,
                     author=author)
    assert translation.revisions.count() == 1


def test_title_change_gives_a_new_slug_and_keeps_the_old_one_as_redirect(make_translation, author):
    translation = make_translation(title="Refund policy")
    translation_save(translation=translation, title="Our refund policy", body_markdown="x", author=author)

    translation.refresh_from_db()
    assert translation.slug == "our-refund-policy"
    assert list(SlugRedirect.objects.values_list("language", "old_slug", "translation")) == [
        ("en", "refund-policy", translation.pk)]


def test_an_old_slug_stays_reserved_for_its_article(make_translation, author):
    renamed = make_translation(title="Refund policy")
    translation_save(translation=renamed, title="Refunds explained", body_markdown="x", author=author)
    newcomer = make_translation(title="Refund policy")
    # The old URL keeps leading to the renamed article, so the new one gets another slug.
    assert newcomer.slug == "refund-policy-2"


def test_title_changed_back_takes_its_old_slug_back_without_a_redirect_loop(make_translation, author):
    translation = make_translation(title="Refund policy")
    translation_save(translation=translation, title="Refunds explained", body_markdown="x", author=author)
    translation_save(translation=translation, title="Refund policy", body_markdown="x", author=author)

    translation.refresh_from_db()
    assert translation.slug == "refund-policy"
    assert list(SlugRedirect.objects.values_list("old_slug", flat=True)) == ["refunds-explained"]


def test_status_workflow_sets_published_at_once_and_notes_each_change(make_translation, author):
    translation = make_translation()
    translation_set_status(translation=translation, status=ArticleStatus.IN_REVIEW, actor=author)
    translation_set_status(translation=translation, status=ArticleStatus.PUBLISHED, actor=author)
    first_published = translation.published_at
    assert first_published is not None
    translation_set_status(translation=translation, status=ArticleStatus.ARCHIVED, actor=author)
    translation_set_status(translation=translation, status=ArticleStatus.DRAFT, actor=author)
    translation_set_status(translation=translation, status=ArticleStatus.PUBLISHED, actor=author)

    translation.refresh_from_db()
    assert translation.status == ArticleStatus.PUBLISHED
    assert translation.published_at == first_published
    notes = list(translation.revisions.order_by("number").values_list("status", "note"))
    assert notes == [
        ("draft", "Created"),
        ("in_review", "Status changed from Draft to In review"),
        ("published", "Status changed from In review to Published"),
        ("archived", "Status changed from Published to Archived"),
        ("draft", "Status changed from Archived to Draft"),
        ("published", "Status changed from Draft to Published"),
    ]


def test_archived_article_cannot_be_published_without_going_back_to_draft(make_translation, author):
    translation = make_translation(status=ArticleStatus.ARCHIVED)
    with pytest.raises(ValidationError):
        translation_set_status(translation=translation, status=ArticleStatus.PUBLISHED, actor=author)
    translation.refresh_from_db()
    assert translation.status == ArticleStatus.ARCHIVED
    assert translation.revisions.count() == 1


def test_customers_cannot_write_or_publish(make_translation, customer_user):
    translation = make_translation()
    with pytest.raises(PermissionDenied):
        translation_save(translation=translation, title="Hacked", body_markdown="x", author=customer_user)
    with pytest.raises(PermissionDenied):
        translation_set_status(translation=translation, status=ArticleStatus.PUBLISHED, actor=customer_user)
    with pytest.raises(PermissionDenied):
        make_translation(title="Mine", author=customer_user)

    translation.refresh_from_db()
    assert (translation.title, translation.status) == ("How to request a refund", ArticleStatus.DRAFT)
    assert ArticleTranslation.objects.count() == 1
    assert ArticleRevision.objects.count() == 1


def test_restore_adds_a_new_revision_with_the_old_content_and_keeps_history(make_translation, author):
    translation = make_translation(title="Refund policy", body="Version one.")
    translation_save(translation=translation, title="Refunds", body_markdown="Version two.", author=author)
    first = translation.revisions.get(number=1)

    revision_restore(revision=first, actor=author)

    translation.refresh_from_db()
    assert (translation.title, translation.body_markdown, translation.slug) == (
        "Refund policy", "Version one.", "refund-policy")
    assert translation.body_html == "<p>Version one.</p>\n"
    assert list(translation.revisions.order_by("number").values_list("number", "body_markdown", "note")) == [
        (1, "Version one.", "Created"), (2, "Version two.", ""), (3, "Version one.", "Restored revision 1")]


def test_restoring_the_current_content_still_records_the_decision(make_translation, author):
    translation = make_translation(body="Same.")
    revision_restore(revision=translation.revisions.get(number=1), actor=author)
    assert list(translation.revisions.order_by("number").values_list("note", flat=True)) == [
        "Created", "Restored revision 1"]


def test_edits_reach_the_search_index(make_translation, author):
    from django.contrib.postgres.search import SearchQuery

    translation = make_translation(title="Printer setup", body="Plug it in.")
    translation_save(translation=translation, title="Printer setup", body_markdown="Install the duplex unit.",
                     author=author)
    matches = ArticleTranslation.objects.filter(search_vector=SearchQuery("duplex", config="english"))
    assert list(matches) == [translation]
