"""Agent pages of tickets.assignment, under /agent/."""

from django.urls import path  # noqa: F401

app_name = "assignment"
urlpatterns: list = []
