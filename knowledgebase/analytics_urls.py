"""Search analytics for authors, mounted at /agent/kb/analytics/ (staff only)."""

from django.urls import path

from knowledgebase.views import analytics

app_name = "kb_analytics"
urlpatterns = [
    path("", analytics.search_analytics_view, name="search"),
]
