"""The rules pages under /agent/rules/: triggers, automations, their form and preview, the execution
log and webhooks. Managers and admins only: anonymous visitors sign in, everyone else gets 403.

Entry points only: parse the request, call one service or selector, render.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import permissions
from tickets.models import Rule, RuleKind, RuleRun, RuleRunOutcome, TriggerEvent, User, Webhook
from tickets.rules import engine, selectors, services
from tickets.rules.forms import PreviewForm, RuleForm, WebhookForm, describe_condition, rule_form_schema
from tickets.views.agent.common import workspace_context

LOG_PAGE_SIZE = 50
KIND_LIST_URLS = {RuleKind.TRIGGER: "rules:triggers", RuleKind.AUTOMATION: "rules:automations"}


def manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors sign in first; anyone but an active manager or admin gets 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not permissions.is_manager_or_admin(request.user) or not request.user.is_active:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _actor(request: HttpRequest) -> User:
    return cast("User", request.user)


def _rule(rule_id: int) -> Rule:
    rule = selectors.rule_get(rule_id=rule_id)
    if rule is None:
        raise Http404
    return rule


def _webhook(webhook_id: int) -> Webhook:
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise Http404
    return webhook


def _page(request: HttpRequest, context: dict[str, Any], template: str) -> HttpResponse:
    return render(request, template, {**workspace_context(request), **context})


def _event_label(event: str) -> str:
    if event in TriggerEvent.values:
        return str(TriggerEvent(event).label)
    return _("Schedule") if event == "schedule" else event


def _label_runs(runs: Any) -> list[RuleRun]:
    runs = list(runs)
    for run in runs:
        run.event_label = _event_label(run.event)
    return runs


# -- Lists ---------------------------------------------------------------------------------------


@manager_required
@require_GET
def rule_list(request: HttpRequest, kind: str) -> HttpResponse:
    rows = [{"rule": rule, "event_labels": [_event_label(event) for event in rule.events]}
            for rule in selectors.rule_list(kind=kind)]
    return _page(request, {"kind": kind, "section": kind, "rows": rows},
                 "agent/rules/list.html")


@manager_required
@require_POST
def rule_toggle(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _rule(rule_id)
    is_active = request.POST.get("is_active") == "1"
    services.rule_set_active(actor=_actor(request), rule=rule, is_active=is_active)
    if is_active:
        messages.success(request, _("“%(name)s” is on.") % {"name": rule.name})
    else:
        messages.success(request, _("“%(name)s” is off.") % {"name": rule.name})
    return redirect(KIND_LIST_URLS[RuleKind(rule.kind)])


@manager_required
@require_POST
def rule_move(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _rule(rule_id)
    offset = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if offset is None:
        messages.error(request, _("Choose up or down."))
    else:
        try:
            services.rule_move(actor=_actor(request), rule=rule, offset=offset)
        except ValidationError as error:
            for text in error.messages:
                messages.error(request, text)
    return redirect(KIND_LIST_URLS[RuleKind(rule.kind)])


# -- The form ------------------------------------------------------------------------------------


def _form_page(request: HttpRequest, *, form: RuleForm, rule: Rule | None,
               preview_form: PreviewForm | None = None, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "rule": rule,
        "kind": form.kind,
        "section": form.kind,
        "schema": rule_form_schema(),
        "rows": form.rows_initial(),
        "preview_form": preview_form or PreviewForm(),
        "section_errors": form.section_errors,
    }
    response = _page(request, context, "agent/rules/form.html")
    response.status_code = status
    return response


def _save(request: HttpRequest, *, kind: str, rule: Rule | None) -> HttpResponse:
    form = RuleForm(request.POST, kind=kind)
    if not form.is_valid():
        return _form_page(request, form=form, rule=rule, status=400)
    try:
        saved = services.rule_save(
            actor=_actor(request), rule=rule, kind=kind, name=form.cleaned_data["name"],
            description=form.cleaned_data["description"], is_active=form.cleaned_data["is_active"],
            events=form.cleaned_data["events"], conditions=form.conditions, actions=form.actions,
        )
    except ValidationError as error:
        form.apply_errors(error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages})
        return _form_page(request, form=form, rule=rule, status=400)
    messages.success(request, _("Saved “%(name)s”.") % {"name": saved.name})
    return redirect(KIND_LIST_URLS[RuleKind(saved.kind)])


@manager_required
@require_http_methods(["GET", "POST"])
def rule_new(request: HttpRequest, kind: str) -> HttpResponse:
    if request.method == "POST":
        return _save(request, kind=kind, rule=None)
    initial: dict[str, Any] = {"is_active": True, "events": ["created"]}
    if kind == RuleKind.AUTOMATION:
        # Every automation needs a time condition: the form starts with one to fill in.
        initial = {"is_active": True, "events": [], "conditions": {
            "all": [{"field": "hours_since.status_changed", "operator": "gt", "value": ""}], "any": []}}
    return _form_page(request, form=RuleForm(kind=kind, initial=initial), rule=None)


@manager_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _rule(rule_id)
    if request.method == "POST":
        return _save(request, kind=rule.kind, rule=rule)
    form = RuleForm(kind=rule.kind, initial={
        "name": rule.name, "description": rule.description, "is_active": rule.is_active, "events": rule.events,
        "conditions": rule.conditions, "actions": rule.actions,
    })
    return _form_page(request, form=form, rule=rule)


@manager_required
@require_http_methods(["GET", "POST"])
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _rule(rule_id)
    if request.method == "POST":
        services.rule_delete(actor=_actor(request), rule=rule)
        messages.success(request, _("Deleted “%(name)s”.") % {"name": rule.name})
        return redirect(KIND_LIST_URLS[RuleKind(rule.kind)])
    return _page(request, {"rule": rule, "section": rule.kind}, "agent/rules/delete.html")


@manager_required
@require_POST
def rule_preview(request: HttpRequest, kind: str) -> HttpResponse:
    """What the form's rule (saved or not) would do to ticket #N: each condition's result, each
    action's effect. Changes nothing."""
    form = RuleForm(request.POST, kind=kind)
    preview_form = PreviewForm(request.POST)
    context: dict[str, Any] = {"preview": None, "errors": [], "ticket": None}
    if not preview_form.is_valid():
        context["errors"] = [error for errors in preview_form.errors.values() for error in errors]
    else:
        ticket = None
        try:
            ticket = permissions.access_ticket_by_number(request.user, preview_form.cleaned_data["ticket_number"])
        except Http404:
            context["errors"] = [_("There is no ticket #%(number)s.")
                                 % {"number": preview_form.cleaned_data["ticket_number"]}]
        if ticket is not None:
            context["ticket"] = ticket
            try:
                events, conditions, actions = services.rule_validate(
                    kind=kind, events=request.POST.getlist("events"), conditions=form.conditions,
                    actions=form.actions)
                # The saved rule being edited, so an automation that already fired here says so.
                saved_id = request.POST.get("rule_id", "")
                saved = Rule.objects.filter(pk=int(saved_id), kind=kind).first() if saved_id.isdigit() else None
                preview = engine.rule_preview(
                    kind=kind, events=events, conditions=conditions, actions=actions, ticket=ticket,
                    rule_id=saved.pk if saved else None)
                schema = rule_form_schema()
                context["preview"] = preview
                context["conditions"] = [
                    {"group": result.group, "text": describe_condition(result.condition, schema),
                     "actual": result.actual, "holds": result.holds}
                    for result in preview.conditions
                ]
            except ValidationError as error:
                context["errors"] = list(error.messages)
            except NotImplementedError:
                context["errors"] = [_("The preview is not available yet.")]
    return render(request, "agent/rules/_preview.html", context)


