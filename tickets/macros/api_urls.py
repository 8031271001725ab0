"""API routes of tickets.macros, included in the "api" namespace under /api/v1/ (no app_name here)."""

from django.urls import path

from tickets.macros import apis

urlpatterns = [
    path("macros/", apis.MacroListApi.as_view(), name="macro-list"),
    path("macros/<int:macro_id>/", apis.MacroDetailApi.as_view(), name="macro-detail"),
    path("tickets/<int:number>/macros/<int:macro_id>/apply/", apis.TicketMacroApplyApi.as_view(),
         name="ticket-macro-apply"),
]
