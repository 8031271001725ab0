"""The public help center, mounted at /help/ (namespace `help`)."""

from django.urls import path

from knowledgebase.views import help_center

app_name = "help"
urlpatterns = [
    path("", help_center.root, name="root"),
    path("sitemap.xml", help_center.sitemap, name="sitemap"),
    path("sitemap-<int:page>.xml", help_center.sitemap_page, name="sitemap_page"),
    path("theme.css", help_center.theme, name="theme"),
    path("feedback/<int:translation_id>/", help_center.feedback, name="feedback"),
    path("<str:language>/", help_center.home, name="home"),
    path("<str:language>/search/", help_center.search, name="search"),
    path("<str:language>/categories/<slug:slug>/", help_center.category, name="category"),
    # Slugs may be Chinese (allow_unicode), which the slug converter would refuse.
    path("<str:language>/articles/<str:slug>/", help_center.article, name="article"),
]
