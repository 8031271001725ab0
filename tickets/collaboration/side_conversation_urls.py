"""Agent pages of side conversations, under /agent/."""

from django.urls import path  # noqa: F401

app_name = "side_conversations"
urlpatterns: list = []
