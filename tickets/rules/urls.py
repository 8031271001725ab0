"""Agent pages of tickets.rules, under /agent/rules/ (managers and admins)."""

from django.urls import path

from tickets.models import RuleKind
from tickets.rules import views

app_name = "rules"
urlpatterns = [
    path("", views.rule_list, {"kind": RuleKind.TRIGGER}, name="triggers"),
    path("automations/", views.rule_list, {"kind": RuleKind.AUTOMATION}, name="automations"),
    path("triggers/new/", views.rule_new, {"kind": RuleKind.TRIGGER}, name="trigger_new"),
    path("automations/new/", views.rule_new, {"kind": RuleKind.AUTOMATION}, name="automation_new"),
    path("triggers/preview/", views.rule_preview, {"kind": RuleKind.TRIGGER}, name="trigger_preview"),
    path("automations/preview/", views.rule_preview, {"kind": RuleKind.AUTOMATION}, name="automation_preview"),
    path("<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("<int:rule_id>/active/", views.rule_toggle, name="rule_toggle"),
    path("<int:rule_id>/move/", views.rule_move, name="rule_move"),
    path("<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("<int:rule_id>/runs/", views.rule_runs, name="rule_runs"),
    path("log/", views.execution_log, name="log"),
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/new/", views.webhook_new, name="webhook_new"),
    path("webhooks/<int:webhook_id>/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<int:webhook_id>/delete/", views.webhook_delete, name="webhook_delete"),
]
