"""The ticket queue: filters, sortable columns, keyset pages, bulk actions and live row refresh."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from helpdesk import permissions
from tickets import selectors
from tickets.forms import BulkActionForm, SavedViewForm
from tickets.models import Channel, Priority, Status
from tickets.services import tickets_bulk_update
from tickets.views.agent.common import (
    active_view_name,
    cached_directory,
    safe_next,
    shareable_teams,
    sidebar_views,
    staff_agents,
    staff_required,
    user_teams,
)

PAGE_SIZES = (25, 50, 100)

# (sort key, column label, css class, sort descending first)
COLUMNS: list[tuple[str, Any, str, bool]] = [
    ("number", gettext_lazy("#"), "col-number", True),
    ("subject", gettext_lazy("Subject"), "col-subject", False),
    ("requester", gettext_lazy("Requester"), "col-requester", False),
    ("status", gettext_lazy("Status"), "col-status", False),
    ("priority", gettext_lazy("Priority"), "col-priority", True),
    # The nearest unmet SLA target; sorting on it puts the ticket due soonest first.
    ("due", gettext_lazy("SLA"), "col-sla", False),
    ("team", gettext_lazy("Team"), "col-team", False),
    ("assignee", gettext_lazy("Assignee"), "col-assignee", False),
    ("updated", gettext_lazy("Updated"), "col-updated col-date", True),
    ("created", gettext_lazy("Created"), "col-created col-date", True),
]
# What a column's header link says it does, where its label alone does not.
COLUMN_TITLES = {"due": gettext_lazy("Due soonest")}
FILTER_KEYS = ("status", "team", "assignee", "priority", "channel", "type", "tag", "q")


def _page_size(request: HttpRequest) -> int:
    try:
        size = int(request.GET.get("per_page", "50"))
    except ValueError:
        return 50
    return size if size in PAGE_SIZES else 50


def _columns(request: HttpRequest, sort: str) -> list[dict[str, Any]]:
    current, descending = sort.lstrip("-"), sort.startswith("-")
    # The header links: this page's query with another sort, from its first page (what
    # `{% querystring sort=... cursor=None fragment=None %}` writes, with one copy of the query).
    query = request.GET.copy()
    for key in ("cursor", "fragment"):
        query.pop(key, None)
    columns = []
    for key, label, css, descending_first in COLUMNS:
        if key == current:
            next_sort = key if descending else f"-{key}"
            aria = "descending" if descending else "ascending"
        else:
            next_sort = f"-{key}" if descending_first else key
            aria = None
        query["sort"] = next_sort
        columns.append({"key": key, "label": label, "css": css, "sort_param": next_sort, "aria_sort": aria,
                        "url": f"?{query.urlencode()}", "title": COLUMN_TITLES.get(key)})
    return columns


def _choice_options(current: str, choices: list[tuple[str, Any]], any_label: str) -> list[tuple[str, str]]:
    options = [("", any_label), *[(value, str(label)) for value, label in choices]]
    if current and current not in {value for value, _label in options}:
        # A combination from a view link ("new,open,on_hold"): keep it selectable as it is.
        labels = []
        for part in current.split(","):
            labels.append(next((str(label) for value, label in choices if value == part), part))
        options.insert(1, (current, " + ".join(labels)))
    return options


def _filter_options(request: HttpRequest, teams: list, agents: list) -> dict[str, Any]:
    params = request.GET
    user = request.user
    status_choices = [("unsolved", _("Unsolved")), *Status.choices]
    team_choices = [(str(t.pk), t.name) for t in teams]
    if permissions.reads_all_tickets(user):
        team_choices.append(("none", _("No team")))
    assignee_choices = [("me", _("Me")), ("none", _("Unassigned"))] + [
        (str(a.pk), a.name) for a in agents if a.pk != user.pk
    ]
    return {
        "status": _choice_options(params.get("status", ""), status_choices, _("Any status")),
        "team": _choice_options(params.get("team", ""), team_choices, _("Any team")),
        "assignee": _choice_options(params.get("assignee", ""), assignee_choices, _("Anyone")),
        "priority": _choice_options(params.get("priority", ""), list(Priority.choices), _("Any priority")),
        "channel": _choice_options(params.get("channel", ""), list(Channel.choices), _("Any channel")),
    }


def _results(request: HttpRequest) -> tuple[dict[str, Any], int]:
    """The page of tickets for the request's filters; a refused filter or sort gives 400 and no rows."""
    user = request.user
    try:
        filters = selectors.TicketFilters.from_params(request.GET, user=user)
        page = selectors.queue_page(
            user=user, filters=filters, sort=request.GET.get("sort"), cursor=request.GET.get("cursor"),
            page_size=_page_size(request),
        )
    except selectors.InvalidQuery as error:
        page = selectors.TicketPage(tickets=[], next_cursor=None, previous_cursor=None, sort=selectors.DEFAULT_SORT)
        return {"page": page, "columns": _columns(request, page.sort), "query_error": str(error)}, 400
    return {"page": page, "columns": _columns(request, page.sort), "query_error": None}, 200