# -- Execution log -------------------------------------------------------------------------------


@manager_required
@require_GET
def rule_runs(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _rule(rule_id)
    page = Paginator(selectors.rule_runs(rule=rule), LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return _page(request, {"rule": rule, "section": rule.kind, "page": page, "runs": _label_runs(page.object_list)},
                 "agent/rules/runs.html")


@manager_required
@require_GET
def execution_log(request: HttpRequest) -> HttpResponse:
    outcome = request.GET.get("outcome", "")
    outcome = outcome if outcome in RuleRunOutcome.values else ""
    kind = request.GET.get("kind", "")
    kind = kind if kind in RuleKind.values else ""
    page = Paginator(selectors.execution_log(outcome=outcome, kind=kind), LOG_PAGE_SIZE).get_page(
        request.GET.get("page"))
    query = "&".join(f"{key}={value}" for key, value in (("outcome", outcome), ("kind", kind)) if value)
    return _page(request, {
        "section": "log", "page": page, "runs": _label_runs(page.object_list), "outcome": outcome, "kind": kind, "page_query": query,
        "outcomes": RuleRunOutcome.choices, "kinds": RuleKind.choices,
    }, "agent/rules/log.html")


# -- Webhooks ------------------------------------------------------------------------------------


@manager_required
@require_GET
def webhook_list(request: HttpRequest) -> HttpResponse:
    return _page(request, {"section": "webhooks", "webhooks": list(selectors.webhook_list())},
                 "agent/rules/webhooks.html")


def _webhook_form_page(request: HttpRequest, *, form: WebhookForm, webhook: Webhook | None,
                       status: int = 200) -> HttpResponse:
    deliveries = selectors.webhook_deliveries(webhook=webhook) if webhook is not None else []
    response = _page(request, {"section": "webhooks", "form": form, "webhook": webhook, "deliveries": deliveries},
                     "agent/rules/webhook_form.html")
    response.status_code = status
    return response


def _webhook_save(request: HttpRequest, webhook: Webhook | None) -> HttpResponse:
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            saved = services.webhook_save(actor=_actor(request), webhook=webhook, **form.cleaned_data)
        except ValidationError as error:
            form.apply_errors(error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages})
        else:
            messages.success(request, _("Saved the webhook “%(name)s”.") % {"name": saved.name})
            return redirect("rules:webhook_edit", webhook_id=saved.pk)
    return _webhook_form_page(request, form=form, webhook=webhook, status=400)


@manager_required
@require_http_methods(["GET", "POST"])
def webhook_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _webhook_save(request, None)
    return _webhook_form_page(request, form=WebhookForm(), webhook=None)


@manager_required
@require_http_methods(["GET", "POST"])
def webhook_edit(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = _webhook(webhook_id)
    if request.method == "POST":
        return _webhook_save(request, webhook)
    form = WebhookForm(initial={"name": webhook.name, "url": webhook.url, "is_active": webhook.is_active})
    return _webhook_form_page(request, form=form, webhook=webhook)


@manager_required
@require_POST
def webhook_delete(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = _webhook(webhook_id)
    try:
        services.webhook_delete(actor=_actor(request), webhook=webhook)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
        return redirect("rules:webhook_edit", webhook_id=webhook.pk)
    messages.success(request, _("Deleted the webhook “%(name)s”.") % {"name": webhook.name})
    return redirect(reverse("rules:webhooks"))

