"""API routes of tickets.collaboration, included in the "api" namespace under /api/v1/ (no app_name here)."""

from django.urls import path

from tickets.collaboration import apis

urlpatterns = [
    path("tickets/<int:number>/followers/", apis.TicketFollowersApi.as_view(), name="ticket-followers"),
    path("tickets/<int:number>/followers/<int:user_id>/", apis.TicketFollowerApi.as_view(), name="ticket-follower"),
    path("tickets/<int:number>/links/", apis.TicketLinksApi.as_view(), name="ticket-links"),
    path("tickets/<int:number>/links/<int:link_id>/", apis.TicketLinkApi.as_view(), name="ticket-link"),
    path("tickets/<int:number>/split/", apis.TicketSplitApi.as_view(), name="ticket-split"),
    path("tickets/<int:number>/solve-incidents/", apis.ProblemSolveIncidentsApi.as_view(),
         name="ticket-solve-incidents"),
]
