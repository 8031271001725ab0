"""The authoring pages under /agent/kb/: staff write, customers find nothing there."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from knowledgebase.models import Article, ArticleAttachment, ArticleStatus, ArticleTranslation, SlugRedirect
from knowledgebase.services import translation_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(make_translation):
    return make_translation(title="Refund policy", body="Refunds take **5 days**.", summary="How refunds work")


def _authoring_urls(translation: ArticleTranslation) -> list[tuple[str, str]]:
    article_id, translation_id = translation.article_id, translation.pk
    return [
        ("get", reverse("kb_agent:articles")),
        ("get", reverse("kb_agent:article_new")),
        ("post", reverse("kb_agent:article_new")),
        ("post", reverse("kb_agent:preview")),
        ("get", reverse("kb_agent:translation_edit", args=[translation_id])),
        ("post", reverse("kb_agent:translation_edit", args=[translation_id])),
        ("post", reverse("kb_agent:translation_status", args=[translation_id])),
        ("get", reverse("kb_agent:revisions", args=[translation_id])),
        ("get", reverse("kb_agent:revision_diff", args=[translation_id, 1])),
        ("post", reverse("kb_agent:revision_restore", args=[translation_id, 1])),
        ("get", reverse("kb_agent:translation_add", args=[article_id, "zh-hans"])),
        ("post", reverse("kb_agent:translation_convert", args=[article_id])),
        ("post", reverse("kb_agent:attachment_upload", args=[article_id])),
        ("post", reverse("kb_agent:related_add", args=[article_id])),
        ("post", reverse("kb_agent:related_remove", args=[article_id, 1])),
        ("post", reverse("kb_agent:from_ticket", args=[1])),
    ]


def test_customers_get_404_on_every_authoring_url(draft, customer_client):
    for method, url in _authoring_urls(draft):
        response = getattr(customer_client, method)(url, {"status": "published", "title": "x"})
        assert response.status_code == 404, (method, url)
    draft.refresh_from_db()
    assert (draft.title, draft.status) == ("Refund policy", ArticleStatus.DRAFT)


def test_anonymous_visitors_are_sent_to_sign_in(draft, client):
    for method, url in _authoring_urls(draft):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/login" in response["Location"], (method, url)


def test_agent_navigation_links_to_the_knowledge_base(author_client):
    page = author_client.get(reverse("agent:queue")).content.decode()
    assert f'href="{reverse("kb_agent:articles")}"' in page
    assert f'href="{reverse("kb_analytics:search")}"' in page


def test_list_shows_every_status_and_filters(make_translation, author_client, internal_category):
    make_translation(title="Refund policy")
    make_translation(title="退款政策", language="zh-hans", status=ArticleStatus.PUBLISHED)
    make_translation(title="Escalation playbook", status=ArticleStatus.IN_REVIEW, category=internal_category)

    page = author_client.get(reverse("kb_agent:articles")).content.decode()
    assert "Refund policy" in page and "退款政策" in page and "Escalation playbook" in page

    def titles(**params):
        html = author_client.get(reverse("kb_agent:articles"), params).content.decode()
        return sorted(re.findall(r'<a href="/agent/kb/translations/\d+/" lang="[^"]+">([^<]+)</a>', html))

    assert titles(language="zh-hans") == ["退款政策"]
    assert titles(status="in_review") == ["Escalation playbook"]
    assert titles(category=internal_category.pk) == ["Escalation playbook"]
    assert titles(q="refund") == ["Refund policy"]


def test_list_page_query_count_does_not_grow_with_articles(make_translation, author_client,
                                                           django_assert_max_num_queries):
    for n in range(30):
        make_translation(title=f"Article {n}")
    # Session and user, categories, the count, the page of rows (category and editor joined).
    with django_assert_max_num_queries(6):
        response = author_client.get(reverse("kb_agent:articles"))
    assert response.content.decode().count('href="/agent/kb/translations/') == 30


def test_author_creates_a_draft(author_client, category, author):
    response = author_client.post(reverse("kb_agent:article_new"), {
        "language": "zh-hans", "title": "如何申请退款", "summary": "退款步骤", "category": category.pk,
        "visibility": "customers", "tags": "退款, billing", "body_markdown": "打开**账单**。",
    })
    translation = ArticleTranslation.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("kb_agent:translation_edit",
                                                                           args=[translation.pk])
    assert (translation.language, translation.slug, translation.status, translation.author) == (
        "zh-hans", "如何申请退款", ArticleStatus.DRAFT, author)
    assert translation.body_html == "<p>打开<strong>账单</strong>。</p>\n"
    assert (translation.article.visibility, translation.article.tags) == ("customers", ["退款", "billing"])


def test_edit_saves_a_revision_and_a_slug_redirect(draft, author_client, category):
    response = author_client.post(reverse("kb_agent:translation_edit", args=[draft.pk]), {
        "title": "Our refund policy", "summary": "How refunds work", "category": category.pk,
        "visibility": "public", "tags": "refund", "body_markdown": "Refunds take **3 days**.",
        "note": "Faster refunds",
    })
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.title, draft.slug) == ("Our refund policy", "our-refund-policy")
    assert draft.revisions.get(number=2).note == "Faster refunds"
    assert SlugRedirect.objects.get().old_slug == "refund-policy"


def test_edit_page_shows_status_buttons_translations_and_preview(draft, author_client):
    page = author_client.get(reverse("kb_agent:translation_edit", args=[draft.pk])).content.decode()
    assert "Move to In review" in page and "Move to Published" in page and "Move to Archived" in page
    assert reverse("kb_agent:translation_add", args=[draft.article_id, "zh-hans"]) in page
    assert "<p>Refunds take <strong>5 days</strong>.</p>" in page
    assert "Create zh-Hant draft from zh-Hans" not in page


def test_status_buttons_publish_and_refuse_a_wrong_move(draft, author_client):
    url = reverse("kb_agent:translation_status", args=[draft.pk])
    author_client.post(url, {"status": "published"})
    draft.refresh_from_db()
    assert draft.status == ArticleStatus.PUBLISHED and draft.published_at is not None

    response = author_client.post(url, {"status": "in_review"}, follow=True)
    assert "An article cannot go from Published to In review." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ArticleStatus.PUBLISHED


def test_preview_renders_sanitised_markdown(author_client):
    response = author_client.post(reverse("kb_agent:preview"), {"body_markdown": "# Hi\n<script>x()</script>"})
    html = response.content.decode()
    assert "<h1>Hi</h1>" in html and "<script>" not in html


def test_revision_diff_marks_changed_words_and_restore_makes_a_new_revision(draft, author_client, author):
    translation_save(translation=draft, title="Refund policy", body_markdown="Refunds take **3 days**.\nNew line",
                     author=author)
    page = author_client.get(reverse("kb_agent:revision_diff", args=[draft.pk, 2])).content.decode()
    assert "<del>5</del>" in page and "<ins>3</ins>" in page and "<ins>New line</ins>" not in page
    assert re.search(r'class="kb-diff__insert">.*?New line', page, re.S)

    revisions = author_client.get(reverse("kb_agent:revisions", args=[draft.pk])).content.decode()
    assert "r1" in revisions and "r2" in revisions

    author_client.post(reverse("kb_agent:revision_restore", args=[draft.pk, 1]))
    draft.refresh_from_db()
    assert draft.body_markdown == "Refunds take **5 days**."
    assert list(draft.revisions.order_by("number").values_list("note", flat=True)) == [
        "Created", "", "Restored revision 1"]


def test_add_translation_and_convert_to_traditional(make_translation, author_client):
    english = make_translation(title="Refunds")
    url = reverse("kb_agent:translation_add", args=[english.article_id, "zh-hans"])
    author_client.post(url, {"title": "退款说明", "summary": "", "body_markdown": "请在设置里打开打印机。"})
    simplified = english.article.translations.get(language="zh-hans")
    assert (simplified.title, simplified.status) == ("退款说明", ArticleStatus.DRAFT)

    page = author_client.get(reverse("kb_agent:translation_edit", args=[simplified.pk])).content.decode()
    assert "Create zh-Hant draft from zh-Hans" in page
    response = author_client.post(reverse("kb_agent:translation_convert", args=[english.article_id]))
    traditional = english.article.translations.get(language="zh-hant")
    assert response["Location"] == reverse("kb_agent:translation_edit", args=[traditional.pk])
    assert (traditional.title, traditional.body_markdown, traditional.needs_translator_review) == (
        "退款說明", "請在設置裡打開印表機。", True)

    again = author_client.post(reverse("kb_agent:translation_convert", args=[english.article_id]), follow=True)
    assert "already has a Traditional Chinese translation" in again.content.decode()
    assert english.article.translations.count() == 3


def test_related_articles_are_added_by_key_and_removed(make_translation, author_client):
    first = make_translation(title="Refunds", key="refunds")
    second = make_translation(title="Cancel a subscription", key="cancel-subscription")
    author_client.post(reverse("kb_agent:related_add", args=[first.article_id]),
                       {"article": "cancel-subscription", "translation": first.pk})
    assert list(first.article.related.all()) == [second.article]
    assert list(second.article.related.all()) == [first.article]
    page = author_client.get(reverse("kb_agent:translation_edit", args=[first.pk])).content.decode()
    assert "Cancel a subscription" in page

    author_client.post(reverse("kb_agent:related_remove", args=[first.article_id, second.article_id]))
    assert first.article.related.count() == 0


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_uploaded_image_is_served_to_readers_of_the_published_article_only(
    draft, author_client, customer_client, client, settings, tmp_path, author,
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from knowledgebase.services import translation_set_status

    settings.MEDIA_ROOT = str(tmp_path)
    author_client.post(reverse("kb_agent:attachment_upload", args=[draft.article_id]),
                       {"file": SimpleUploadedFile("shot.png", PNG, content_type="image/png"),
                        "translation": draft.pk})
    attachment = ArticleAttachment.objects.get()
    url = reverse("kb_agent:attachment", args=[attachment.pk, attachment.filename])
    page = author_client.get(reverse("kb_agent:translation_edit", args=[draft.pk])).content.decode()
    assert f"![shot.png]({url})" in page

    assert author_client.get(url).status_code == 200
    # A draft's files are not readable outside the workspace.
    assert client.get(url).status_code == 404
    translation_set_status(translation=draft, status=ArticleStatus.PUBLISHED, actor=author)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_files_over_the_upload_limit_are_refused_with_a_message(draft, author_client, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    settings.HELPDESK_MAX_UPLOAD_BYTES = 10
    response = author_client.post(reverse("kb_agent:attachment_upload", args=[draft.article_id]),
                                  {"file": SimpleUploadedFile("shot.png", PNG, content_type="image/png"),
                                   "translation": draft.pk}, follow=True)
    assert "The file is too large" in response.content.decode()
    assert ArticleAttachment.objects.count() == 0


def test_article_from_ticket_needs_a_visible_ticket(author_client, category, support_team, author):
    from tests.factories import make_team, make_ticket
    from tickets.models import Status
    from tickets.services import ticket_reply, ticket_set_status

    visible = make_ticket(team=support_team, subject="Cannot print invoices", body="The PDF is blank.")
    ticket_reply(ticket=visible, actor=author, body_text="Use the Download button instead.")
    ticket_set_status(ticket=visible, status=Status.SOLVED, actor=author)
    hidden = make_ticket(team=make_team("Sales", slug="sales"))

    assert author_client.post(reverse("kb_agent:from_ticket", args=[hidden.number])).status_code == 404
    assert Article.objects.count() == 0

    response = author_client.post(reverse("kb_agent:from_ticket", args=[visible.number]))
    translation = ArticleTranslation.objects.get()
    assert response["Location"] == reverse("kb_agent:translation_edit", args=[translation.pk])
    assert translation.title == "Cannot print invoices"
    assert "Use the Download button instead." in translation.body_markdown


def test_edit_revisions_and_diff_pages_read_a_fixed_number_of_queries(
    make_translation, author_client, author, django_assert_max_num_queries,
):
    from knowledgebase.services import article_set_related

    translation = make_translation(title="Refunds")
    others = [make_translation(title=f"Other {n}").article for n in range(5)]
    article_set_related(article=translation.article, related=others, actor=author)
    for n in range(5):
        translation_save(translation=translation, title="Refunds", body_markdown=f"Text {n}", author=author)

    with django_assert_max_num_queries(7):
        page = author_client.get(reverse("kb_agent:translation_edit", args=[translation.pk])).content.decode()
    assert all(f"Other {n}" in page for n in range(5))
    with django_assert_max_num_queries(3):
        page = author_client.get(reverse("kb_agent:revisions", args=[translation.pk])).content.decode()
    assert all(f">r{n}</a>" in page for n in range(1, 7))
    with django_assert_max_num_queries(6):
        author_client.get(reverse("kb_agent:revision_diff", args=[translation.pk, 3]))
