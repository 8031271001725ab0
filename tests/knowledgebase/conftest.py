"""Fixtures of the knowledge-base tests: categories, an author (agent of Support), a signed-in
customer, and articles made through the authoring services. Folders with other needs (search)
override these in their own conftest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from knowledgebase.models import ArticleStatus, ArticleTranslation, ArticleVisibility, Category
from knowledgebase.services import article_create
from tests.factories import make_agent, make_customer, make_team
from tickets.models import User


@pytest.fixture
def category(db) -> Category:
    return Category.objects.create(
        slug="billing", position=1, names={"en": "Billing", "zh-hans": "账单", "zh-hant": "帳單"},
    )


@pytest.fixture
def internal_category(db) -> Category:
    return Category.objects.create(slug="playbooks", position=9, names={"en": "Playbooks"}, is_internal=True)


@pytest.fixture
def support_team(db):
    return make_team("Support", slug="support")


@pytest.fixture
def author(support_team) -> User:
    return make_agent(support_team, username="writer", display_name="Wen Writer")


@pytest.fixture
def customer_user(db) -> User:
    return make_customer(email="reader@example.com").user


@pytest.fixture
def author_client(author) -> Client:
    client = Client()
    client.force_login(author)
    return client


@pytest.fixture
def customer_client(customer_user) -> Client:
    client = Client()
    client.force_login(customer_user)
    return client


@pytest.fixture
def make_translation(category, author) -> Callable[..., ArticleTranslation]:
    """make_translation(title=..., body=..., language="en", status="draft", visibility="public", ...)
    → a translation created through article_create (rendered, revision 1, indexed)."""

    def make(*, title: str = "How to request a refund", body: str = "Open **Billing** and choose *Refund*.",
             language: str = "en", status: str = ArticleStatus.DRAFT, visibility: str = ArticleVisibility.PUBLIC,
             **fields: Any) -> ArticleTranslation:
        return article_create(
            category=fields.pop("category", category), visibility=visibility, tags=fields.pop("tags", ["refund"]),
            language=language, title=title, body_markdown=body, author=fields.pop("author", author),
            status=status, **fields,
        )

    return make
