from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from helpdesk import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script from a URL, not inline, so the CSP can stay strict.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/intake/", include("channels_intake.api_urls")),
    path("api/v1/chat/", include("channels_intake.chat.api_urls")),
    path("api/v1/kb/", include("knowledgebase.api_urls")),
    path("api/v1/metrics/", include("metrics.api_urls")),
    path("agent/metrics/", include("metrics.urls")),
    path("survey/", include("metrics.survey_urls")),
    path("api/v1/", include("tickets.api_urls")),
    path("help/", include("knowledgebase.help_urls")),
    path("agent/kb/", include("knowledgebase.agent_urls")),
    path("agent/kb/analytics/", include("knowledgebase.analytics_urls")),
    path("kb/deflection/", include("knowledgebase.deflection_urls")),
    path("agent/chat/", include("channels_intake.chat.console_urls")),
    path("agent/phone/", include("channels_intake.phone.agent_urls")),
    # The chat widget script customers embed (/chat/widget.js, a stable address) and its demo page.
    path("", include("channels_intake.chat.widget_urls")),
    path("", include("tickets.urls")),
]
