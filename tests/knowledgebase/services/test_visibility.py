"""Who may read what: readable_translations decides for the help center, search and suggestions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from knowledgebase.models import ArticleStatus, ArticleVisibility
from knowledgebase.selectors import authorable_translations, readable_translations

pytestmark = pytest.mark.django_db


@pytest.fixture
def articles(make_translation, internal_category):
    published = ArticleStatus.PUBLISHED
    return {
        "public": make_translation(title="Public", status=published),
        "customers": make_translation(title="Customers", status=published, visibility=ArticleVisibility.CUSTOMERS),
        "internal": make_translation(title="Internal", status=published, visibility=ArticleVisibility.INTERNAL),
        "internal category": make_translation(title="Playbook", status=published, category=internal_category),
        "draft": make_translation(title="Draft"),
        "in review": make_translation(title="Review", status=ArticleStatus.IN_REVIEW),
        "archived": make_translation(title="Archived", status=ArticleStatus.ARCHIVED),
    }


def _titles(queryset):
    return sorted(queryset.values_list("title", flat=True))


def test_anonymous_readers_see_only_published_public_articles(articles):
    assert _titles(readable_translations(AnonymousUser())) == ["Public"]
    assert _titles(readable_translations(None)) == ["Public"]


def test_customers_also_see_customers_only_articles_but_never_internal_ones(articles, customer_user):
    assert _titles(readable_translations(customer_user)) == ["Customers", "Public"]


def test_staff_read_internal_articles_but_no_drafts(articles, author):
    assert _titles(readable_translations(author)) == ["Customers", "Internal", "Playbook", "Public"]


def test_authors_reach_every_status_and_customers_none(articles, author, customer_user):
    assert len(authorable_translations(author)) == 7
    assert list(authorable_translations(customer_user)) == []
    assert list(authorable_translations(AnonymousUser())) == []
