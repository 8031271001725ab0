"""Agent pages of tickets.collaboration, under /agent/."""

from django.urls import path  # noqa: F401

app_name = "collaboration"
urlpatterns: list = []
