"""The figures of metrics.selectors against expectations computed by hand on the small world of
test_selectors_fixture.py (read its table first: every number here comes from it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from metrics.models import DailyRollup, SurveyResponse, TicketFact
from metrics.rollups import rollups_rebuild
from metrics.selectors import InvalidMetricFilters, metrics_breakdown, metrics_summary, metrics_timeseries
from metrics.services import ticket_facts_refresh
from tests.metrics.test_selectors_fixture import CURRENT, world_in_shanghai
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db, settings):
    return world_in_shanghai(settings)


def values(summary: dict) -> dict:
    return {name: figure["value"] for name, figure in summary["metrics"].items()}


def test_summary_in_business_hours(world):
    summary = metrics_summary(filters=CURRENT)

    assert summary["period"] == {
        "start": "2026-11-02", "end": "2026-11-08", "previous_start": "2026-10-26", "previous_end": "2026-11-01",
        "time_zone": "Asia/Shanghai", "hours": "business",
    }
    metrics = summary["metrics"]
    # Seven created in the period, the merged duplicate T5 included; T7 and T8 before it.
    assert (metrics["volume"]["value"], metrics["volume"]["previous"]) == (7, 2)
    assert metrics["volume"]["change"] == pytest.approx(2.5)
    # First solves: T1, T2 (its first solve, not the two after reopening), T3 (by the customer), T6.
    assert (metrics["solved"]["value"], metrics["solved"]["previous"], metrics["solved"]["change"]) == (4, 1, 3.0)
    # First replies in the period: T1 1800, T2 3600, T6 7200, T8 30600 (created in the previous
    # period, answered in this one); T5's reply is left out (merged), T3, T4 and T9 never answered.
    assert metrics["frt_median"] == {"value": 5400.0, "previous": 3600.0, "change": pytest.approx(0.5),
                                     "change_kind": "relative", "unit": "seconds", "sample": 4}
    assert metrics["frt_mean"]["value"] == 10800.0
    assert metrics["frt_mean"]["sample"] == 4
    assert metrics["frt_p90"]["value"] == pytest.approx(7200 + 0.7 * (30600 - 7200))
    # Resolution: T3 1200, T2 3600, T1 7200, T6 32400.
    assert metrics["resolution_median"]["value"] == 5400.0
    assert metrics["resolution_mean"]["value"] == 11100.0
    assert metrics["resolution_p90"]["value"] == pytest.approx(7200 + 0.7 * (32400 - 7200))
    assert metrics["resolution_median"]["previous"] == 32400.0
    # FCR: T1 and T6 of the four solved (T2 reopened, T3 solved without an agent's answer).
    assert metrics["fcr_rate"] == {"value": 0.5, "previous": 1.0, "change": -0.5, "change_kind": "difference",
                                   "unit": "ratio", "sample": 4}
    assert (metrics["reopen_rate"]["value"], metrics["reopen_rate"]["previous"]) == (0.25, 0.0)
    assert metrics["reopen_rate"]["change"] == 0.25
    # CSAT 5, 2, 3, 4: two of four satisfied; the answer of 00:30 Monday (Shanghai) is outside.
    assert metrics["csat"] == {"value": 0.5, "previous": 1.0, "change": -0.5, "change_kind": "difference",
                               "unit": "ratio", "sample": 4}
    # NPS 10, 9, 7, 3 (two without a ticket): (2 − 1) / 4.
    assert metrics["nps"] == {"value": 25.0, "previous": -100.0, "change": 125.0, "change_kind": "difference",
                              "unit": "score", "sample": 4}
    assert metrics["ces"]["value"] == pytest.approx(13 / 3)
    assert (metrics["ces"]["previous"], metrics["ces"]["change"], metrics["ces"]["sample"]) == (None, None, 3)
    # SLA targets due in the period: T1's two (met), T2's resolution and T6's first response (missed).
    assert metrics["sla_compliance"] == {"value": 0.5, "previous": 1.0, "change": -0.5,
                                         "change_kind": "difference", "unit": "ratio", "sample": 4}
    # Backlog at the end of Sunday: T4, T8, T9 (T5 merged, T2 solved); at the end of the
    # previous period only T8.
    backlog = metrics["backlog"]
    assert (backlog["value"], backlog["previous"], backlog["change"], backlog["unit"]) == (3, 1, 2.0, "count")
    assert backlog["by_age"] == [
        {"bucket": "lt_1d", "count": 0}, {"bucket": "1_3d", "count": 1}, {"bucket": "3_7d", "count": 1},
        {"bucket": "7_30d", "count": 1}, {"bucket": "gt_30d", "count": 0},
    ]
    assert backlog["as_of"] == "2026-11-08T16:00:00+00:00"
    assert set(metrics) == {"volume", "solved", "frt_median", "frt_mean", "frt_p90", "resolution_median",
                            "resolution_mean", "resolution_p90", "fcr_rate", "reopen_rate", "csat", "nps", "ces",
                            "sla_compliance", "backlog"}


def test_summary_in_calendar_hours(world):
    metrics = metrics_summary(filters=replace(CURRENT, business_hours=False))["metrics"]

    # FRT 1800, 7200, 61200, 257400; resolution 1200, 7200, 86400, 154800.
    assert metrics["frt_median"]["value"] == 34200.0
    assert metrics["frt_mean"]["value"] == 81900.0
    assert metrics["frt_p90"]["value"] == pytest.approx(61200 + 0.7 * (257400 - 61200))
    assert metrics["resolution_median"]["value"] == 46800.0
    assert metrics["resolution_mean"]["value"] == 62400.0
    assert metrics["resolution_p90"]["value"] == pytest.approx(86400 + 0.7 * (154800 - 86400))
    assert metrics["resolution_median"]["previous"] == 86400.0
    # Counts do not depend on the hours.
    assert (metrics["volume"]["value"], metrics["solved"]["value"], metrics["fcr_rate"]["value"]) == (7, 4, 0.5)


def test_summary_filtered_by_team_channel_and_agent(world):
    support = metrics_summary(filters=replace(CURRENT, team_ids=(world.support.pk,)))["metrics"]
    # Support: T1, T2, T3 created; solved all three; FRT 1800, 3600; T8 (Support) answered Monday too.
    assert (support["volume"]["value"], support["solved"]["value"]) == (3, 3)
    assert support["frt_mean"]["sample"] == 3
    assert support["frt_median"]["value"] == 3600.0  # 1800, 3600, 30600
    assert support["fcr_rate"]["value"] == pytest.approx(1 / 3)
    assert support["csat"]["value"] == pytest.approx(1 / 3)  # 5, 2, 3
    assert support["nps"]["value"] == 100.0  # only T1's 10: answers without a ticket have no team
    assert support["backlog"]["value"] == 1  # T8

    chat = metrics_summary(filters=replace(CURRENT, channels=("chat",)))["metrics"]
    assert (chat["volume"]["value"], chat["solved"]["value"], chat["reopen_rate"]["value"]) == (2, 2, 0.5)

    ann = metrics_summary(filters=replace(CURRENT, agent_ids=(world.a1.pk,)))["metrics"]
    assert (ann["volume"]["value"], ann["solved"]["value"], ann["sla_compliance"]["value"]) == (2, 2, pytest.approx(2 / 3))


def test_summary_of_an_organization_reads_the_facts(world):
    metrics = metrics_summary(filters=replace(CURRENT, organization_ids=(world.organization.pk,)))["metrics"]

    # T1 and T6: both answered, solved at first contact; CSAT 5 and 4; NPS 10 and 3; SLA 2 of 3.
    assert (metrics["volume"]["value"], metrics["solved"]["value"]) == (2, 2)
    assert metrics["frt_median"]["value"] == 4500.0
    assert metrics["frt_mean"]["value"] == 4500.0
    assert metrics["resolution_mean"]["value"] == (7200 + 32400) / 2
    assert (metrics["fcr_rate"]["value"], metrics["reopen_rate"]["value"]) == (1.0, 0.0)
    assert (metrics["csat"]["value"], metrics["nps"]["value"], metrics["ces"]["value"]) == (1.0, 0.0, 3.5)
    assert metrics["sla_compliance"]["value"] == pytest.approx(2 / 3)
    assert (metrics["volume"]["previous"], metrics["backlog"]["value"]) == (0, 0)
    # Nothing to compare with: no relative change from zero.
    assert metrics["volume"]["change"] is None


def test_rollup_path_and_fact_path_agree(world):
    """With every ticket and answer in one organization, filtering by it (the fact path) must
    give what the rollups give without the filter."""
    targets = dict(TicketFact.objects.values_list("ticket_id", "sla_targets"))
    Ticket.objects.update(organization=world.organization)
    ticket_facts_refresh(ticket_ids=list(targets))
    for ticket_id, ticket_targets in targets.items():
        TicketFact.objects.filter(ticket_id=ticket_id).update(sla_targets=ticket_targets)
    rollups_rebuild()
    SurveyResponse.objects.update(organization=world.organization)
    assert set(TicketFact.objects.values_list("organization_id", flat=True)) == {world.organization.pk}
    # Both periods of the world, and the month before them.
    filters = replace(CURRENT, start=date(2026, 10, 26))
    by_organization = replace(filters, organization_ids=(world.organization.pk,))

    for business_hours in (True, False):
        plain = metrics_summary(filters=replace(filters, business_hours=business_hours))
        via_facts = metrics_summary(filters=replace(by_organization, business_hours=business_hours))
        assert via_facts == plain
        assert (plain["metrics"]["volume"]["value"], plain["metrics"]["sla_compliance"]["sample"]) == (9, 5)
        assert metrics_timeseries(filters=replace(by_organization, business_hours=business_hours)) == \
            metrics_timeseries(filters=replace(filters, business_hours=business_hours))
        for by in ("team", "agent", "channel", "priority"):
            assert metrics_breakdown(filters=replace(by_organization, business_hours=business_hours), by=by) == \
                metrics_breakdown(filters=replace(filters, business_hours=business_hours), by=by)
    assert DailyRollup.objects.exists()


def test_summary_counts_sla_targets_of_the_facts_in_both_paths(world):
    plain = metrics_summary(filters=CURRENT)["metrics"]["sla_compliance"]
    organization = metrics_summary(filters=replace(CURRENT, organization_ids=(world.organization.pk,)))
    assert (plain["sample"], organization["metrics"]["sla_compliance"]["sample"]) == (4, 3)


def test_timeseries_per_day(world):
    series = metrics_timeseries(filters=CURRENT)

    assert series["days"] == ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06", "2026-11-07",
                              "2026-11-08"]
    volume = series["series"]["volume_by_channel"]
    assert volume["email"] == [1, 0, 2, 1, 0, 0, 0]
    assert volume["chat"] == [0, 1, 0, 0, 1, 0, 0]
    assert volume["web"] == [0, 0, 0, 0, 0, 1, 0]
    assert set(volume) == {"web", "email", "chat", "phone", "api"}
    assert series["series"]["solved"] == [1, 1, 0, 0, 1, 0, 1]
    # Monday: T1 1800 and T8 30600; Thursday T6; Saturday T2.
    assert series["series"]["frt_median"] == [16200.0, None, None, 7200.0, None, 3600.0, None]
    assert series["series"]["resolution_median"] == [7200.0, 1200.0, None, None, 32400.0, None, 3600.0]
    assert series["series"]["csat"] == [1.0, 0.0, None, None, None, None, 0.5]
    assert series["series"]["nps"] == [100.0, None, 100.0, 0.0, -100.0, None, None]
    assert series["series"]["ces"] == [2.0, None, None, None, 5.0, 6.0, None]
    assert series["series"]["backlog"] == [1, 1, 2, 3, 3, 4, 3]


def test_timeseries_of_one_channel_lists_only_it(world):
    series = metrics_timeseries(filters=replace(CURRENT, channels=("chat",)))
    assert series["series"]["volume_by_channel"] == {"chat": [0, 1, 0, 0, 1, 0, 0]}
    assert series["series"]["backlog"] == [0, 0, 0, 0, 1, 1, 0]


def test_breakdown_by_team(world):
    rows = {row["label"]: row for row in metrics_breakdown(filters=CURRENT, by="team")}

    assert [row["label"] for row in metrics_breakdown(filters=CURRENT, by="team")] == ["Support", "Billing", "No team"]
    support, billing, none = rows["Support"], rows["Billing"], rows["No team"]
    assert support["key"] == world.support.pk and none["key"] is None
    # Support: T1, T2, T3 created and solved; first replies T1 1800, T2 3600, T8 30600.
    assert support == {
        "key": world.support.pk, "label": "Support", "volume": 3, "solved": 3, "first_replied": 3,
        "frt_median": 3600.0, "frt_p90": pytest.approx(3600 + 0.8 * 27000), "frt_mean": 12000.0,
        "resolution_median": 3600.0, "resolution_p90": pytest.approx(3600 + 0.8 * 3600), "resolution_mean": 4000.0,
        "fcr_rate": pytest.approx(1 / 3), "reopen_rate": pytest.approx(1 / 3), "sla_due": 3,
        "sla_compliance": pytest.approx(2 / 3), "csat": pytest.approx(1 / 3), "csat_count": 3, "nps": 100.0,
        "nps_count": 1, "ces": 2.0, "ces_count": 1,
    }
    # Billing: T4, T5 (merged), T6 created; only T6 answered and solved.
    assert (billing["volume"], billing["solved"], billing["first_replied"]) == (3, 1, 1)
    assert (billing["frt_median"], billing["resolution_median"], billing["fcr_rate"]) == (7200.0, 32400.0, 1.0)
    assert (billing["sla_compliance"], billing["csat"], billing["nps"], billing["ces"]) == (0.0, 1.0, -100.0, 5.0)
    # No team: T9, and the answers without a ticket (NPS 9 and 7, CES 6).
    assert (none["volume"], none["solved"], none["frt_median"], none["csat"]) == (1, 0, None, None)
    assert (none["nps"], none["nps_count"], none["ces"]) == (50.0, 2, 6.0)


def test_breakdown_by_agent_credits_the_agent_of_the_first_solve(world):
    rows = metrics_breakdown(filters=CURRENT, by="agent")

    assert [(row["label"], row["volume"], row["solved"]) for row in rows] == [
        ("Bea One", 3, 1), ("Ann One", 2, 2), ("Unassigned", 2, 1), ("Abe Two", 0, 0),
    ]
    abe = rows[-1]
    assert (abe["first_replied"], abe["frt_median"]) == (1, 30600.0)  # T8's answer, created last period


def test_breakdown_by_channel_priority_and_organization(world):
    channels = {row["key"]: row for row in metrics_breakdown(filters=CURRENT, by="channel")}
    assert {key: (row["label"], row["volume"]) for key, row in channels.items()} == {
        "email": ("Email", 4), "chat": ("Chat", 2), "web": ("Web form", 1), None: ("No channel", 0),
    }
    assert channels[None]["nps_count"] == 2

    priorities = {row["key"]: (row["label"], row["volume"], row["solved"])
                  for row in metrics_breakdown(filters=CURRENT, by="priority")}
    assert priorities == {"normal": ("Normal", 5, 2), "high": ("High", 2, 2), None: ("No priority", 0, 0)}

    organizations = metrics_breakdown(filters=CURRENT, by="organization")
    assert [(row["label"], row["volume"], row["solved"]) for row in organizations] == [
        ("No organization", 5, 2), ("Xiamen Printing 厦门印刷", 2, 2),
    ]
    assert (organizations[1]["frt_median"], organizations[1]["csat"], organizations[1]["sla_compliance"]) == (
        4500.0, 1.0, pytest.approx(2 / 3))


def test_breakdown_rejects_an_unknown_dimension(world):
    with pytest.raises(InvalidMetricFilters):
        metrics_breakdown(filters=CURRENT, by="tag")


def test_breakdown_labels_are_in_the_active_language(world):
    from django.utils import translation

    with translation.override("zh-hans"):
        channels = {row["key"]: row["label"] for row in metrics_breakdown(filters=CURRENT, by="channel")}
        priorities = {row["key"]: row["label"] for row in metrics_breakdown(filters=CURRENT, by="priority")}
    assert (channels["email"], channels["web"], priorities["high"]) == ("电子邮件", "网页表单", "高")


@pytest.mark.parametrize("reader", ["summary", "timeseries", "breakdown_team", "breakdown_organization"])
@pytest.mark.parametrize("organization", [False, True])
def test_reads_take_a_few_queries_whatever_the_data(world, reader, organization, django_assert_max_num_queries):
    filters = replace(CURRENT, organization_ids=(world.organization.pk,)) if organization else CURRENT
    call = {
        "summary": lambda: metrics_summary(filters=filters),
        "timeseries": lambda: metrics_timeseries(filters=filters),
        "breakdown_team": lambda: metrics_breakdown(filters=filters, by="team"),
        "breakdown_organization": lambda: metrics_breakdown(filters=filters, by="organization"),
    }[reader]
    with django_assert_max_num_queries(5):
        call()
