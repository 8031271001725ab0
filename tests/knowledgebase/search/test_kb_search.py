from django.contrib.auth.models import AnonymousUser

from knowledgebase.models import ArticleStatus, ArticleVisibility, Category, SearchQuery
from knowledgebase.search import kb_search
from tests.factories import make_agent, make_customer


def _titles(results) -> list[str]:
    return [hit.title for hit in results.hits]


def test_english_query_finds_stemmed_words_and_ranks_title_matches_first(make_article):
    make_article(title="Change your billing address", body="Invoices show the address you reset last.")
    make_article(title="Reset your password", body="Open the sign-in page and choose Forgot password.")
    make_article(title="Export tickets", body="Nothing about it here.")
    results = kb_search(query="resetting passwords", language="en", viewer=None)
    assert _titles(results)[0] == "Reset your password"
    assert "Export tickets" not in _titles(results)


def test_chinese_query_finds_article_sharing_a_segmented_word(make_article):
    make_article(title="如何申请退款", language="zh-hans", body="在订单页面点击申请退款，款项会在三个工作日内退回。")
    make_article(title="修改账单地址", language="zh-hans", body="发票上的地址来自账单设置。")
    results = kb_search(query="退款政策", language="zh-hans", viewer=None)
    assert _titles(results) == ["如何申请退款"]


def test_traditional_query_finds_simplified_article_and_the_reverse(make_article):
    make_article(title="重设密码", language="zh-hans", body="在登录页面点击忘记密码。")
    make_article(title="帳戶設定", language="zh-hant", body="在帳戶頁面修改您的電子郵件地址。")
    assert _titles(kb_search(query="重設密碼", language="zh-hans", viewer=None)) == ["重设密码"]
    assert _titles(kb_search(query="账户设定", language="zh-hant", viewer=None)) == ["帳戶設定"]


def test_typo_falls_back_to_title_similarity(make_article):
    make_article(title="Password reset", body="Use the recovery link we mail you.")
    make_article(title="Billing address", body="Where invoices go.")
    results = kb_search(query="pasword reset", language="en", viewer=None)
    assert _titles(results)[0] == "Password reset"
    assert _titles(kb_search(query="pasword", language="en", viewer=None)) == ["Password reset"]


def test_results_are_limited_to_the_language_asked_for(make_article):
    english = make_article(title="Refunds", body="How refunds work.")
    make_article(title="退款", language="zh-hans", body="退款说明。 refunds", article=english.article)
    assert _titles(kb_search(query="refunds", language="en", viewer=None)) == ["Refunds"]
    assert sorted(_titles(kb_search(query="refunds", language=None, viewer=None))) == ["Refunds", "退款"]


def test_internal_articles_reach_staff_only_and_customer_articles_signed_in_readers(make_article):
    make_article(title="Refund public", body="refund")
    make_article(title="Refund customers", body="refund", visibility=ArticleVisibility.CUSTOMERS)
    make_article(title="Refund internal", body="refund", visibility=ArticleVisibility.INTERNAL)
    internal_category = Category.objects.create(slug="playbooks", names={"en": "Playbooks"}, is_internal=True)
    make_article(title="Refund playbook", body="refund", category=internal_category)
    customer = make_customer().user
    agent = make_agent()
    assert _titles(kb_search(query="refund", language="en", viewer=AnonymousUser())) == ["Refund public"]
    assert _titles(kb_search(query="refund", language="en", viewer=None)) == ["Refund public"]
    assert sorted(_titles(kb_search(query="refund", language="en", viewer=customer))) == [
        "Refund customers", "Refund public",
    ]
    assert sorted(_titles(kb_search(query="refund", language="en", viewer=agent))) == [
        "Refund customers", "Refund internal", "Refund playbook", "Refund public",
    ]


def test_drafts_in_review_and_archived_articles_are_never_found(make_article):
    for status in (ArticleStatus.DRAFT, ArticleStatus.IN_REVIEW, ArticleStatus.ARCHIVED):
        make_article(title=f"Refund {status}", body="refund", status=status)
    agent = make_agent()
    assert kb_search(query="refund", language="en", viewer=agent).hits == []
    assert kb_search(query="refund", language="en", viewer=None).hits == []


def test_snippets_escape_text_and_mark_matches(make_article):
    make_article(title="Scripts", body="<p>Never paste &lt;script&gt; tags; a password manager fills the password.</p>")
    make_article(title="退款说明", language="zh-hans",
                 body="<p>&lt;b&gt;注意&lt;/b&gt;：退款会在三个工作日内到账。</p>")
    [english] = kb_search(query="password", language="en", viewer=None).hits
    assert "<mark>password</mark>" in english.snippet_html
    assert "&lt;script&gt;" in english.snippet_html
    assert "<script>" not in english.snippet_html and "<p>" not in english.snippet_html
    [chinese] = kb_search(query="退款", language="zh-hans", viewer=None).hits
    assert "<mark>退款</mark>会在三个工作日内到账" in chinese.snippet_html
    assert "&lt;b&gt;注意&lt;/b&gt;" in chinese.snippet_html


def test_traditional_article_snippet_highlights_words_of_a_simplified_query(make_article):
    make_article(title="退款說明", language="zh-hant", body="<p>退款會在三個工作日內到帳。</p>")
    [hit] = kb_search(query="工作日", language="zh-hant", viewer=None).hits
    assert "<mark>工作日</mark>內到帳" in hit.snippet_html


def test_hit_carries_url_category_and_language(make_article):
    translation = make_article(title="Reset your password", body="Forgot password link.")
    [hit] = kb_search(query="password", language="en", viewer=None).hits
    assert hit.translation_id == translation.pk
    assert hit.article_id == translation.article_id
    assert hit.url == f"/help/en/articles/{translation.slug}/"
    assert hit.category_name == "General"
    assert hit.language == "en"


def test_each_search_is_logged_with_its_normalized_query_but_not_an_empty_one(make_article):
    make_article(title="Reset your password", body="Forgot password link.")
    results = kb_search(query="  Reset   PASSWORD ", language="en", viewer=None, source="portal_form",
                        session_key="abc")
    logged = SearchQuery.objects.get(pk=results.query_id)
    assert (logged.query, logged.normalized_query, logged.language, logged.source, logged.result_count,
            logged.session_key) == ("Reset   PASSWORD", "reset password", "en", "portal_form", 1, "abc")
    assert kb_search(query="   ", language="en", viewer=None).query_id is None
    assert SearchQuery.objects.count() == 1


def test_a_query_with_no_matches_is_logged_with_zero_results(make_article):
    make_article(title="Reset your password")
    results = kb_search(query="quantum entanglement", language="en", viewer=None)
    assert results.hits == []
    assert SearchQuery.objects.get(pk=results.query_id).result_count == 0


def test_helpful_article_wins_a_tie(make_article):
    unrated = make_article(title="Printer setup", body="Connect the printer.")
    helpful = make_article(title="Printer setup", body="Connect the printer.", helpful_yes=40, helpful_no=1)
    unhelpful = make_article(title="Printer setup", body="Connect the printer.", helpful_yes=1, helpful_no=40)
    hits = kb_search(query="printer setup", language="en", viewer=None).hits
    assert [hit.translation_id for hit in hits] == [helpful.pk, unrated.pk, unhelpful.pk]
