"""The macros API: listing what the caller may use, applying one to a ticket."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_ticket
from tests.tickets.api.conftest import token_client
from tickets.models import Macro, MacroTranslation

pytestmark = pytest.mark.django_db


def test_list_returns_the_callers_macros_most_used_first(agent, other_agent, support, billing, shared_macro):
    mine = Macro.objects.create(title="Mine", owner=agent, usage_count=5,
                                actions=[{"type": "set_status", "value": "pending"}])
    MacroTranslation.objects.create(macro=mine, language="zh-hans", title="我的", reply_text="你好")
    Macro.objects.create(title="Support", team=support, usage_count=2)
    Macro.objects.create(title="Ben's", owner=other_agent, usage_count=9)
    Macro.objects.create(title="Billing", team=billing, usage_count=9)
    response = token_client(agent).get(reverse("api:macro-list"))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [m["title"] for m in results] == ["Mine", "Support", "Thanks"]
    assert results[0]["sharing"] == "personal" and results[0]["team"] is None
    assert results[0]["actions"] == [{"type": "set_status", "value": "pending"}]
    assert results[0]["translations"] == [{"language": "zh-hans", "title": "我的", "reply_text": "你好"}]
    assert results[1]["sharing"] == "team" and results[1]["team"]["name"] == "Support"


def test_customers_and_anonymous_callers_get_no_macros(requester, shared_macro, ticket):
    from rest_framework.test import APIClient

    customer = token_client(requester.user)
    assert customer.get(reverse("api:macro-list")).status_code == 403
    apply_url = reverse("api:ticket-macro-apply", args=[ticket.number, shared_macro.pk])
    assert customer.post(apply_url).status_code == 403
    assert APIClient().get(reverse("api:macro-list")).status_code in (401, 403)
    assert APIClient().post(apply_url).status_code in (401, 403)
    shared_macro.refresh_from_db()
    assert shared_macro.usage_count == 0


def test_another_agents_macro_is_404(agent, other_agent):
    bens = Macro.objects.create(title="Ben's", owner=other_agent)
    assert token_client(agent).get(reverse("api:macro-detail", args=[bens.pk])).status_code == 404


def test_apply_changes_fields_and_returns_the_rendered_reply(agent, ticket):
    macro = Macro.objects.create(title="Solve", reply_text="Bye {{ requester.first_name }} ({{ ticket.status }})",
                                 actions=[{"type": "set_status", "value": "solved"}])
    response = token_client(agent).post(reverse("api:ticket-macro-apply", args=[ticket.number, macro.pk]))
    assert response.status_code == 200
    data = response.json()
    assert data["body"] == "Bye Alice (Solved)"
    assert data["changes"] == ["Status: New → Solved"]
    assert data["ticket"] == {"number": ticket.number, "status": "solved"}
    ticket.refresh_from_db()
    assert ticket.status == "solved"
    assert ticket.events.filter(kind="status_changed", via="api").exists()
    macro.refresh_from_db()
    assert macro.usage_count == 1


def test_apply_on_a_ticket_of_another_team_or_with_another_teams_macro_is_404(agent, billing, ticket):
    billing_ticket = make_ticket(team=billing)
    everyone = Macro.objects.create(title="All", actions=[{"type": "set_priority", "value": "low"}])
    billing_macro = Macro.objects.create(title="Billing", team=billing,
                                         actions=[{"type": "set_priority", "value": "low"}])
    client = token_client(agent)
    assert client.post(reverse("api:ticket-macro-apply", args=[billing_ticket.number, everyone.pk])).status_code == 404
    assert client.post(reverse("api:ticket-macro-apply", args=[ticket.number, billing_macro.pk])).status_code == 404
    billing_ticket.refresh_from_db()
    ticket.refresh_from_db()
    assert (billing_ticket.priority, ticket.priority) == ("normal", "normal")


def test_a_refused_change_is_a_400_and_changes_nothing(agent, ticket):
    macro = Macro.objects.create(title="Close", actions=[{"type": "set_priority", "value": "high"},
                                                          {"type": "set_status", "value": "closed"},
                                                          {"type": "set_team", "value": "999999"}])
    response = token_client(agent).post(reverse("api:ticket-macro-apply", args=[ticket.number, macro.pk]))
    assert response.status_code == 400
    assert response.json()["error"]["message"]
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


def test_the_schema_documents_the_macro_endpoints(agent):
    schema = token_client(agent).get(reverse("api-schema"), {"format": "json"}).json()
    assert "/api/v1/macros/" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/tickets/{number}/macros/{macro_id}/apply/"]
