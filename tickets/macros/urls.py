"""Agent pages of tickets.macros, under /agent/macros/."""

from django.urls import path

from tickets.macros import views

app_name = "macros"
urlpatterns = [
    path("", views.macro_list, name="list"),
    path("new/", views.macro_create, name="create"),
    path("preview/", views.macro_preview, name="preview"),
    path("<int:macro_id>/edit/", views.macro_edit, name="edit"),
    path("<int:macro_id>/delete/", views.macro_remove, name="delete"),
    # The reply box's picker on ticket #number.
    path("picker/<int:number>/", views.picker, name="picker"),
    path("<int:macro_id>/render/<int:number>/", views.render_for_ticket, name="render"),
    path("<int:macro_id>/apply/<int:number>/", views.apply_to_ticket, name="apply"),
]
