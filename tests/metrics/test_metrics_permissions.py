"""Who may read which figures: each rule of MetricFilters.from_params and metrics_drilldown, tried
by someone it should stop, through the selectors and through the API."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from metrics.selectors import MetricFilters, metrics_drilldown
from tests.factories import make_customer, make_user
from tests.metrics.test_selectors_fixture import CURRENT, world_in_shanghai
from tickets.models import Role

pytestmark = pytest.mark.django_db

PERIOD = "period=custom&start=2026-11-02&end=2026-11-08"


@pytest.fixture
def world(db, settings):
    return world_in_shanghai(settings)


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def summary_volume(user, query: str = "") -> int:
    response = client_of(user).get(f"/api/v1/metrics/summary/?{PERIOD}&{query}")
    assert response.status_code == 200, response.content
    return response.json()["metrics"]["volume"]["value"]


def filters_for(user, query: str = "") -> MetricFilters:
    return MetricFilters.from_params(QueryDict(f"{PERIOD}&{query}"), user=user)


# --- agents ------------------------------------------------------------------------------------
def test_agent_sees_only_their_own_figures(world):
    assert filters_for(world.a1).agent_ids == (world.a1.pk,)
    assert filters_for(world.a1, f"agent={world.a1.pk}").agent_ids == (world.a1.pk,)
    # T1 and T2 are Ann's; the team's other tickets (T3 unassigned) are not counted for her.
    assert summary_volume(world.a1) == 2


def test_agent_cannot_ask_for_a_colleagues_figures(world):
    for query in (f"agent={world.a2.pk}", f"agent={world.a1.pk}&agent={world.a2.pk}"):
        with pytest.raises(PermissionDenied):
            filters_for(world.a1, query)
        response = client_of(world.a1).get(f"/api/v1/metrics/summary/?{PERIOD}&{query}")
        assert response.status_code == 403
        assert response.json() == {"error": {"code": "permission_denied",
                                             "message": "You can only see your own figures."}}
        assert "metrics" not in response.json()


def test_agent_breakdown_by_agent_lists_only_themselves(world):
    response = client_of(world.b1).get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=agent")
    assert response.status_code == 200
    assert [(row["key"], row["volume"]) for row in response.json()["results"]] == [(world.b1.pk, 3)]


# --- team leads --------------------------------------------------------------------------------
def test_team_lead_sees_the_teams_they_lead_by_default(world):
    assert filters_for(world.lead).team_ids == (world.support.pk,)
    assert summary_volume(world.lead) == 3  # T1, T2, T3: Billing's T4, T5, T6 and T9 without a team left out


def test_team_lead_cannot_ask_for_another_team(world):
    for query in (f"team={world.billing.pk}", f"team={world.support.pk}&team={world.billing.pk}"):
        with pytest.raises(PermissionDenied):
            filters_for(world.lead, query)
        response = client_of(world.lead).get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=team&{query}")
        assert response.status_code == 403
        assert response.json()["error"]["message"] == "You can only see the figures of the teams you lead."


def test_team_lead_asking_for_another_teams_agent_gets_nothing_of_that_team(world):
    # The team scope stays: Bea's Billing tickets are not the lead's to count.
    assert filters_for(world.lead, f"agent={world.b1.pk}").team_ids == (world.support.pk,)
    assert summary_volume(world.lead, f"agent={world.b1.pk}") == 0


def test_team_member_with_lead_role_but_no_led_team_sees_their_teams(world):
    lead_without_flag = make_user(role=Role.TEAM_LEAD, teams=[world.billing])
    assert filters_for(lead_without_flag).team_ids == (world.billing.pk,)


def test_team_lead_of_no_team_sees_nothing(world):
    with pytest.raises(PermissionDenied):
        filters_for(make_user(role=Role.TEAM_LEAD))


# --- managers, customers, anonymous ------------------------------------------------------------
def test_manager_and_admin_see_everything(world):
    assert filters_for(world.manager, f"team={world.billing.pk}").team_ids == (world.billing.pk,)
    assert summary_volume(world.manager) == 7
    assert summary_volume(make_user(role=Role.ADMIN)) == 7


def test_customer_gets_no_figures(world):
    customer = make_customer().user
    with pytest.raises(PermissionDenied):
        filters_for(customer)
    for path in ("summary", "timeseries", "breakdown"):
        response = client_of(customer).get(f"/api/v1/metrics/{path}/?{PERIOD}&by=team")
        assert response.status_code == 403
        assert "results" not in response.json() and "metrics" not in response.json()
    with pytest.raises(PermissionDenied):
        filters_for(None)


def test_anonymous_gets_no_figures(world):
    for path in ("summary", "timeseries", "breakdown", "breakdown/?by=team&format=csv"):
        response = APIClient().get(f"/api/v1/metrics/{path}" if "?" in path else f"/api/v1/metrics/{path}/")
        assert response.status_code == 401
        assert response["Content-Type"].startswith("application/json")


def test_inactive_staff_token_is_refused(world):
    client = client_of(world.manager)
    world.manager.is_active = False
    world.manager.save(update_fields=["is_active"])
    assert client.get(f"/api/v1/metrics/summary/?{PERIOD}").status_code == 401


# --- drill-down --------------------------------------------------------------------------------
def test_drilldown_never_shows_tickets_outside_the_callers_teams(world):
    everything = CURRENT  # as if the filters had escaped the role scope
    for metric, visible_to_ann in (("volume", {"T1", "T2", "T3"}), ("solved", {"T1", "T2", "T3"}),
                                   ("frt", {"T1", "T2", "T8"}), ("sla_missed", {"T2"}), ("csat", {"T1", "T2", "T3"}),
                                   ("backlog", {"T8"})):
        numbers = set(metrics_drilldown(filters=everything, user=world.a1, metric=metric).values_list("number",
                                                                                                      flat=True))
        assert numbers == world.numbers(*visible_to_ann), metric
    bea = set(metrics_drilldown(filters=everything, user=world.b1, metric="volume").values_list("number", flat=True))
    assert bea == world.numbers("T4", "T5", "T6")


def test_drilldown_for_a_customer_or_anonymous_is_empty(world):
    customer = world.tickets["T1"].requester.user
    for user in (customer, None):
        assert not metrics_drilldown(filters=CURRENT, user=user, metric="volume").exists()


def test_drilldown_of_a_scoped_agent_is_their_own_tickets(world):
    filters = filters_for(world.a1)
    numbers = set(metrics_drilldown(filters=filters, user=world.a1, metric="volume").values_list("number", flat=True))
    assert numbers == world.numbers("T1", "T2")
