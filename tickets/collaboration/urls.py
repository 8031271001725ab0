"""Agent pages of tickets.collaboration, under /agent/."""

from django.urls import path

from tickets.collaboration import views

app_name = "collaboration"
urlpatterns = [
    path("following/", views.following, name="following"),
    path("tickets/<int:number>/collaboration/", views.panel, name="panel"),
    path("tickets/<int:number>/follow/", views.follow, name="follow"),
    path("tickets/<int:number>/unfollow/", views.unfollow, name="unfollow"),
    path("tickets/<int:number>/followers/add/", views.follower_add, name="follower_add"),
    path("tickets/<int:number>/followers/<int:user_id>/remove/", views.follower_remove, name="follower_remove"),
    path("tickets/<int:number>/links/add/", views.link_add, name="link_add"),
    path("tickets/<int:number>/links/<int:link_id>/remove/", views.link_remove, name="link_remove"),
    path("tickets/<int:number>/solve-incidents/", views.solve_incidents, name="solve_incidents"),
    path("tickets/<int:number>/split/", views.split, name="split"),
    path("tickets/<int:number>/mention-candidates/", views.mention_candidates, name="mention_candidates"),
]
