"""Agent pages of tickets.assignment, under /agent/."""

from django.urls import path

from tickets.assignment import views

app_name = "assignment"
urlpatterns = [
    path("tickets/<int:number>/assignment/", views.ticket_assignment, name="ticket_assignment"),
    path("tickets/<int:number>/escalate/", views.escalate, name="escalate"),
]
