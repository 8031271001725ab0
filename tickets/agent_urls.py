"""The agent workspace, under /agent/."""

from django.urls import path

from tickets.views.agent import queue, saved_views, ticket

app_name = "agent"
urlpatterns = [
    path("", queue.queue, name="index"),
    path("tickets/", queue.queue, name="queue"),
    path("tickets/bulk/", queue.bulk_update, name="bulk_update"),
    path("tickets/<int:number>/", ticket.ticket_detail, name="ticket"),
    path("tickets/<int:number>/reply/", ticket.reply, name="ticket_reply"),
    path("tickets/<int:number>/fields/", ticket.fields, name="ticket_fields"),
    path("tickets/<int:number>/merge/", ticket.merge, name="ticket_merge"),
    path("tickets/<int:number>/timeline/", ticket.timeline, name="ticket_timeline"),
    path("tickets/<int:number>/presence/", ticket.presence_banner, name="ticket_presence"),
    path("tickets/<int:number>/row/", queue.ticket_row, name="ticket_row"),
    path("views/", queue.sidebar, name="views"),
    path("views/save/", saved_views.create, name="view_create"),
    path("views/<int:view_id>/delete/", saved_views.delete, name="view_delete"),
]
