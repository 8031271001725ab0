"""The dashboards: the manager dashboard, the agent dashboard and the drill-down."""

from django.urls import path  # noqa: F401

app_name = "metrics"

urlpatterns: list = []
