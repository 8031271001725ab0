"""ASGI entry point: HTTP goes to Django, websockets to the Channels routes of the apps."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from channels_intake.chat.ws_urls import agent_websocket_urlpatterns as agent_chat_websockets  # noqa: E402
from channels_intake.chat.ws_urls import visitor_websocket_urlpatterns as visitor_chat_websockets  # noqa: E402
from tickets.routing import websocket_urlpatterns as ticket_websockets  # noqa: E402

# Staff sockets: session auth, and only from pages of our own hosts.
staff_websockets = AllowedHostsOriginValidator(
    AuthMiddlewareStack(URLRouter([*ticket_websockets, *agent_chat_websockets]))
)
# The chat widget runs on other sites: its socket checks the origin against the widget's allowed
# origins itself, and authenticates with the visitor token (no cookies, so no session stack).
visitor_websockets = URLRouter([*visitor_chat_websockets])
VISITOR_PATH_PREFIX = "/ws/chat/visitor/"


async def websocket_application(scope, receive, send):
    if scope["path"].startswith(VISITOR_PATH_PREFIX):
        return await visitor_websockets(scope, receive, send)
    return await staff_websockets(scope, receive, send)


application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})
