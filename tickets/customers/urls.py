"""Agent pages of tickets.customers, under /agent/."""

from django.urls import path

from tickets.customers import views

app_name = "customers"
urlpatterns = [
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/duplicates/", views.duplicates, name="duplicates"),
    path("customers/duplicates/merge/", views.duplicate_merge, name="duplicate_merge"),
    path("customers/<int:customer_id>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:customer_id>/edit/", views.customer_edit, name="customer_edit"),
    path("customers/<int:customer_id>/health/", views.customer_health_badge, name="customer_health_badge"),
    path("organizations/<int:organization_id>/", views.organization_detail, name="organization_detail"),
]
