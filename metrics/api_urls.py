"""The metrics API: /api/v1/metrics/summary, /timeseries, /breakdown and the exports."""

from django.urls import path  # noqa: F401

app_name = "metrics_api"

urlpatterns: list = []
