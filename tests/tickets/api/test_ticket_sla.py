"""Ticket JSON carries `sla` (PRODUCT.md): the current targets with policy, target, due time,
pause, met and breach, as UTC instants; read with the page (no query per ticket)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
import yaml
from django.utils import timezone

from tests.factories import make_ticket
from tickets.models import Priority, SlaPolicy, SlaTimer, Status, Ticket
from tickets.services import ticket_reply, ticket_update

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


@pytest.fixture
def policy():
    return SlaPolicy.objects.create(
        name="Standard", first_response_business_hours=False, next_response_business_hours=False,
        resolution_business_hours=False,
        targets={"urgent": {"first_response": 30, "next_response": 60, "resolution": 480},
                 "normal": {"first_response": 240, "resolution": 2880}},
    )


def utc(value) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_ticket_json_carries_its_sla_targets_in_utc(as_agent, support, policy, settings):
    settings.TIME_ZONE = "Asia/Shanghai"  # the caller's zone never shows: instants are UTC
    ticket = make_ticket(team=support, priority=Priority.URGENT)
    first = SlaTimer.objects.get(ticket=ticket, metric="first_response")
    resolution = SlaTimer.objects.get(ticket=ticket, metric="resolution")

    body = as_agent.get(f"{URL}{ticket.number}/").json()

    assert body["sla"] == [
        {"metric": "first_response", "policy": "Standard", "target_minutes": 30, "due_at": utc(first.due_at),
         "paused": False, "met_at": None, "breached_at": None},
        {"metric": "resolution", "policy": "Standard", "target_minutes": 480, "due_at": utc(resolution.due_at),
         "paused": False, "met_at": None, "breached_at": None},
    ]
    assert body["sla"][0]["due_at"].endswith("Z")


def test_sla_shows_met_breached_paused_and_the_next_response(as_agent, agent, support, alice, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT, requester=alice)
    SlaTimer.objects.filter(ticket=ticket, metric="first_response").update(
        due_at=timezone.now() - timedelta(minutes=5), breached_at=timezone.now() - timedelta(minutes=5),
    )
    ticket_reply(ticket=ticket, actor=agent, body_text="Sorry for the wait")
    ticket_reply(ticket=ticket, actor=alice.user, body_text="Still broken")
    ticket_update(ticket=ticket, actor=agent, status=Status.PENDING)
    first = SlaTimer.objects.get(ticket=ticket, metric="first_response")

    sla = {target["metric"]: target for target in as_agent.get(f"{URL}{ticket.number}/").json()["sla"]}

    assert list(sla) == ["first_response", "next_response", "resolution"]
    assert sla["first_response"]["met_at"] == utc(first.met_at)
    assert sla["first_response"]["breached_at"] == utc(first.breached_at)
    assert sla["first_response"]["paused"] is False
    assert sla["next_response"]["target_minutes"] == 60
    assert sla["next_response"]["paused"] is True and sla["resolution"]["paused"] is True
    assert sla["resolution"]["met_at"] is None


def test_ticket_without_a_policy_has_an_empty_sla(as_agent, support):
    ticket = make_ticket(team=support)

    assert as_agent.get(f"{URL}{ticket.number}/").json()["sla"] == []


def test_customers_do_not_get_the_sla_targets(as_alice, alice, support, policy):
    ticket = make_ticket(team=support, priority=Priority.URGENT, requester=alice)
    assert SlaTimer.objects.filter(ticket=ticket).exists()

    assert as_alice.get(f"{URL}{ticket.number}/").json()["sla"] == []
    assert [row["sla"] for row in as_alice.get(URL).json()["results"]] == [[]]


def test_list_rows_carry_the_same_sla_as_the_detail(as_agent, agent, support, policy):
    tickets = [make_ticket(team=support, priority=priority) for priority in (Priority.URGENT, Priority.NORMAL,
                                                                              Priority.LOW)]
    ticket_update(ticket=tickets[1], actor=agent, status=Status.ON_HOLD)

    rows = {row["number"]: row["sla"] for row in as_agent.get(URL).json()["results"]}

    for ticket in tickets:
        assert rows[ticket.number] == as_agent.get(f"{URL}{ticket.number}/").json()["sla"]
    assert [target["metric"] for target in rows[tickets[0].number]] == ["first_response", "resolution"]
    assert rows[tickets[2].number] == []


@pytest.mark.parametrize("page_size", [5, 50])
def test_list_reads_the_sla_without_a_query_per_ticket(as_agent, support, policy, page_size,
                                                        django_assert_max_num_queries):
    for n in range(page_size):
        make_ticket(team=support, priority=Priority.URGENT if n % 2 else Priority.NORMAL)

    # Token, team memberships, one page of ticket rows with their SLA targets.
    with django_assert_max_num_queries(3):
        body = as_agent.get(URL, {"page_size": page_size}).json()
    assert len(body["results"]) == page_size
    assert all(len(row["sla"]) == 2 for row in body["results"])


def test_list_sorts_by_due_soonest(as_agent, support, policy):
    normal = make_ticket(team=support, priority=Priority.NORMAL)
    low = make_ticket(team=support, priority=Priority.LOW)
    urgent = make_ticket(team=support, priority=Priority.URGENT)

    body = as_agent.get(URL, {"sort": "due"}).json()

    assert [row["number"] for row in body["results"]] == [urgent.number, normal.number, low.number]
    assert Ticket.objects.get(pk=low.pk).sla_due_at is None


def test_schema_documents_the_sla_targets(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)

    ticket = schema["components"]["schemas"]["Ticket"]
    assert ticket["properties"]["sla"]["type"] == "array"
    target = schema["components"]["schemas"]["SlaTarget"]
    assert set(target["properties"]) == {"metric", "policy", "target_minutes", "due_at", "paused", "met_at",
                                         "breached_at"}
    assert target["properties"]["due_at"]["format"] == "date-time"
    assert target["properties"]["breached_at"]["nullable"] is True


def test_breaching_filter_lists_targets_due_within_the_hour_for_staff_only(as_agent, as_alice, alice, support, policy):
    soon = make_ticket(team=support, priority=Priority.URGENT, requester=alice)
    make_ticket(team=support, priority=Priority.NORMAL, requester=alice)

    assert [row["number"] for row in as_agent.get(URL, {"sla": "breaching"}).json()["results"]] == [soon.number]
    assert as_alice.get(URL, {"sla": "breaching"}).status_code == 400
