"""Agent pages of tickets.macros, under /agent/."""

from django.urls import path  # noqa: F401

app_name = "macros"
urlpatterns: list = []
