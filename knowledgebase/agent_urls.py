"""URL routes of the knowledge base (issue 5)."""

app_name = "kb_agent"
urlpatterns: list = []
