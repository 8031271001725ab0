"""HTML routes. Each area keeps its own url module so they can grow independently."""

from django.urls import include, path

from tickets.views import accounts, attachments, home

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", accounts.login_view, name="login"),
    path("attachments/<int:attachment_id>/", attachments.download, name="attachment_download"),
    path("accounts/", include("tickets.accounts_urls")),
    path("agent/", include("tickets.agent_urls")),
    path("portal/", include("tickets.portal_urls")),
]
