"""Websocket routes of the tickets app (mounted by helpdesk/asgi.py)."""

from django.urls import path

from tickets.consumers import AgentConsumer

websocket_urlpatterns = [
    path("ws/agent/", AgentConsumer.as_asgi()),
]
