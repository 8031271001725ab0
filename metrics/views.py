"""The dashboards under /agent/metrics/: the manager dashboard, the agent's own dashboard and the
drill-down from any figure to its tickets.

Thin: the filters (and their role scope) come from `MetricFilters.from_params`, every figure from
metrics.selectors, and the tickets of a drill-down from `metrics_drilldown` (role-scoped). The
filters live in the query string, so a view of the dashboard is a shareable link. With an
`HX-Request` header the dashboards answer with their figures only: their script asks for them again
when the workers say the rollups changed (`metrics.updated` on the agent socket).
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from helpdesk import permissions
from metrics import presentation, selectors
from metrics.queue_health import agent_queue_health
from metrics.selectors import InvalidMetricFilters, MetricFilters
from tickets.models import Channel, Organization, Priority, Role, Team, User
from tickets.views.agent.common import cached_directory, is_htmx, staff_required, workspace_context

DRILLDOWN_PAGE_SIZE = 50
# Organizations offered in the filter; past this many the list would be no use to pick from.
ORGANIZATION_CHOICES_LIMIT = 500
# Query parameters of these pages that are not filters.
PAGE_PARAMS = ("metric", "page", "part")

PERIODS = (
    ("today", gettext_lazy("Today")),
    ("7d", gettext_lazy("Last 7 days")),
    ("30d", gettext_lazy("Last 30 days")),
    ("90d", gettext_lazy("Last 90 days")),
    ("this_month", gettext_lazy("This month")),
    ("last_month", gettext_lazy("Last month")),
    ("custom", gettext_lazy("Custom range")),
)
BREAKDOWNS = (
    ("team", gettext_lazy("By team")),
    ("agent", gettext_lazy("By agent")),
    ("channel", gettext_lazy("By channel")),
)
# Breakdown columns: (row key, heading, drill-down metric, unit).
BREAKDOWN_COLUMNS = (
    ("volume", gettext_lazy("Volume"), "volume", "count"),
    ("solved", gettext_lazy("Solved"), "solved", "count"),
    ("frt_median", gettext_lazy("First response (median)"), "frt", "seconds"),
    ("frt_p90", gettext_lazy("First response (p90)"), "frt", "seconds"),
    ("resolution_median", gettext_lazy("Resolution (median)"), "resolution", "seconds"),
    ("fcr_rate", gettext_lazy("FCR"), "fcr", "ratio"),
    ("reopen_rate", gettext_lazy("Reopen rate"), "reopened", "ratio"),
    ("sla_compliance", gettext_lazy("SLA compliance"), "sla", "ratio"),
    ("csat", gettext_lazy("CSAT"), "csat", "ratio"),
)
# The agent's own figures.
AGENT_FIGURES = ("solved", "frt_median", "resolution_median", "fcr_rate", "reopen_rate", "csat", "sla_compliance")
BACKLOG_BUCKETS = (
    ("lt_1d", gettext_lazy("Under 1 day")),
    ("1_3d", gettext_lazy("1–3 days")),
    ("3_7d", gettext_lazy("3–7 days")),
    ("7_30d", gettext_lazy("7–30 days")),
    ("gt_30d", gettext_lazy("Over 30 days")),
)


def _staff(request: HttpRequest) -> User:
    """The signed-in staff member (staff_required let only them through)."""
    return cast("User", request.user)


def _filter_params(params: QueryDict) -> QueryDict:
    filters = params.copy()
    for name in PAGE_PARAMS:
        filters.pop(name, None)
    return filters


def _filters(request: HttpRequest) -> tuple[MetricFilters, str | None]:
    """The filters of the query string, or the defaults with the reason they were refused."""
    user = _staff(request)
    try:
        return MetricFilters.from_params(_filter_params(request.GET), user=user), None
    except InvalidMetricFilters as error:
        return MetricFilters.from_params(QueryDict(), user=user), str(error)


def _own(filters: MetricFilters, user: User) -> MetricFilters:
    """The same period and filters, narrowed to what `user` handled themselves."""
    return dataclasses.replace(filters, team_ids=(), agent_ids=(user.pk,), organization_ids=())


def _query(params: dict[str, list[str]], **overrides: str) -> str:
    merged = {name: list(values) for name, values in params.items()}
    for name, value in overrides.items():
        merged[name] = [value]
    return urlencode(merged, doseq=True)


def drilldown_url(filters: MetricFilters, metric: str, **overrides: str) -> str:
    return f"{reverse('metrics:drilldown')}?{_query(filters.as_params(), metric=metric, **overrides)}"


def _export_links(filters: MetricFilters, by: str) -> list[dict[str, str]]:
    base = reverse("metrics_api:breakdown")
    return [
        {"label": label, "url": f"{base}?{_query(filters.as_params(), by=by, format=fmt)}"}
        for fmt, label in (("csv", "CSV"), ("xlsx", "XLSX"))
    ]


def _breakdown_table(filters: MetricFilters, by: str, title: Any) -> dict[str, Any]:
    """One breakdown as rows of display cells, each cell linking to its tickets where it can."""
    rows = []
    for row in selectors.metrics_breakdown(filters=filters, by=by):
        key = row.get("key")
        cells = []
        for name, _heading, metric, unit in BREAKDOWN_COLUMNS:
            value = row.get(name)
            # A row without key (no team, unassigned) cannot be narrowed to, and a count of 0 or a
            # figure without data has no tickets behind it: those cells do not link.
            has_tickets = value is not None and (unit != "count" or value > 0)
            url = drilldown_url(filters, metric, **{by: str(key)}) if key is not None and has_tickets else None
            cells.append({"name": name, "text": presentation.value_text(value, unit, name=name), "url": url})
        rows.append({"key": key, "label": row.get("label") or _("None"), "cells": cells})
    return {
        "by": by, "title": title, "rows": rows, "exports": _export_links(filters, by),
        "columns": [{"name": name, "heading": heading} for name, heading, _metric, _unit in BREAKDOWN_COLUMNS],
    }


def _cards(summary: dict[str, Any], filters: MetricFilters, names: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    cards = presentation.headline_cards(summary, names=names)
    for card in cards:
        card["url"] = drilldown_url(filters, card["drilldown"]) if card["drilldown"] else None
    return cards


def _chart_data(filters: MetricFilters, summary: dict[str, Any]) -> dict[str, Any]:
    """What the page's own chart draws (backlog by age, from the summary) and the filters the
    drill-downs of every chart carry (static/js/metrics/dashboard.js)."""
    by_age = {entry["bucket"]: entry["count"] for entry in summary.get("metrics", {}).get("backlog", {}).get("by_age", [])}
    return {
        "backlog_by_age": [{"key": key, "label": str(label), "count": by_age.get(key, 0)} for key, label in BACKLOG_BUCKETS],
        "filters": filters.as_params(),
    }


def _series_data(filters: MetricFilters) -> dict[str, Any]:
    """What the trend charts draw, labels already translated (the page's "charts" part)."""
    series = selectors.metrics_timeseries(filters=filters)
    channel_labels = dict(Channel.choices)
    volume = series.get("series", {}).get("volume_by_channel", {}) or {}
    return {
        "days": series.get("days", []),
        "volume_by_channel": [
            {"key": code, "label": str(channel_labels.get(code, code)), "data": values}
            for code, values in volume.items()
        ],
        "frt_median": series.get("series", {}).get("frt_median", []),
        "resolution_median": series.get("series", {}).get("resolution_median", []),
        "csat": series.get("series", {}).get("csat", []),
        "nps": series.get("series", {}).get("nps", []),
    }


def chart_texts() -> dict[str, Any]:
    """The charts' words, translated for the reader (json_script)."""
    return {
        "durations": presentation.duration_words(),
        "drilldownUrl": reverse("metrics:drilldown"),
        "volume": _("Tickets created"),
        "frt": _("First response time (median)"),
        "resolution": _("Resolution time (median)"),
        "csat": _("CSAT"),
        "nps": _("NPS"),
        "backlog": _("Open tickets"),
        "hours": _("Hours"),
        "tickets": _("Tickets"),
        "noData": _("No data for this period"),
    }


def _filter_form(request: HttpRequest, filters: MetricFilters, *, show_scope: bool = True) -> dict[str, Any]:
    user = _staff(request)
    directory = cached_directory(user)
    organizations: list[Organization] = []
    if show_scope and permissions.reads_all_tickets(user):
        organizations = list(Organization.objects.order_by("name").only("pk", "name")[:ORGANIZATION_CHOICES_LIMIT])
    teams = directory.teams
    if user.role == Role.TEAM_LEAD:
        # The teams whose figures a lead may ask for (MetricFilters refuses the others).
        led = set(permissions.lead_team_ids_of(user)) or set(permissions.team_ids_of(user))
        teams = [team for team in teams if team.pk in led]
    period = request.GET.get("period") or "30d"
    return {
        "periods": PERIODS,
        "period": period,
        "start": filters.start.isoformat(),
        "end": filters.end.isoformat(),
        "show_scope": show_scope,
        "teams": teams,
        "agents": directory.agents if user.role != Role.AGENT else [],
        "channels": Channel.choices,
        "priorities": Priority.choices,
        "organizations": organizations,
        "selected": {
            "team": request.GET.getlist("team"),
            "agent": request.GET.get("agent", ""),
            "channel": request.GET.get("channel", ""),
            "priority": request.GET.get("priority", ""),
            "organization": request.GET.get("organization", ""),
            "hours": "calendar" if not filters.business_hours else "business",
        },
    }


@staff_required
@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    if user.role == Role.AGENT:
        # Agents see their own figures; the filters' scope would narrow this page to them anyway.
        query = request.META.get("QUERY_STRING", "")
        return redirect(reverse("metrics:me") + (f"?{query}" if query else ""))
    filters, error = _filters(request)
    # The page is the headline cards; the trend charts and each breakdown are parts the page loads
    # right after (?part=…, each its own request, served in parallel by the web workers), so the
    # figures read first come first and no single request computes everything.
    part = request.GET.get("part")
    if part == "charts":
        return render(request, "metrics/_dashboard_charts.html", {"series": _series_data(filters)})
    breakdown_titles = dict(BREAKDOWNS)
    if part in breakdown_titles:
        return render(request, "metrics/_breakdown.html", {"table": _breakdown_table(filters, part, breakdown_titles[part])})
    summary = selectors.metrics_summary(filters=filters)
    query = _filter_params(request.GET).urlencode()
    context = {
        "filters": filters,
        "error": error,
        "summary": summary,
        "cards": _cards(summary, filters),
        "charts": _chart_data(filters, summary),
        "charts_url": f"?{query}&part=charts" if query else "?part=charts",
        "breakdowns": [{"by": by, "title": title, "url": f"?{query}&part={by}" if query else f"?part={by}"}
                       for by, title in BREAKDOWNS],
    }
    if is_htmx(request):
        return render(request, "metrics/_dashboard_figures.html", context)
    return render(request, "metrics/dashboard.html", {
        **workspace_context(request),
        **context,
        "form": _filter_form(request, filters),
        "chart_texts": chart_texts(),
    })


@staff_required
@require_GET
def agent_dashboard_view(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    filters, error = _filters(request)
    period = _own(filters, user)
    # Today with the same channel, priority and hours filters.
    today = dataclasses.replace(period, start=selectors.reporting_today(), end=selectors.reporting_today())
    today_summary = selectors.metrics_summary(filters=today)
    period_summary = selectors.metrics_summary(filters=period)
    context = {
        "filters": period,
        "error": error,
        "today_cards": _cards(today_summary, today, AGENT_FIGURES),
        "period_cards": _cards(period_summary, period, AGENT_FIGURES),
        "queue": agent_queue_health(user=user),
        "queue_url": reverse("agent:queue"),
    }
    if is_htmx(request):
        return render(request, "metrics/_agent_figures.html", context)
    return render(request, "metrics/agent_dashboard.html", {
        **workspace_context(request),
        **context,
        "form": _filter_form(request, filters, show_scope=False),
        "can_see_team_dashboard": user.role != Role.AGENT,
    })


@staff_required
@require_GET
def drilldown_view(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    metric = request.GET.get("metric", "")
    if metric not in selectors.DRILLDOWN_METRICS:
        return render(request, "metrics/drilldown.html", {
            **workspace_context(request), "error": _("Choose a figure on the dashboard to see its tickets."),
            "tickets": None, "back_url": reverse("metrics:dashboard"),
        }, status=400)
    filters, error = _filters(request)
    if error is not None:
        return render(request, "metrics/drilldown.html", {
            **workspace_context(request), "error": error, "tickets": None, "back_url": reverse("metrics:dashboard"),
        }, status=400)
    tickets = selectors.metrics_drilldown(filters=filters, user=user, metric=metric)
    if not tickets.ordered:
        tickets = tickets.order_by("-created_at", "-pk")
    tickets = tickets.select_related("team", "assignee")
    page = Paginator(tickets, DRILLDOWN_PAGE_SIZE).get_page(request.GET.get("page"))
    params = filters.as_params()
    dashboard = reverse("metrics:dashboard") if user.role != Role.AGENT else reverse("metrics:me")
    return render(request, "metrics/drilldown.html", {
        **workspace_context(request),
        "error": None,
        "metric": metric,
        "metric_label": DRILLDOWN_LABELS.get(metric, metric),
        "filters": filters,
        "scope": _scope_texts(filters),
        "page": page,
        "tickets": page.object_list,
        "back_url": f"{dashboard}?{_query(params)}",
        "page_query": _query(params, metric=metric),
    })


def _scope_texts(filters: MetricFilters) -> list[str]:
    """The filters narrowing a drill-down, as people read them ("Channel: Email")."""
    channel_labels, priority_labels = dict(Channel.choices), dict(Priority.choices)
    parts = []
    if filters.team_ids:
        teams = Team.objects.filter(pk__in=filters.team_ids).order_by("name").values_list("name", flat=True)
        parts.append(_("Team: %(names)s") % {"names": ", ".join(teams)})
    if filters.agent_ids:
        names = [user.name for user in User.objects.filter(pk__in=filters.agent_ids).order_by("pk")]
        parts.append(_("Agent: %(names)s") % {"names": ", ".join(names)})
    if filters.channels:
        names = [str(channel_labels.get(code, code)) for code in filters.channels]
        parts.append(_("Channel: %(names)s") % {"names": ", ".join(names)})
    if filters.priorities:
        names = [str(priority_labels.get(code, code)) for code in filters.priorities]
        parts.append(_("Priority: %(names)s") % {"names": ", ".join(names)})
    if filters.organization_ids:
        organizations = Organization.objects.filter(pk__in=filters.organization_ids).order_by("name").values_list(
            "name", flat=True)
        parts.append(_("Organization: %(names)s") % {"names": ", ".join(organizations)})
    return parts


DRILLDOWN_LABELS = {
    "volume": gettext_lazy("Tickets created"),
    "solved": gettext_lazy("Tickets solved"),
    "frt": gettext_lazy("Tickets first answered"),
    "resolution": gettext_lazy("Tickets first solved"),
    "fcr": gettext_lazy("Tickets solved at first contact"),
    "reopened": gettext_lazy("Solved tickets that were reopened"),
    "sla_missed": gettext_lazy("Tickets that missed an SLA target"),
    "sla": gettext_lazy("Tickets with SLA targets due"),
    "backlog": gettext_lazy("Tickets in the backlog"),
    "csat": gettext_lazy("Tickets with a satisfaction answer"),
    "nps": gettext_lazy("Tickets with an NPS answer"),
    "ces": gettext_lazy("Tickets with a customer effort answer"),
}
