"""API routes of tickets.customers, included in the "api" namespace under /api/v1/ (no app_name here)."""

from django.urls import path

from tickets.customers import api

urlpatterns = [
    path("customers/<int:pk>/overview/", api.CustomerOverviewApi.as_view(), name="customer-overview"),
    path("organizations/<int:pk>/overview/", api.OrganizationOverviewApi.as_view(), name="organization-overview"),
]
