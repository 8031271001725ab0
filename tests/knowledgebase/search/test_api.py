import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from knowledgebase.models import ArticleVisibility, SearchQuery
from tests.factories import make_agent, make_customer

SEARCH_URL = "/api/v1/kb/search"
CLICK_URL = "/api/v1/kb/search/click"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def articles(make_article):
    return {
        "public": make_article(title="Reset your password", body="<p>Use the forgot password link.</p>"),
        "customers": make_article(title="Password rules for customers", body="<p>password</p>",
                                  visibility=ArticleVisibility.CUSTOMERS),
        "internal": make_article(title="Password override playbook", body="<p>password</p>",
                                 visibility=ArticleVisibility.INTERNAL),
    }


def test_anonymous_search_returns_public_articles_in_the_documented_shape(articles, django_assert_max_num_queries):
    client = APIClient()
    with django_assert_max_num_queries(3):  # threshold, search, log
        response = client.get(SEARCH_URL, {"q": "password", "lang": "en"})
    assert response.status_code == 200
    body = response.json()
    public = articles["public"]
    assert body == {
        "query_id": SearchQuery.objects.get().pk,
        "results": [{
            "id": public.pk, "article_id": public.article_id, "title": "Reset your password",
            "url": f"/help/en/articles/{public.slug}/",
            "snippet": "Use the forgot <mark>password</mark> link.", "category": "General", "language": "en",
        }],
    }


def test_signed_in_customer_also_gets_customer_articles_but_never_internal_ones(articles):
    customer = make_customer()
    titles = [hit["title"] for hit in token_client(customer.user).get(SEARCH_URL, {"q": "password"}).json()["results"]]
    assert sorted(titles) == ["Password rules for customers", "Reset your password"]


def test_agent_search_includes_internal_articles(articles, django_assert_max_num_queries):
    client = token_client(make_agent())
    with django_assert_max_num_queries(5):  # token, user, threshold, search, log
        response = client.get(SEARCH_URL + "/", {"q": "password", "source": "agent", "limit": 5})
    assert sorted(hit["title"] for hit in response.json()["results"]) == [
        "Password override playbook", "Password rules for customers", "Reset your password",
    ]
    assert SearchQuery.objects.get().source == "agent"


def test_empty_query_answers_no_results_and_logs_nothing(articles):
    response = APIClient().get(SEARCH_URL, {"q": "  "})
    assert response.json() == {"query_id": None, "results": []}
    assert not SearchQuery.objects.exists()


@pytest.mark.parametrize("params, field", [
    ({"q": "x", "lang": "fr"}, "lang"),
    ({"q": "x", "limit": "0"}, "limit"),
    ({"q": "x", "limit": "500"}, "limit"),
    ({"q": "x", "source": "mail"}, "source"),
    ({"q": "x" * 201}, "q"),
])
def test_invalid_parameters_are_refused_with_the_field_named(db, params, field):
    response = APIClient().get(SEARCH_URL, params)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not SearchQuery.objects.exists()


def test_click_is_recorded_once(articles):
    client = APIClient()
    query_id = client.get(SEARCH_URL, {"q": "password"}).json()["query_id"]
    public = articles["public"]
    response = client.post(CLICK_URL, {"query_id": query_id, "translation_id": public.pk, "rank": 1}, format="json")
    assert response.status_code == 204
    again = client.post(CLICK_URL, {"query_id": query_id, "translation_id": public.pk, "rank": 3}, format="json")
    assert again.status_code == 204
    search = SearchQuery.objects.get(pk=query_id)
    assert (search.clicked_translation_id, search.clicked_rank) == (public.pk, 1)


def test_click_on_an_article_the_reader_may_not_read_is_refused_and_changes_nothing(articles):
    client = APIClient()
    query_id = client.get(SEARCH_URL, {"q": "password"}).json()["query_id"]
    response = client.post(CLICK_URL, {"query_id": query_id, "translation_id": articles["internal"].pk, "rank": 1},
                           format="json")
    assert response.status_code == 404
    assert SearchQuery.objects.get(pk=query_id).clicked_translation_id is None


def test_click_from_another_session_is_refused(articles):
    owner = APIClient()
    owner.get("/help/")  # any page; gives the client a session only if one is created
    session = owner.session
    session["seen"] = True
    session.save()
    owner.cookies["sessionid"] = session.session_key
    query_id = owner.get(SEARCH_URL, {"q": "password"}).json()["query_id"]
    assert SearchQuery.objects.get(pk=query_id).session_key == session.session_key
    stranger = APIClient()
    response = stranger.post(CLICK_URL, {"query_id": query_id, "translation_id": articles["public"].pk, "rank": 1},
                             format="json")
    assert response.status_code == 404
    assert SearchQuery.objects.get(pk=query_id).clicked_translation_id is None


def test_click_on_unknown_search_is_not_found(articles):
    response = APIClient().post(CLICK_URL, {"query_id": 999999, "translation_id": articles["public"].pk, "rank": 1},
                                format="json")
    assert response.status_code == 404


def test_search_is_in_the_api_schema(db):
    schema = APIClient().get("/api/schema/").content.decode()
    assert "/api/v1/kb/search" in schema
    assert "kb_search_click" in schema
