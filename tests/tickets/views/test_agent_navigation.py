"""The workspace navigation: customers, followed tickets and macros for every agent; rules and
webhooks only for managers and admins (the pages refuse everyone else too)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_user
from tickets.models import Role

pytestmark = pytest.mark.django_db


def nav_links(client) -> str:
    return client.get(reverse("agent:queue")).content.decode()


def test_agents_see_customers_following_and_macros_but_not_rules(agent_client):
    html = nav_links(agent_client)

    for url in (reverse("customers:customer_list"), reverse("collaboration:following"), reverse("macros:list")):
        assert f'href="{url}"' in html
    for url in (reverse("rules:triggers"), reverse("rules:webhooks")):
        assert f'href="{url}"' not in html
    assert agent_client.get(reverse("rules:triggers")).status_code in (403, 404)


def test_managers_see_the_rules_pages(client):
    client.force_login(make_user(role=Role.MANAGER))

    html = nav_links(client)

    for url in (reverse("rules:triggers"), reverse("rules:automations"), reverse("rules:log"),
                reverse("rules:webhooks")):
        assert f'href="{url}"' in html
        assert client.get(url).status_code == 200
