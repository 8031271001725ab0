"""The dashboards: the manager dashboard, the agent dashboard and the drill-down."""

from django.urls import path

from metrics import views

app_name = "metrics"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("me/", views.agent_dashboard_view, name="me"),
    path("tickets/", views.drilldown_view, name="drilldown"),
]
