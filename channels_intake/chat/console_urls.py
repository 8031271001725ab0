"""The agent's live-chat console, mounted at /agent/chat/ (namespace chat_console)."""

from django.urls import path

from channels_intake.chat import console_views

app_name = "chat_console"
urlpatterns = [
    path("", console_views.console, name="console"),
    path("presence/", console_views.presence, name="presence"),
    path("offers/", console_views.offers, name="offers"),
    path("queue/", console_views.queue, name="queue"),
    path("tabs/", console_views.tabs, name="tabs"),
    path("<int:chat_id>/", console_views.chat_pane, name="chat"),
    path("<int:chat_id>/transcript/", console_views.transcript, name="transcript"),
    path("<int:chat_id>/accept/", console_views.accept, name="accept"),
    path("<int:chat_id>/decline/", console_views.decline, name="decline"),
    path("<int:chat_id>/message/", console_views.message, name="message"),
    path("<int:chat_id>/transfer/", console_views.transfer, name="transfer"),
    path("<int:chat_id>/end/", console_views.end, name="end"),
]
