"""REST API of the knowledge base, mounted at /api/v1/kb/."""

from django.urls import re_path

from knowledgebase import api

app_name = "kb_api"
# With or without the trailing slash: the search is typed into from several front ends.
urlpatterns = [
    re_path(r"^search/?$", api.SearchApi.as_view(), name="search"),
    re_path(r"^search/click/?$", api.SearchClickApi.as_view(), name="search-click"),
]
