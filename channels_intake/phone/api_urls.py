"""The phone webhooks, mounted at /api/v1/intake/phone/."""

from django.urls import path

from channels_intake.phone import api

app_name = "phone_api"
urlpatterns = [
    path("events/", api.PhoneEventsApi.as_view(), name="events"),
    path("twilio/status/", api.TwilioStatusApi.as_view(), name="twilio_status"),
]
