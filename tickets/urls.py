"""HTML routes. Each area keeps its own url module so they can grow independently."""

from django.urls import include, path

from tickets.views import accounts, attachments, home

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", accounts.login_view, name="login"),
    path("attachments/<int:attachment_id>/", attachments.download, name="attachment_download"),
    path("accounts/", include("tickets.accounts_urls")),
    path("agent/", include("tickets.agent_urls")),
    # Issue 9's areas, each with its own url module (and namespace) under /agent/.
    path("agent/", include("tickets.assignment.urls")),
    path("agent/rules/", include("tickets.rules.urls")),
    path("agent/macros/", include("tickets.macros.urls")),
    path("agent/", include("tickets.collaboration.urls")),
    path("agent/", include("tickets.collaboration.side_conversation_urls")),
    path("agent/", include("tickets.customers.urls")),
    path("portal/", include("tickets.portal_urls")),
]
