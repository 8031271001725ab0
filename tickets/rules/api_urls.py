"""API routes of tickets.rules, included in the "api" namespace under /api/v1/ (no app_name here)."""

from django.urls import path

from tickets.rules import apis

urlpatterns = [
    path("rules/", apis.RuleListCreateApi.as_view(), name="rule-list"),
    path("rules/<int:pk>/", apis.RuleDetailApi.as_view(), name="rule-detail"),
    path("rules/<int:pk>/runs/", apis.RuleRunListApi.as_view(), name="rule-runs"),
]
