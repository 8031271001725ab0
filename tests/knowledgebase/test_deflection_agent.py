"""The knowledge base in the agent's reply box (what gets inserted) and "Create article from this ticket"."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from knowledgebase.models import Article, ArticleStatus, ArticleVisibility, Category
from knowledgebase.services import article_create, translation_create
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import Status
from tickets.services import ticket_reply, ticket_update

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.HELPDESK_SITE_URL = "https://help.example.com/"


@pytest.fixture
def support():
    return make_team("Support", slug="support")


@pytest.fixture
def agent(support):
    return make_agent(support, username="ada")


@pytest.fixture
def agent_client(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client


@pytest.fixture
def category():
    return Category.objects.create(slug="billing", position=1, names={"en": "Billing"})


@pytest.fixture
def refund(category, agent):
    """Published in English and Traditional Chinese; the Chinese one has no summary."""
    english = article_create(
        category=category, visibility=ArticleVisibility.PUBLIC, tags=[], language="en",
        title="How to request a refund", summary="Refunds take five working days.",
        body_markdown="Open **Billing**.\n\nThen choose *Refund*.", author=agent, status=ArticleStatus.PUBLISHED,
    )
    translation_create(
        article=english.article, language="zh-hant", title="如何申請退款",
        body_markdown="打開**帳單**頁面，選擇退款。\n\n第二段。", author=agent, status=ArticleStatus.PUBLISHED,
    )
    return english.article


@pytest.fixture
def playbook(category, agent):
    return article_create(
        category=category, visibility=ArticleVisibility.INTERNAL, tags=[], language="en",
        title="Refund abuse playbook", body_markdown="Check the order history first.", author=agent,
        status=ArticleStatus.PUBLISHED,
    ).article


def articles_url(number: int, *articles: Article) -> str:
    return f"/kb/deflection/agent/tickets/{number}/articles/?ids=" + ",".join(str(a.pk) for a in articles)


def test_insertable_article_is_in_the_customers_language_with_an_absolute_link(agent_client, support, refund):
    customer = make_customer(email="mei@example.com")
    customer.language = "zh-hant"
    customer.save(update_fields=["language"])
    ticket = make_ticket(requester=customer, team=support)

    response = agent_client.get(articles_url(ticket.number, refund))

    assert response.status_code == 200
    chinese = refund.translations.get(language="zh-hant")
    assert response.json() == {
        "customer_language": "zh-hant",
        "articles": [{
            "article_id": refund.pk,
            "translation_id": chinese.pk,
            "title": "如何申請退款",
            "language": "zh-hant",
            # Percent-encoded: a Chinese slug stays one clickable link in any mail client.
            "url": "https://help.example.com/help/zh-hant/articles/%E5%A6%82%E4%BD%95%E7%94%B3%E8%AB%8B%E9%80%80%E6%AC%BE/",
            "snippet": "打開帳單頁面，選擇退款。",  # no summary: the first paragraph, as text
            "is_internal": False,
        }],
    }


def test_without_the_customers_language_the_site_language_is_inserted(agent_client, support, refund):
    customer = make_customer(email="jp@example.com")
    customer.language = "zh-hans"
    customer.save(update_fields=["language"])
    ticket = make_ticket(requester=customer, team=support)

    article = agent_client.get(articles_url(ticket.number, refund)).json()["articles"][0]

    assert article["language"] == "en"
    assert article["title"] == "How to request a refund"
    assert article["snippet"] == "Refunds take five working days."
    assert article["url"].startswith("https://help.example.com/help/en/articles/")


def test_internal_articles_are_marked_and_drafts_left_out(agent_client, support, refund, playbook, category, agent):
    draft = article_create(category=category, visibility=ArticleVisibility.PUBLIC, tags=[], language="en",
                           title="Unfinished", body_markdown="Soon.", author=agent).article
    ticket = make_ticket(team=support)

    articles = agent_client.get(articles_url(ticket.number, playbook, draft, refund)).json()["articles"]

    assert [(a["article_id"], a["is_internal"]) for a in articles] == [(playbook.pk, True), (refund.pk, False)]


def test_customers_and_outsiders_get_nothing(support, refund):
    customer = make_customer(email="c@example.com")
    ticket = make_ticket(requester=customer, team=support)
    customer_client = Client()
    customer_client.force_login(customer.user)
    outsider = Client()
    outsider.force_login(make_agent(make_team("Sales", slug="sales"), username="sam"))

    assert customer_client.get(articles_url(ticket.number, refund)).status_code == 403
    assert outsider.get(articles_url(ticket.number, refund)).status_code == 404
    assert Client().get(articles_url(ticket.number, refund)).status_code == 302


# --- the ticket page ------------------------------------------------------------------------------


def test_ticket_page_offers_the_knowledge_base_and_article_creation_once_solved(agent_client, agent, support):
    ticket = make_ticket(team=support, subject="Refund for a duplicate charge")
    page = agent_client.get(f"/agent/tickets/{ticket.number}/").content.decode()
    assert 'id="kb-panel"' in page and "js/agent/kb-panel.js" in page
    assert "Create article from this ticket" not in page

    ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    page = agent_client.get(f"/agent/tickets/{ticket.number}/").content.decode()

    assert "Create article from this ticket" in page
    assert f'action="/agent/kb/from-ticket/{ticket.number}/"' in page


def test_the_create_article_button_opens_a_draft_from_the_thread(agent_client, agent, support, category):
    ticket = make_ticket(team=support, subject="Refund for a duplicate charge", body="I was charged twice.")
    ticket_reply(ticket=ticket, actor=agent, body_text="Refunded the second charge; it takes five days.")
    ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    page = agent_client.get(f"/agent/tickets/{ticket.number}/").content.decode()
    action = re.search(r'<form[^>]*action="([^"]+)"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"[^>]*>'
                       r'\s*<p[^>]*>[^<]*</p>\s*<div class="form-actions"><button[^>]*>Create article', page)
    assert action is not None

    response = agent_client.post(action.group(1))

    translation = Article.objects.get(source_ticket=ticket).translations.get()
    assert translation.status == ArticleStatus.DRAFT
    assert translation.title == "Refund for a duplicate charge"
    assert "Refunded the second charge" in translation.body_markdown
    assert response.status_code == 302
    assert response.url == f"/agent/kb/translations/{translation.pk}/"


def test_insertable_articles_take_a_fixed_number_of_queries(agent_client, support, refund, playbook,
                                                           django_assert_max_num_queries):
    ticket = make_ticket(team=support)
    agent_client.get(articles_url(ticket.number, refund))  # the session and user are warm

    with django_assert_max_num_queries(5):
        response = agent_client.get(articles_url(ticket.number, refund, playbook))

    assert len(response.json()["articles"]) == 2
