"""GET /api/v1/metrics/summary/, /timeseries/ and /breakdown/: the figures of the small world
(test_selectors_fixture.py) over HTTP, errors, authentication and the OpenAPI schema."""

from __future__ import annotations

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from metrics.serializers import (
    BreakdownRowSerializer,
    BreakdownSerializer,
    MetricValueSerializer,
    SummarySerializer,
    TimeseriesSerializer,
)
from tests.metrics.test_selectors_fixture import world_in_shanghai

pytestmark = pytest.mark.django_db

PERIOD = "period=custom&start=2026-11-02&end=2026-11-08"


@pytest.fixture
def world(db, settings):
    return world_in_shanghai(settings)


@pytest.fixture
def as_manager(world) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=world.manager)[0].key}")
    return client


def test_summary(as_manager, world):
    response = as_manager.get(f"/api/v1/metrics/summary/?{PERIOD}&team={world.support.pk}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(SummarySerializer().fields)
    assert body["period"]["start"] == "2026-11-02" and body["period"]["hours"] == "business"
    metrics = body["metrics"]
    assert set(metrics) == set(SummarySerializer().fields["metrics"].fields)
    assert set(metrics["volume"]) == set(MetricValueSerializer().fields)
    assert (metrics["volume"]["value"], metrics["solved"]["value"], metrics["frt_median"]["value"]) == (3, 3, 3600.0)
    assert [item["bucket"] for item in metrics["backlog"]["by_age"]] == ["lt_1d", "1_3d", "3_7d", "7_30d", "gt_30d"]


def test_summary_in_calendar_hours(as_manager):
    metrics = as_manager.get(f"/api/v1/metrics/summary/?{PERIOD}&hours=calendar").json()["metrics"]
    assert (metrics["frt_median"]["value"], metrics["resolution_median"]["value"]) == (34200.0, 46800.0)


def test_timeseries(as_manager):
    response = as_manager.get(f"/api/v1/metrics/timeseries/?{PERIOD}&channel=chat")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(TimeseriesSerializer().fields)
    assert set(body["series"]) == set(TimeseriesSerializer().fields["series"].fields)
    assert body["series"]["volume_by_channel"] == {"chat": [0, 1, 0, 0, 1, 0, 0]}
    assert body["series"]["resolution_median"] == [None, 1200.0, None, None, None, None, 3600.0]


def test_breakdown(as_manager, world):
    response = as_manager.get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=team")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(BreakdownSerializer().fields)
    assert body["by"] == "team"
    assert [(row["key"], row["label"], row["volume"]) for row in body["results"]] == [
        (world.support.pk, "Support", 3), (world.billing.pk, "Billing", 3), (None, "No team", 1),
    ]
    assert all(set(row) == set(BreakdownRowSerializer().fields) for row in body["results"])


def test_breakdown_labels_follow_the_request_language(as_manager):
    response = as_manager.get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=channel", HTTP_ACCEPT_LANGUAGE="zh-hans")
    labels = {row["key"]: row["label"] for row in response.json()["results"]}
    assert (labels["email"], labels["web"]) == ("电子邮件", "网页表单")


@pytest.mark.parametrize(("query", "message"), [
    ("period=yesterday", "Unknown period “yesterday”."),
    ("period=custom&start=2026-11-08&end=2026-11-01", "The end date is before the start date."),
    ("channel=pigeon", "Unknown channel “pigeon”."),
    ("team=abc", "“team” must be a number."),
])
@pytest.mark.parametrize("path", ["summary/", "timeseries/", "breakdown/?by=team", "breakdown/?by=team&format=csv",
                                  "breakdown/?by=team&format=xlsx"])
def test_bad_filters_answer_400_with_the_reason(as_manager, path, query, message):
    separator = "&" if "?" in path else "?"
    response = as_manager.get(f"/api/v1/metrics/{path}{separator}{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "invalid_filters", "message": message}}


def test_breakdown_needs_a_known_dimension(as_manager):
    for query in ("", "&by=tag"):
        response = as_manager.get(f"/api/v1/metrics/breakdown/?{PERIOD}{query}")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_filters"


def test_unknown_format_is_not_found(as_manager):
    assert as_manager.get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=team&format=pdf").status_code == 404


def test_session_authentication_works_like_the_token(client, world):
    client.force_login(world.manager)
    response = client.get(f"/api/v1/metrics/summary/?{PERIOD}")
    assert response.status_code == 200
    assert response.json()["metrics"]["volume"]["value"] == 7


def test_the_paths_without_a_slash_answer_too(as_manager):
    response = as_manager.get(f"/api/v1/metrics/summary?{PERIOD}")
    assert response.status_code == 200
    assert response.json()["metrics"]["volume"]["value"] == 7
    assert as_manager.get(f"/api/v1/metrics/breakdown?{PERIOD}&by=team&format=csv")["Content-Type"] == \
        "text/csv; charset=utf-8"


@pytest.mark.parametrize("path", ["summary/", "timeseries/", "breakdown/?by=agent", "breakdown/?by=organization",
                                  "breakdown/?by=team&format=xlsx"])
def test_api_takes_a_few_queries(as_manager, world, path, django_assert_max_num_queries):
    separator = "&" if "?" in path else "?"
    # Token and user (2), the figures (at most 5), the filter's team check (1).
    with django_assert_max_num_queries(8):
        response = as_manager.get(f"/api/v1/metrics/{path}{separator}{PERIOD}&team={world.support.pk}")
    assert response.status_code == 200


def test_schema_documents_the_endpoints_without_warnings():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    ours = [message for message in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
            if "metrics" in message]
    assert ours == []
    breakdown = schema["paths"]["/api/v1/metrics/breakdown/"]["get"]
    parameters = {parameter["name"] for parameter in breakdown["parameters"]}
    assert {"by", "format", "period", "start", "end", "team", "agent", "channel", "priority", "organization",
            "hours"} <= parameters
    assert set(breakdown["responses"]["200"]["content"]) == {
        "application/json", "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    for path in ("/api/v1/metrics/summary/", "/api/v1/metrics/timeseries/"):
        assert {"400", "403"} <= set(schema["paths"][path]["get"]["responses"])
    assert sorted(path for path in schema["paths"] if "/metrics/" in path) == [
        "/api/v1/metrics/breakdown/", "/api/v1/metrics/summary/", "/api/v1/metrics/timeseries/",
    ]
