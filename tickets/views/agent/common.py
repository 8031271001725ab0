"""What every page of the agent workspace shares: the staff gate, the sidebar of views, option lists."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from helpdesk import permissions
from tickets import selectors
from tickets.models import STAFF_ROLES, SavedView, Team, User

AGENT_LIST_LIMIT = 500
# How long view counts may be reused; realtime refreshes of the sidebar read through this cache.
VIEW_COUNTS_SECONDS = 20


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to sign in; signed-in customers get 403: the workspace is staff only."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not permissions.is_staff_member(request.user) or not request.user.is_active:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The `next` parameter if it points inside this site, else `fallback` (no open redirects)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def _view_url(params: dict[str, str], slug: str) -> str:
    query = {k: v for k, v in params.items() if v}
    if "sort" in query:
        try:
            selectors.parse_sort(query["sort"])
        except selectors.InvalidQuery:
            query.pop("sort")
    query["view"] = slug
    return f"{reverse('agent:queue')}?{urlencode(query)}"


def _counts_cache_key(user: User, views: list[selectors.BuiltInView | SavedView]) -> str:
    signature = json.dumps([selectors.view_params(view) for view in views], sort_keys=True, default=str)
    return f"agent:view-counts:{user.pk}:{hashlib.sha256(signature.encode()).hexdigest()[:24]}"


def sidebar_views(request: HttpRequest, *, compute_counts: bool = False) -> dict[str, Any]:
    """Built-in and saved views with their counts.

    Counting is one aggregate query for all views, but at a million tickets it still costs more
    than a whole page, so pages take counts from a short-lived per-user cache only, and the
    sidebar fragment (loaded right after the page, and after realtime events) computes them.
    """
    user = request.user
    builtin = selectors.builtin_views(user)
    saved = selectors.saved_views_for(user)
    views: list[selectors.BuiltInView | SavedView] = [*builtin, *saved]
    key = _counts_cache_key(user, views)
    counts = cache.get(key)
    if counts is None and compute_counts:
        counts = selectors.view_counts(user=user, views=views)
        cache.set(key, counts, getattr(settings, "HELPDESK_VIEW_COUNTS_SECONDS", VIEW_COUNTS_SECONDS))
    counts_loaded = counts is not None
    counts = counts or {}
    active = request.GET.get("view", "")
    # Whether team views may be deleted: one look-up of the led teams, not one per view.
    manages_all = permissions.reads_all_tickets(user)
    led = set(permissions.lead_team_ids_of(user)) if not manages_all and any(v.owner_id is None for v in saved) else set()
    builtin_entries, saved_entries = [], []
    for index, view in enumerate(views):
        if isinstance(view, SavedView):
            slug = f"saved-{view.pk}"
            saved_entries.append({
                "slug": slug, "name": view.name, "url": _view_url(selectors.view_params(view), slug),
                "count": counts.get(index), "is_active": active == slug, "is_shared": view.owner_id is None,
                "id": view.pk,
                "can_delete": view.owner_id == user.pk if view.owner_id is not None
                else view.team_id is not None and (manages_all or view.team_id in led),
            })
        else:
            builtin_entries.append({
                "slug": view.slug, "name": view.name, "url": _view_url(selectors.view_params(view), view.slug),
                "count": counts.get(index), "is_active": active == view.slug,
            })
    return {"builtin_views": builtin_entries, "saved_views": saved_entries, "counts_loaded": counts_loaded,
            "active": active}


def active_view_name(sidebar: dict[str, Any]) -> str | None:
    for entry in [*sidebar["builtin_views"], *sidebar["saved_views"]]:
        if entry["is_active"]:
            return str(entry["name"])
    return None


def staff_agents(*, user: User, team_ids: list[int] | None = None) -> list[User]:
    """Active staff who work in `team_ids` (default: the user's teams; everyone for managers)."""
    queryset = User.objects.filter(is_active=True, role__in=STAFF_ROLES)
    if team_ids is None:
        if not permissions.reads_all_tickets(user):
            queryset = queryset.filter(team_memberships__team_id__in=permissions.team_ids_of(user))
    else:
        queryset = queryset.filter(team_memberships__team_id__in=team_ids)
    return list(queryset.distinct().order_by("display_name", "username")[:AGENT_LIST_LIMIT])


def user_teams(user: User) -> list[Team]:
    return list(selectors.teams_for(user))


def shareable_teams(user: User, teams: list[Team]) -> list[Team]:
    """Teams the user may share saved views with: every team for managers, led teams for leads."""
    if permissions.reads_all_tickets(user):
        return teams
    led = set(permissions.lead_team_ids_of(user))
    return [team for team in teams if team.pk in led]


def workspace_context(request: HttpRequest) -> dict[str, Any]:
    return {"sidebar": sidebar_views(request)}
