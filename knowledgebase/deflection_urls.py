"""Deflection tracking (customers' forms) and the knowledge base in the agent's reply box,
mounted at /kb/deflection/ (namespace kb_deflection)."""

from django.urls import path

from knowledgebase import deflection_views

app_name = "kb_deflection"
urlpatterns = [
    path("shown/", deflection_views.shown, name="shown"),
    path("<int:deflection_id>/opened/", deflection_views.opened, name="opened"),
    path("agent/tickets/<int:number>/articles/", deflection_views.agent_articles, name="agent_articles"),
]
