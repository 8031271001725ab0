"""Intake API, mounted under /api/v1/intake/."""

from django.urls import path

from channels_intake.apis import EmailIntakeApi

app_name = "intake"
urlpatterns = [
    path("email/", EmailIntakeApi.as_view(), name="email"),
]
