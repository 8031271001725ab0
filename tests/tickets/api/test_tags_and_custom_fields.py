"""GET /api/v1/tags/ and /api/v1/custom-fields/: only what the caller may see."""

import pytest

from tests.factories import make_ticket
from tickets.models import CustomFieldDefinition

pytestmark = pytest.mark.django_db


def test_tags_count_visible_tickets_only(as_agent, as_alice, alice, support, billing):
    make_ticket(team=support, tags=["billing", "vip"])
    make_ticket(team=support, tags=["vip"], requester=alice)
    make_ticket(team=billing, tags=["secret-project"])

    assert as_agent.get("/api/v1/tags/").json() == {"results": [{"name": "vip", "count": 2},
                                                                {"name": "billing", "count": 1}]}
    assert as_alice.get("/api/v1/tags/").json() == {"results": [{"name": "vip", "count": 1}]}


def test_tags_by_prefix_treat_wildcards_literally(as_manager, support):
    make_ticket(team=support, tags=["vpn", "vip", "v_x", "other"])

    assert [t["name"] for t in as_manager.get("/api/v1/tags/", {"q": "V"}).json()["results"]] == ["v_x", "vip", "vpn"]
    assert [t["name"] for t in as_manager.get("/api/v1/tags/", {"q": "v_"}).json()["results"]] == ["v_x"]
    assert as_manager.get("/api/v1/tags/", {"q": "%"}).json()["results"] == []


def test_tags_limit_is_validated(as_manager):
    response = as_manager.get("/api/v1/tags/", {"limit": "-1"})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["limit"]


def test_user_without_visible_tickets_gets_no_tags(as_alice, support):
    make_ticket(team=support, tags=["vip"])

    assert as_alice.get("/api/v1/tags/").json() == {"results": []}


def test_custom_field_definitions_by_role(as_agent, as_alice):
    CustomFieldDefinition.objects.create(key="order", label="Order number", field_type="text",
                                         is_customer_visible=True, position=1)
    CustomFieldDefinition.objects.create(key="plan", label="Plan", field_type="select", choices=["free", "pro"],
                                         position=0)

    staff = as_agent.get("/api/v1/custom-fields/").json()["results"]
    customer = as_alice.get("/api/v1/custom-fields/").json()["results"]

    assert [f["key"] for f in staff] == ["plan", "order"]
    assert staff[0] == {"key": "plan", "label": "Plan", "field_type": "select", "choices": ["free", "pro"],
                        "is_required": False, "is_customer_visible": False, "position": 0}
    assert [f["key"] for f in customer] == ["order"]
