"""The metrics API: /api/v1/metrics/summary/, /timeseries/, /breakdown/ and the exports."""

from django.urls import path

from metrics import api

app_name = "metrics_api"

urlpatterns = [
    path("summary/", api.MetricsSummaryApi.as_view(), name="summary"),
    path("timeseries/", api.MetricsTimeseriesApi.as_view(), name="timeseries"),
    path("breakdown/", api.MetricsBreakdownApi.as_view(), name="breakdown"),
    # The same without the trailing slash (as issue 8 spells them), answered directly rather than
    # redirected, and left out of the OpenAPI schema (schema=None) so each endpoint is listed once.
    path("summary", api.MetricsSummaryApi.as_view(schema=None)),
    path("timeseries", api.MetricsTimeseriesApi.as_view(schema=None)),
    path("breakdown", api.MetricsBreakdownApi.as_view(schema=None)),
]