@staff_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    results, status = _results(request)
    if request.GET.get("fragment") == "results":
        return render(request, "agent/_queue_results.html", results, status=status)
    user = request.user
    directory = cached_directory(user)
    teams, agents = directory.teams, directory.agents
    sidebar = sidebar_views(request)
    has_filters = any(request.GET.get(key) for key in FILTER_KEYS)
    context = {
        **results,
        "sidebar": sidebar,
        "title": active_view_name(sidebar) or (_("Search results") if request.GET.get("q") else _("Tickets")),
        "filter_values": {key: request.GET.get(key, "") for key in FILTER_KEYS},
        "filter_options": _filter_options(request, teams, agents),
        "has_filters": has_filters,
        "per_page": _page_size(request),
        "page_sizes": PAGE_SIZES,
        "bulk_form": BulkActionForm(user=user, teams=teams, agents=agents),
        "save_view_form": SavedViewForm(shareable_teams=shareable_teams(user, teams)) if has_filters else None,
    }
    return render(request, "agent/queue.html", context, status=status)


@staff_required
@require_GET
def ticket_row(request: HttpRequest, number: int) -> HttpResponse:
    """One queue row, re-read for a live update; empty when the ticket no longer matches or is not visible.

    The answer is the same for "not visible" and "filtered out", so it reveals nothing about other teams.
    """
    try:
        filters = selectors.TicketFilters.from_params(request.GET, user=request.user)
    except selectors.InvalidQuery:
        return HttpResponse(status=400)
    row = selectors.queue_row(user=request.user, filters=filters, number=number)
    if row is None:
        return HttpResponse("")
    return render(request, "agent/_queue_row.html", {"ticket": row})


@staff_required
@require_GET
def sidebar(request: HttpRequest) -> HttpResponse:
    """The views nav with counts: loaded right after a page without cached counts, and after realtime events."""
    return render(request, "agent/_sidebar_views.html", {"sidebar": sidebar_views(request, compute_counts=True)})


@staff_required
@require_POST
def bulk_update(request: HttpRequest) -> HttpResponse:
    user = request.user
    back = safe_next(request, reverse("agent:queue"))
    teams = user_teams(user)
    form = BulkActionForm(request.POST, user=user, teams=teams, agents=staff_agents(user=user))
    if not form.is_valid():
        for error in [*form.non_field_errors(), *[e for f in form.errors.values() for e in f]]:
            messages.error(request, error)
        return redirect(back)
    numbers = form.cleaned_data["numbers"]
    tickets = list(
        selectors.ticket_queryset(user=user).filter(number__in=numbers).select_related("team", "assignee").order_by("number")
    )
    found = {ticket.number for ticket in tickets}
    updated, refused = tickets_bulk_update(tickets=tickets, actor=user, **form.changes())
    refused += [(number, _("not found")) for number in numbers if number not in found]
    if updated:
        messages.success(
            request,
            ngettext("Updated %(count)d ticket.", "Updated %(count)d tickets.", updated) % {"count": updated},
        )
    if refused:
        details = "; ".join(f"#{number}: {reason}" for number, reason in sorted(refused)[:20])
        messages.warning(
            request,
            ngettext(
                "%(count)d ticket was not changed: %(details)s", "%(count)d tickets were not changed: %(details)s",
                len(refused),
            ) % {"count": len(refused), "details": details},
        )
    return redirect(back)
