"""The metrics API: /api/v1/metrics/summary, /timeseries, /breakdown and the exports."""

from django.urls import path

from metrics import api

app_name = "metrics_api"

urlpatterns = [
    path("summary/", api.MetricsSummaryApi.as_view(), name="summary"),
    path("timeseries/", api.MetricsTimeseriesApi.as_view(), name="timeseries"),
    path("breakdown/", api.MetricsBreakdownApi.as_view(), name="breakdown"),
]
