"""Websocket routes of live chat (mounted by helpdesk/asgi.py).

The visitor route is mounted outside AllowedHostsOriginValidator: the widget runs on other sites,
and its consumer checks the origin against the widget's allowed origins itself. The agent route
keeps the same-origin check of every staff socket.
"""

from django.urls import path

from channels_intake.chat.consumers import AgentChatConsumer, VisitorChatConsumer

visitor_websocket_urlpatterns = [
    path("ws/chat/visitor/", VisitorChatConsumer.as_asgi()),
]

agent_websocket_urlpatterns = [
    path("ws/chat/agent/", AgentChatConsumer.as_asgi()),
]

websocket_urlpatterns = [*visitor_websocket_urlpatterns, *agent_websocket_urlpatterns]
