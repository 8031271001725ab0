from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from knowledgebase.models import SearchQuery
from knowledgebase.search.analytics import search_analytics
from tests.factories import make_agent, make_customer

URL = "/agent/kb/analytics/"


def _search(query: str, *, results: int = 3, clicked=None, days_ago: int = 0, language: str = "en",
            source: str = SearchQuery.Source.HELP_CENTER) -> SearchQuery:
    search = SearchQuery.objects.create(query=query, normalized_query=query, language=language, source=source,
                                        result_count=results, clicked_translation=clicked)
    if days_ago:
        SearchQuery.objects.filter(pk=search.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return search


@pytest.fixture
def searches(make_article):
    article = make_article(title="Reset your password")
    for _ in range(3):
        _search("reset password", clicked=article)
    _search("reset password")
    _search("refund")
    _search("refund", results=0)
    _search("bitcoin", results=0)
    _search("bitcoin", results=0)
    _search("old question", results=0, days_ago=20)
    _search("退款", language="zh-hans", source=SearchQuery.Source.PORTAL_FORM, clicked=article)
    return article


def test_totals_click_through_and_no_result_queries_over_the_period(searches, django_assert_num_queries):
    with django_assert_num_queries(3):
        analytics = search_analytics(days=7)
    assert (analytics.searches, analytics.clicked, analytics.without_results) == (9, 4, 3)
    assert analytics.click_through_rate == pytest.approx(4 / 9)
    assert [(row.query, row.searches, row.clicks) for row in analytics.top_queries] == [
        ("reset password", 4, 3), ("bitcoin", 2, 0), ("refund", 2, 0), ("退款", 1, 1),
    ]
    assert [(row.query, row.searches) for row in analytics.no_result_queries] == [("bitcoin", 2), ("refund", 1)]


def test_a_longer_period_includes_older_searches(searches):
    analytics = search_analytics(days=30)
    assert analytics.searches == 10
    assert ("old question", 1) in [(row.query, row.searches) for row in analytics.no_result_queries]


def test_filters_by_language_and_source(searches):
    assert search_analytics(days=7, language="zh-hans").searches == 1
    assert search_analytics(days=7, source=SearchQuery.Source.PORTAL_FORM).searches == 1


def test_agent_sees_the_analytics_page(searches, django_assert_max_num_queries):
    client = Client()
    client.force_login(make_agent())
    with django_assert_max_num_queries(10):
        response = client.get(URL, {"days": "7"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "reset password" in page
    assert 'data-total="searches">9<' in page
    assert 'data-total="click-through">44%<' in page
    assert 'data-total="no-results">33%<' in page
    assert "old question" not in page
    assert "old question" in client.get(URL, {"days": "90"}).content.decode()


def test_query_text_is_escaped_on_the_page(make_article):
    _search("<script>alert(1)</script>", results=0)
    client = Client()
    client.force_login(make_agent())
    page = client.get(URL).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_customers_get_not_found_and_anonymous_visitors_sign_in(searches):
    customer_client = Client()
    customer_client.force_login(make_customer().user)
    assert customer_client.get(URL).status_code == 404
    response = Client().get(URL)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_unknown_period_falls_back_to_30_days(searches):
    client = Client()
    client.force_login(make_agent())
    response = client.get(URL, {"days": "365"})
    assert response.status_code == 200
    assert response.context["analytics"].days == 30
