"""The public help center: who may read what, redirects, language switching, feedback, view
counting, sitemap and the page's cost in queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from knowledgebase.models import (
    ArticleFeedback,
    ArticleStatus,
    ArticleTranslation,
    ArticleVisibility,
    Category,
    SearchQuery,
    SlugRedirect,
)
from knowledgebase.services import article_set_related, translation_create, translation_save
from tests.factories import make_agent, make_customer, make_team

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
PUBLISHED = ArticleStatus.PUBLISHED


@pytest.fixture
def reader() -> Client:
    """An anonymous visitor with an ordinary browser."""
    return Client(HTTP_USER_AGENT=BROWSER)


@pytest.fixture
def customer_reader(db) -> Client:
    client = Client(HTTP_USER_AGENT=BROWSER)
    client.force_login(make_customer(email="reader@example.com").user)
    return client


@pytest.fixture
def staff_reader(db) -> Client:
    client = Client(HTTP_USER_AGENT=BROWSER)
    client.force_login(make_agent(make_team("Tier 2", slug="tier-2"), username="sam"))
    return client


@pytest.fixture
def refund(make_translation) -> ArticleTranslation:
    return make_translation(title="How to request a refund", status=PUBLISHED, summary="Refunds within 30 days.",
                            body="Open **Billing** and choose *Refund*.", key="refund-policy")


def text_of(response) -> str:
    return unescape(response.content.decode())


# --- who may read what -------------------------------------------------------------------------


def test_anonymous_reader_reads_a_public_article(reader, refund):
    response = reader.get(refund.get_absolute_url())

    assert response.status_code == 200
    page = text_of(response)
    assert "<h1 id=\"help-article-title\">How to request a refund</h1>" in page
    assert "Open <strong>Billing</strong> and choose <em>Refund</em>." in page
    assert '<html lang="en">' in page


@pytest.mark.parametrize("status", [ArticleStatus.DRAFT, ArticleStatus.IN_REVIEW, ArticleStatus.ARCHIVED])
def test_unpublished_articles_are_not_found_for_anyone(reader, customer_reader, staff_reader, make_translation,
                                                       status):
    draft = make_translation(title="Upcoming pricing", status=status)

    for client in (reader, customer_reader, staff_reader):
        assert client.get(draft.get_absolute_url()).status_code == 404


def test_internal_article_is_not_found_for_customers_and_anonymous_readers(reader, customer_reader, staff_reader,
                                                                          make_translation):
    internal = make_translation(title="Refund override playbook", status=PUBLISHED,
                                visibility=ArticleVisibility.INTERNAL)

    # Not even a sign-in prompt: that would tell that an internal article lives at this address.
    assert reader.get(internal.get_absolute_url()).status_code == 404
    assert customer_reader.get(internal.get_absolute_url()).status_code == 404
    response = staff_reader.get(internal.get_absolute_url())
    assert response.status_code == 200
    assert "Refund override playbook" in text_of(response)


def test_article_in_an_internal_category_is_not_found_for_customers(customer_reader, make_translation):
    playbooks = Category.objects.create(slug="playbooks", names={"en": "Playbooks"}, is_internal=True)
    hidden = make_translation(title="Escalation ladder", status=PUBLISHED, category=playbooks)

    assert customer_reader.get(hidden.get_absolute_url()).status_code == 404
    assert customer_reader.get(reverse("help:category", args=["en", "playbooks"])).status_code == 404


def test_customers_only_article_asks_anonymous_readers_to_sign_in(reader, customer_reader, make_translation):
    members = make_translation(title="Download your invoices", status=PUBLISHED,
                               visibility=ArticleVisibility.CUSTOMERS)
    url = members.get_absolute_url()

    response = reader.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=" + url

    response = customer_reader.get(url)
    assert response.status_code == 200
    assert "Download your invoices" in text_of(response)


def test_unknown_slug_and_language_are_not_found(reader, refund):
    assert reader.get(reverse("help:article", args=["en", "no-such-article"])).status_code == 404
    assert reader.get("/help/fr/articles/" + refund.slug + "/").status_code == 404
    assert reader.get("/help/fr/").status_code == 404


def test_listings_show_only_what_the_reader_may_read(reader, customer_reader, staff_reader, refund,
                                                     make_translation):
    make_translation(title="Pricing draft", status=ArticleStatus.DRAFT)
    make_translation(title="Download your invoices", status=PUBLISHED, visibility=ArticleVisibility.CUSTOMERS)
    make_translation(title="Refund override playbook", status=PUBLISHED, visibility=ArticleVisibility.INTERNAL)
    category_url = reverse("help:category", args=["en", "billing"])

    anonymous_page = text_of(reader.get(category_url))
    assert "How to request a refund" in anonymous_page
    assert "Download your invoices" not in anonymous_page
    assert "Refund override playbook" not in anonymous_page
    assert "Pricing draft" not in anonymous_page

    customer_page = text_of(customer_reader.get(category_url))
    assert "Download your invoices" in customer_page
    assert "Refund override playbook" not in customer_page

    staff_page = text_of(staff_reader.get(category_url))
    assert "Refund override playbook" in staff_page
    assert "Pricing draft" not in staff_page

    home = text_of(reader.get(reverse("help:home", args=["en"])))
    assert "Billing" in home
    assert "Refund override playbook" not in home
    assert "Download your invoices" not in home


# --- redirects ---------------------------------------------------------------------------------


def test_help_root_redirects_to_the_language_the_browser_asks_for(db):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-TW,zh;q=0.9,en;q=0.5")
    response = client.get("/help/")
    assert response.status_code == 302
    assert response["Location"] == "/help/zh-hant/"

    response = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get("/help/")
    assert response["Location"] == "/help/zh-hans/"

    response = Client(HTTP_ACCEPT_LANGUAGE="de-DE").get("/help/")
    assert response["Location"] == "/help/en/"


def test_help_root_redirects_a_signed_in_reader_to_their_preferred_language(db):
    user = make_customer(email="lin@example.com").user
    user.language = "zh-hans"
    user.save(update_fields=["language"])
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)

    assert client.get("/help/")["Location"] == "/help/zh-hans/"


def test_old_slug_redirects_permanently_to_the_current_one(reader, refund, author):
    old_url = refund.get_absolute_url()
    renamed = translation_save(translation=refund, title="Getting your money back", body_markdown="Ask us.",
                               author=author)
    assert SlugRedirect.objects.filter(translation=renamed).exists()

    response = reader.get(old_url)

    assert response.status_code == 301
    assert response["Location"] == renamed.get_absolute_url()
    assert renamed.get_absolute_url() != old_url


def test_old_slug_of_an_internal_article_does_not_redirect_customers(customer_reader, make_translation, author):
    internal = make_translation(title="Refund override playbook", status=PUBLISHED,
                                visibility=ArticleVisibility.INTERNAL)
    old_url = internal.get_absolute_url()
    translation_save(translation=internal, title="Override ladder", body_markdown="Steps.", author=author)

    assert customer_reader.get(old_url).status_code == 404



def test_language_spelled_the_bcp47_way_redirects_to_the_lower_case_url(reader, refund):
    response = reader.get("/help/ZH-Hant/search/?q=%E9%80%80")

    assert response.status_code == 301
    assert response["Location"] == "/help/zh-hant/search/?q=%E9%80%80"


def test_head_requests_are_answered_for_crawlers_and_monitors(refund):
    crawler = Client(HTTP_USER_AGENT="Googlebot/2.1")

    assert crawler.head(refund.get_absolute_url()).status_code == 200
    assert crawler.head(reverse("help:home", args=["en"])).status_code == 200

# --- languages ---------------------------------------------------------------------------------


def test_language_switcher_links_to_the_same_article_or_that_languages_home(reader, refund, author):
    simplified = translation_create(article=refund.article, language="zh-hans", title="如何申请退款",
                                    body_markdown="打开**账单**。", author=author, status=PUBLISHED)
    # A zh-Hant draft exists but is not published: the switcher must not lead to it.
    translation_create(article=refund.article, language="zh-hant", title="如何申請退款", body_markdown="打開。",
                       author=author, status=ArticleStatus.DRAFT)

    page = text_of(reader.get(refund.get_absolute_url()))
    switcher = re.search(r'<nav class="help-languages".*?</nav>', page, re.S).group(0)

    assert f'href="{simplified.get_absolute_url()}" hreflang="zh-Hans" lang="zh-Hans"' in switcher
    assert 'href="/help/zh-hant/" hreflang="zh-Hant" lang="zh-Hant"' in switcher
    assert f'<link rel="alternate" hreflang="zh-Hans" href="http://testserver{simplified.get_absolute_url()}">' in page
    assert 'hreflang="zh-Hant" href=' not in page
    assert '<meta property="og:locale:alternate" content="zh_CN">' in page
    assert 'content="zh_TW"' not in page


def test_article_page_renders_interface_in_the_articles_language(reader, refund, author):
    traditional = translation_create(article=refund.article, language="zh-hant", title="如何申請退款",
                                     body_markdown="打開**帳單**，選擇退款。", author=author, status=PUBLISHED)

    # The browser prefers English; the page still speaks the language of its URL.
    response = reader.get(traditional.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")

    page = text_of(response)
    assert '<html lang="zh-Hant">' in page
    assert response["Content-Language"] == "zh-Hant"
    assert "<title>如何申請退款 · 說明中心</title>" in page
    assert "跳至主要內容" in page  # "Skip to content"
    assert "打開<strong>帳單</strong>，選擇退款。" in page


def test_category_names_fall_back_to_english(reader, make_translation):
    shipping = Category.objects.create(slug="shipping", names={"en": "Shipping"}, position=2)
    make_translation(title="配送时间", language="zh-hans", status=PUBLISHED, category=shipping)
    make_translation(title="退款", language="zh-hans", status=PUBLISHED)

    page = text_of(reader.get(reverse("help:home", args=["zh-hans"])))

    assert "账单" in page  # the billing category's own Simplified name
    # No Simplified name: the English one, marked as English for screen readers.
    assert 'href="/help/zh-hans/categories/shipping/" lang="en">Shipping</a>' in page



def test_last_updated_is_shown_in_the_readers_time_zone(db, refund):
    ArticleTranslation.objects.filter(pk=refund.pk).update(updated_at=datetime(2026, 3, 1, 20, 30, tzinfo=UTC))
    user = make_customer(email="lin@example.com").user
    user.timezone = "Asia/Shanghai"
    user.save(update_fields=["timezone"])
    client = Client(HTTP_USER_AGENT=BROWSER)
    client.force_login(user)

    page = text_of(client.get(refund.get_absolute_url()))

    assert '<time datetime="2026-03-02T04:30:00+08:00">' in page

# --- feedback ----------------------------------------------------------------------------------


def test_reader_votes_once_and_may_change_the_vote_with_a_comment(reader, refund):
    url = reverse("help:feedback", args=[refund.id])

    response = reader.post(url, {"helpful": "no", "comment": "  The refund button is missing.  "})
    assert response.status_code == 303
    assert response["Location"] == refund.get_absolute_url() + "#feedback"
    reader.post(url, {"helpful": "yes", "comment": ""})

    refund.refresh_from_db()
    assert (refund.helpful_yes, refund.helpful_no) == (1, 0)
    vote = ArticleFeedback.objects.get(translation=refund)
    assert vote.is_helpful is True
    assert vote.comment == "The refund button is missing."
    assert vote.user is None and vote.session_key
    page = text_of(reader.get(refund.get_absolute_url()))
    assert "Thanks for your feedback" in page
    assert "Was this article helpful?" not in page


def test_signed_in_vote_is_kept_with_the_user(customer_reader, refund):
    customer_reader.post(reverse("help:feedback", args=[refund.id]), {"helpful": "yes"})

    vote = ArticleFeedback.objects.get(translation=refund)
    assert vote.user.email == "reader@example.com"


def test_feedback_on_an_article_the_reader_may_not_read_is_refused(reader, customer_reader, make_translation):
    internal = make_translation(title="Refund override playbook", status=PUBLISHED,
                                visibility=ArticleVisibility.INTERNAL)
    draft = make_translation(title="Pricing draft")

    for client in (reader, customer_reader):
        for translation in (internal, draft):
            assert client.post(reverse("help:feedback", args=[translation.id]), {"helpful": "yes"}).status_code == 404
    assert not ArticleFeedback.objects.exists()
    internal.refresh_from_db()
    assert internal.helpful_yes == 0


def test_feedback_without_an_answer_is_refused(reader, refund):
    assert reader.post(reverse("help:feedback", args=[refund.id]), {"helpful": "maybe"}).status_code == 400
    assert reader.get(reverse("help:feedback", args=[refund.id])).status_code == 405
    assert not ArticleFeedback.objects.exists()


# --- view counting -----------------------------------------------------------------------------


def test_views_are_counted_once_per_session(reader, refund):
    for _ in range(3):
        assert reader.get(refund.get_absolute_url()).status_code == 200
    Client(HTTP_USER_AGENT=BROWSER).get(refund.get_absolute_url())

    refund.refresh_from_db()
    assert refund.view_count == 2


@pytest.mark.parametrize("user_agent", [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.5.0",
    "",
])
def test_crawlers_and_scripts_are_not_counted(refund, user_agent):
    Client(HTTP_USER_AGENT=user_agent).get(refund.get_absolute_url())

    refund.refresh_from_db()
    assert refund.view_count == 0


def test_popular_articles_follow_view_counts(reader, make_translation):
    make_translation(title="Rarely read", status=PUBLISHED)
    favourite = make_translation(title="Most read", status=PUBLISHED)
    ArticleTranslation.objects.filter(pk=favourite.pk).update(view_count=50)

    page = text_of(reader.get(reverse("help:home", args=["en"])))
    popular = page.split('id="help-popular-heading"')[1]

    assert popular.index("Most read") < popular.index("Rarely read")


# --- sitemap and meta --------------------------------------------------------------------------


def test_sitemap_lists_public_published_articles_with_their_alternates(reader, refund, author, make_translation):
    simplified = translation_create(article=refund.article, language="zh-hans", title="如何申请退款",
                                    body_markdown="打开账单。", author=author, status=PUBLISHED)
    make_translation(title="Download your invoices", status=PUBLISHED, visibility=ArticleVisibility.CUSTOMERS)
    make_translation(title="Refund override playbook", status=PUBLISHED, visibility=ArticleVisibility.INTERNAL)
    make_translation(title="Pricing draft")

    response = reader.get(reverse("help:sitemap"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    sitemap = response.content.decode()
    locs = re.findall(r"<loc>(.*?)</loc>", sitemap)
    assert locs == [
        "http://testserver/help/en/", "http://testserver/help/zh-hans/", "http://testserver/help/zh-hant/",
        "http://testserver" + refund.get_absolute_url(), "http://testserver" + simplified.get_absolute_url(),
    ]
    refund_entry = sitemap.split("<url>")[4]
    assert f"<lastmod>{refund.updated_at.isoformat()[:19]}" in refund_entry
    assert f'hreflang="zh-Hans" href="http://testserver{simplified.get_absolute_url()}"' in refund_entry
    assert 'hreflang="x-default"' in refund_entry


def test_article_page_has_search_engine_meta(reader, refund):
    page = text_of(reader.get(refund.get_absolute_url()))

    assert "<title>How to request a refund · Help Center</title>" in page
    assert '<meta name="description" content="Refunds within 30 days.">' in page
    assert f'<link rel="canonical" href="http://testserver{refund.get_absolute_url()}">' in page
    assert '<meta property="og:title" content="How to request a refund">' in page
    assert '<meta property="og:type" content="article">' in page


def test_related_articles_show_only_readable_ones_in_the_same_language(reader, refund, make_translation, author):
    cancel = make_translation(title="Cancel your subscription", status=PUBLISHED)
    secret = make_translation(title="Refund override playbook", status=PUBLISHED,
                              visibility=ArticleVisibility.INTERNAL)
    article_set_related(article=refund.article, related=[cancel.article, secret.article], actor=author)

    page = text_of(reader.get(refund.get_absolute_url()))
    related = page.split('id="help-related-heading"')[1]

    assert "Cancel your subscription" in related
    assert "Refund override playbook" not in page


# --- speed and caching -------------------------------------------------------------------------


def test_article_page_reads_in_a_few_queries_whatever_its_size(reader, refund, make_translation, author,
                                                               django_assert_max_num_queries):
    others = [make_translation(title=f"Related {n}", status=PUBLISHED) for n in range(5)]
    article_set_related(article=refund.article, related=[other.article for other in others], actor=author)
    for language, title in (("zh-hans", "如何申请退款"), ("zh-hant", "如何申請退款")):
        translation_create(article=refund.article, language=language, title=title, body_markdown="…",
                           author=author, status=PUBLISHED)
    reader.get(refund.get_absolute_url())  # the first view also counts it and saves the session

    with django_assert_max_num_queries(4):
        response = reader.get(refund.get_absolute_url())
    assert response.status_code == 200


def test_first_view_adds_only_the_count_and_the_session(reader, refund, django_assert_max_num_queries):
    # 4 reads, the count's UPDATE, and Django creating the session row (exists?, savepoint, insert, release).
    with django_assert_max_num_queries(9):
        assert reader.get(refund.get_absolute_url()).status_code == 200


def test_signed_in_article_page_reads_in_a_few_queries(customer_reader, refund, django_assert_max_num_queries):
    customer_reader.get(refund.get_absolute_url())
    with django_assert_max_num_queries(5):
        assert customer_reader.get(refund.get_absolute_url()).status_code == 200


def test_home_and_category_pages_read_in_a_few_queries(reader, refund, make_translation,
                                                       django_assert_max_num_queries):
    for n in range(10):
        make_translation(title=f"Article {n}", status=PUBLISHED)
    with django_assert_max_num_queries(3):
        assert reader.get(reverse("help:home", args=["en"])).status_code == 200
    with django_assert_max_num_queries(4):
        assert reader.get(reverse("help:category", args=["en", "billing"])).status_code == 200


def test_anonymous_listing_pages_may_be_cached_but_personal_pages_are_private(reader, customer_reader, refund):
    home_url = reverse("help:home", args=["en"])

    home = reader.get(home_url)
    assert home["Cache-Control"] == "public, max-age=300"
    # A shared cache keeps the anonymous copy apart from signed-in readers' pages.
    assert "Cookie" in home["Vary"]
    assert "csrftoken" not in reader.cookies
    # The article page carries a form token and the reader's vote: the browser's only.
    assert reader.get(refund.get_absolute_url())["Cache-Control"] == "private"
    assert customer_reader.get(home_url)["Cache-Control"] == "private"


# --- theming -----------------------------------------------------------------------------------


def test_help_center_name_logo_and_colour_come_from_settings(reader, refund, settings):
    settings.HELPDESK_HELP_CENTER_NAME = "Acme Support"
    settings.HELPDESK_HELP_CENTER_LOGO_URL = "https://cdn.example.com/acme.svg"
    settings.HELPDESK_HELP_CENTER_PRIMARY_COLOR = "#C0FFEE"

    page = text_of(reader.get(reverse("help:home", args=["en"])))

    assert "<title>Acme Support</title>" in page
    assert '<img class="help-brand__logo" src="https://cdn.example.com/acme.svg" alt="">' in page
    assert '<meta property="og:image" content="https://cdn.example.com/acme.svg">' in page
    assert '<link rel="stylesheet" href="/help/theme.css?v=c0ffee">' in page
    assert " style=" not in page  # the CSP-friendly way: no inline styles
    css = reader.get(reverse("help:theme"))
    assert css["Content-Type"] == "text/css; charset=utf-8"
    assert css.content.decode() == ":root { --help-primary: #C0FFEE; }\n"


def test_a_colour_that_is_not_a_hex_colour_is_ignored(db, reader, settings):
    settings.HELPDESK_HELP_CENTER_PRIMARY_COLOR = "red; } body { display: none"

    css = reader.get(reverse("help:theme")).content.decode()

    assert "display" not in css
    assert "theme.css" not in text_of(reader.get(reverse("help:home", args=["en"])))



# --- search ------------------------------------------------------------------------------------


def test_search_shows_highlighted_results_in_the_pages_language(reader, refund, make_translation):
    make_translation(title="如何申请退款", language="zh-hans", status=PUBLISHED, body="在账单页面申请退款。")
    make_translation(title="Refund override playbook", status=PUBLISHED, visibility=ArticleVisibility.INTERNAL)

    response = reader.get(reverse("help:search", args=["en"]), {"q": "refund"})

    assert response.status_code == 200
    page = text_of(response)
    results = page.split('<ol class="help-results"')[1].split("</ol>")[0]
    assert "How to request a refund" in results
    assert "<mark>" in results
    assert "如何申请退款" not in results
    assert "Refund override playbook" not in results
    search = SearchQuery.objects.get()
    assert (search.query, search.source, search.result_count) == ("refund", "help_center", 1)
    assert f'data-query-id="{search.id}"' in page
    assert '<meta name="robots" content="noindex">' in page


def test_search_snippets_cannot_inject_markup(reader, make_translation):
    make_translation(title="Refund <script>alert(1)</script> rules", status=PUBLISHED,
                     summary="Refund <img src=x onerror=alert(1)>", body="Refund <b>now</b>")

    page = reader.get(reverse("help:search", args=["en"]), {"q": "refund"}).content.decode()

    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page


def test_search_without_results_suggests_contacting_support(reader, refund):
    page = text_of(reader.get(reverse("help:search", args=["en"]), {"q": "printer on fire"}))

    assert "No articles match “printer on fire”" in page
    assert f'href="{reverse("portal:new")}"' in page
    assert SearchQuery.objects.get().result_count == 0


def test_empty_search_logs_nothing(reader, refund):
    response = reader.get(reverse("help:search", args=["en"]), {"q": "   "})

    assert response.status_code == 200
    assert "help-results" not in response.content.decode()
    assert not SearchQuery.objects.exists()


def test_search_language_switcher_keeps_the_query(reader, refund):
    page = text_of(reader.get(reverse("help:search", args=["en"]), {"q": "退款 refund"}))

    assert 'href="/help/zh-hant/search/?q=%E9%80%80%E6%AC%BE+refund"' in page


# --- ways in -----------------------------------------------------------------------------------


def test_portal_and_sign_in_page_link_to_the_help_center(customer_reader, reader):
    portal = customer_reader.get(reverse("portal:home")).content.decode()
    sign_in = reader.get(reverse("login")).content.decode()

    assert '<a href="/help/">Help articles</a>' in portal
    assert '<a href="/help/">Browse help articles</a>' in sign_in


def test_category_without_articles_in_this_language_says_so(reader, refund):
    response = reader.get(reverse("help:category", args=["zh-hant", "billing"]))

    assert response.status_code == 200
    page = text_of(response)
    assert "<h1>帳單</h1>" in page
    assert "How to request a refund" not in page
    assert '<meta name="robots" content="noindex">' in page
    assert reader.get(reverse("help:category", args=["en", "no-such-category"])).status_code == 404


def test_staff_get_a_link_to_edit_the_article(staff_reader, reader, refund):
    edit_url = reverse("kb_agent:translation_edit", args=[refund.id])

    assert f'href="{edit_url}"' in text_of(staff_reader.get(refund.get_absolute_url()))
    assert edit_url not in text_of(reader.get(refund.get_absolute_url()))


def test_large_sitemap_is_split_into_pages_under_an_index(reader, make_translation, settings):
    settings.HELPDESK_HELP_CENTER_SITEMAP_PAGE_SIZE = 2
    titles = [f"Article {n}" for n in range(5)]
    translations = [make_translation(title=title, status=PUBLISHED) for title in titles]

    index = reader.get(reverse("help:sitemap")).content.decode()

    assert "<sitemapindex" in index
    assert re.findall(r"<loc>(.*?)</loc>", index) == [
        f"http://testserver/help/sitemap-{page}.xml" for page in (1, 2, 3)
    ]
    pages = [reader.get(f"/help/sitemap-{page}.xml").content.decode() for page in (1, 2, 3)]
    article_locs = [loc for page in pages for loc in re.findall(r"<loc>(.*?)</loc>", page) if "/articles/" in loc]
    assert article_locs == ["http://testserver" + translation.get_absolute_url() for translation in translations]
    assert "/help/en/</loc>" in pages[0] and "/help/en/</loc>" not in pages[1]
    assert reader.get("/help/sitemap-4.xml").status_code == 404
    assert reader.get("/help/sitemap-0.xml").status_code == 404


def test_category_lists_its_articles_page_by_page(reader, make_translation):
    titles = [f"Article {n:02}" for n in range(32)]
    for title in titles:
        make_translation(title=title, status=PUBLISHED)
    url = reverse("help:category", args=["en", "billing"])

    first = text_of(reader.get(url))
    second = text_of(reader.get(url, {"page": 2}))

    assert re.findall(r">(Article \d\d)</a>", first) == titles[:30]
    assert re.findall(r">(Article \d\d)</a>", second) == titles[30:]
    assert f'href="{url}?page=2" rel="next"' in first
    assert f'href="{url}" rel="prev"' in second and 'rel="next"' not in second
    assert f'<link rel="canonical" href="http://testserver{url}?page=2">' in second
    assert reader.get(url, {"page": 3}).status_code == 404
    assert reader.get(url, {"page": "x"}).status_code == 404
