"""API routes of tickets.collaboration, included in the "api" namespace under /api/v1/ (no app_name here)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
