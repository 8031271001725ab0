"""The phone pages of the agent workspace, mounted at /agent/phone/ (namespace phone)."""

from django.urls import path

from channels_intake.phone import views

app_name = "phone"
urlpatterns = [
    path("new/", views.new_phone_ticket, name="new_ticket"),
    path("calls/waiting/", views.screen_pops_waiting, name="screen_pops_waiting"),
    path("calls/<int:call_id>/pop/", views.screen_pop, name="screen_pop"),
    path("calls/<int:call_id>/log/", views.screen_pop_log, name="screen_pop_log"),
    path("tickets/<int:number>/log/", views.ticket_log, name="ticket_log"),
    path("tickets/<int:number>/merge-customer/", views.customer_merge, name="customer_merge"),
]
