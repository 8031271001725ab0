"""Intake API, mounted under /api/v1/intake/."""

from django.urls import include, path

from channels_intake.apis import EmailIntakeApi

app_name = "intake"
urlpatterns = [
    path("email/", EmailIntakeApi.as_view(), name="email"),
    path("phone/", include("channels_intake.phone.api_urls")),
]
