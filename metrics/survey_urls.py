"""Survey pages customers reach without signing in: one-click ratings, comments, opt-out."""

from django.urls import path  # noqa: F401

app_name = "metrics_survey"

urlpatterns: list = []
