"""Agent pages of tickets.rules, under /agent/."""

from django.urls import path  # noqa: F401

app_name = "rules"
urlpatterns: list = []
