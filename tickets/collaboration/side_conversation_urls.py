"""Agent pages of side conversations, under /agent/ (the ticket page's side-conversations panel)."""

from django.urls import path

from tickets.collaboration import side_conversation_views as views

app_name = "side_conversations"
urlpatterns = [
    path("tickets/<int:number>/side-conversations/", views.side_conversation_list, name="list"),
    path("tickets/<int:number>/side-conversations/start/", views.side_conversation_start, name="start"),
    path("tickets/<int:number>/side-conversations/<int:conversation_id>/", views.side_conversation_detail,
         name="detail"),
    path("tickets/<int:number>/side-conversations/<int:conversation_id>/reply/", views.side_conversation_reply,
         name="reply"),
    path("tickets/<int:number>/side-conversations/<int:conversation_id>/close/", views.side_conversation_close,
         name="close"),
    path("tickets/<int:number>/side-conversations/<int:conversation_id>/reopen/", views.side_conversation_reopen,
         name="reopen"),
]
