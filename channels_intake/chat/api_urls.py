"""The chat widget's HTTP API, mounted at /api/v1/chat/."""

from django.urls import path

from channels_intake.chat import api

app_name = "chat_api"
urlpatterns = [
    path("widgets/<str:key>/", api.WidgetApi.as_view(), name="widget"),
    path("widgets/<str:key>/chats/", api.ChatStartApi.as_view(), name="start"),
    path("widgets/<str:key>/offline/", api.OfflineMessageApi.as_view(), name="offline"),
    path("chats/<int:chat_id>/", api.ChatApi.as_view(), name="chat"),
    path("chats/<int:chat_id>/human/", api.ChatHumanApi.as_view(), name="human"),
    path("chats/<int:chat_id>/deflected/", api.ChatDeflectedApi.as_view(), name="deflected"),
    path("chats/<int:chat_id>/end/", api.ChatEndApi.as_view(), name="end"),
    path("chats/<int:chat_id>/rating/", api.ChatRatingApi.as_view(), name="rating"),
    path("chats/<int:chat_id>/transcript/", api.ChatTranscriptApi.as_view(), name="transcript"),
    path("chats/<int:chat_id>/messages/", api.ChatMessagesApi.as_view(), name="messages"),
    path("chats/<int:chat_id>/files/", api.ChatFilesApi.as_view(), name="files"),
]
