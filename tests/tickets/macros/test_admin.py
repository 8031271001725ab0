"""Macros in the Django admin: listed with their use, validated like the agent pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_user
from tickets.models import Macro, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True))
    return client


def _add_data(**overrides):
    data = {"title": "Admin macro", "reply_text": "Hi {{ requester.first_name }}", "actions": "[]",
            "is_active": "on", "translations-TOTAL_FORMS": "0", "translations-INITIAL_FORMS": "0"}
    data.update(overrides)
    return data


def test_admin_lists_macros_with_usage(admin_client, shared_macro):
    page = admin_client.get(reverse("admin:tickets_macro_changelist")).content.decode()
    assert "Thanks" in page


def test_admin_adds_a_valid_macro(admin_client):
    response = admin_client.post(reverse("admin:tickets_macro_add"), _add_data())
    assert response.status_code == 302
    assert Macro.objects.get().title == "Admin macro"


@pytest.mark.parametrize("overrides", [
    {"reply_text": "Hi {{ settings.secret_key }}"},
    {"actions": '[{"type": "email_requester", "subject": "s", "body": "b"}]'},
])
def test_admin_refuses_what_the_agent_pages_refuse(admin_client, overrides):
    response = admin_client.post(reverse("admin:tickets_macro_add"), _add_data(**overrides))
    assert response.status_code == 200
    assert not Macro.objects.exists()
