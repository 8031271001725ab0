"""The knowledge base in the Django admin: categories are edited there, articles only read."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_user
from tickets.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True))
    return client


def test_admin_lists_every_knowledge_base_model(admin_client, make_translation):
    translation = make_translation()
    for model in ("category", "article", "articletranslation", "articlerevision", "slugredirect",
                  "articleattachment", "articlefeedback", "searchquery", "deflection"):
        response = admin_client.get(reverse(f"admin:knowledgebase_{model}_changelist"))
        assert response.status_code == 200, model
    page = admin_client.get(reverse("admin:knowledgebase_article_change", args=[translation.article_id]))
    assert page.status_code == 200 and "How to request a refund" in page.content.decode()


def test_categories_are_editable_and_articles_are_not(admin_client, category, make_translation):
    translation = make_translation()
    assert admin_client.get(reverse("admin:knowledgebase_category_add")).status_code == 200
    assert admin_client.get(reverse("admin:knowledgebase_article_add")).status_code == 403
    response = admin_client.post(reverse("admin:knowledgebase_articletranslation_change", args=[translation.pk]),
                                 {"title": "Changed behind the services' back"})
    assert response.status_code == 403
    translation.refresh_from_db()
    assert translation.title == "How to request a refund"
