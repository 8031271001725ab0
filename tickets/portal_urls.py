from django.urls import path

from tickets.views import portal

app_name = "portal"
urlpatterns = [
    path("", portal.home, name="home"),
    path("new/", portal.new_request, name="new"),
    path("requests/<int:number>/", portal.ticket_detail, name="ticket"),
    path("requests/<int:number>/live/", portal.ticket_live, name="ticket_live"),
    path("requests/<int:number>/reply/", portal.ticket_reply, name="ticket_reply"),
    path("requests/<int:number>/status/", portal.ticket_set_status, name="ticket_status"),
]
