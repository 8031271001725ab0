"""What every page of the agent workspace shares: the staff gate, the sidebar of views, option lists."""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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
from tickets.models import STAFF_ROLES, CustomFieldDefinition, SavedView, Team, User

AGENT_LIST_LIMIT = 500
# View counts are cached with a short lifetime, not invalidated: a count is reused for at most this
# long after the query that made it started. workspace.js re-reads counts 3 s after the last realtime
# ticket event (a debounce), which is not sooner than this, so that re-read always counts afresh and
# a change shows in the sidebar within about 3 s; a page that shows cached counts re-reads them when
# they expire. Keep this at most the debounce of `refreshSidebar` in static/js/workspace.js.
VIEW_COUNTS_SECONDS = 3
# How long pages may show a list of teams, staff or custom fields after it changed (cached_directory).
DIRECTORY_SECONDS = 5


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


def _view_url(queue_url: str, params: dict[str, str], slug: str) -> str:
    query = {k: v for k, v in params.items() if v}
    if "sort" in query:
        try:
            selectors.parse_sort(query["sort"])
        except selectors.InvalidQuery:
            query.pop("sort")
    query["view"] = slug
    return f"{queue_url}?{urlencode(query)}"


def _view_counts_seconds() -> float:
    return float(getattr(settings, "HELPDESK_VIEW_COUNTS_SECONDS", VIEW_COUNTS_SECONDS))


def _count_cache_key(user: User, visibility: str, view: selectors.BuiltInView | SavedView) -> str:
    """The same key for everyone who sees the same tickets (`visibility`) through the same filters.

    A team's agents share every count but "My open tickets" (a filter on "me" is per user), so after
    a change one of them counts and the others reuse it.
    """
    params = sorted((k, v) for k, v in selectors.view_params(view).items() if k != "sort")
    per_user = any("me" in str(value).split(",") for _key, value in params)
    signature = repr((visibility, params, user.pk if per_user else None))
    return f"agent:view-count:{hashlib.sha256(signature.encode()).hexdigest()[:32]}"


def _view_counts(
    user: User, views: list[selectors.BuiltInView | SavedView], *, compute: bool
) -> tuple[dict[int, int], bool]:
    """Counts by position in `views` and whether all are there: fresh cached ones, and (if `compute`) the rest."""
    # What the user may see decides the counts: the tickets, and (for searches) the internal notes.
    visibility = repr((permissions.ticket_visibility_filter(user), permissions.can_see_internal_notes(user)))
    keys = {index: _count_cache_key(user, visibility, view) for index, view in enumerate(views)}
    lifetime = _view_counts_seconds()
    cached = cache.get_many(set(keys.values())) if keys else {}
    now = time.time()
    counts: dict[int, int] = {}
    missing: list[int] = []
    for index, key in keys.items():
        entry = cached.get(key)
        if entry is not None and now - entry[0] < lifetime:
            if entry[1] is not None:
                counts[index] = entry[1]
        else:
            missing.append(index)
    if missing and compute:
        started = time.time()
        fresh = selectors.view_counts(user=user, views=[views[index] for index in missing])
        new_entries = {}
        for position, index in enumerate(missing):
            # A view whose filters are no longer valid has no count; remember that too.
            new_entries[keys[index]] = (started, fresh.get(position))
            if position in fresh:
                counts[index] = fresh[position]
        cache.set_many(new_entries, timeout=max(1, math.ceil(lifetime)))
        missing = []
    return counts, not missing


def sidebar_views(request: HttpRequest, *, compute_counts: bool = False) -> dict[str, Any]:
    """Built-in and saved views with their counts.

    Counting is one aggregate query for all views, but at a million tickets it costs more than a
    whole page (about 130 ms), so pages take counts from the short-lived shared cache only, and the
    sidebar fragment (loaded right after the page, and after realtime events) computes the rest.
    """
    user = request.user
    builtin = selectors.builtin_views(user)
    saved = cached_saved_views(user)
    views: list[selectors.BuiltInView | SavedView] = [*builtin, *saved]
    counts, counts_loaded = _view_counts(user, views, compute=compute_counts)
    active = request.GET.get("view", "")
    manages_all = permissions.reads_all_tickets(user)
    builtin_entries, saved_entries = [], []
    queue_url = reverse("agent:queue")
    for index, view in enumerate(views):
        if isinstance(view, SavedView):
            slug = f"saved-{view.pk}"
            saved_entries.append({
                "slug": slug, "name": view.name, "url": _view_url(queue_url, selectors.view_params(view), slug),
                "count": counts.get(index), "is_active": active == slug, "is_shared": view.owner_id is None,
                "id": view.pk,
                "can_delete": view.owner_id == user.pk if view.owner_id is not None
                else view.team_id is not None and (manages_all or getattr(view, "led_by_user", False)),
            })
        else:
            builtin_entries.append({
                "slug": view.slug, "name": view.name, "url": _view_url(queue_url, selectors.view_params(view), view.slug),
                "count": counts.get(index), "is_active": active == view.slug,
            })
    return {"builtin_views": builtin_entries, "saved_views": saved_entries, "counts_loaded": counts_loaded,
            "active": active, "counts_reload_ms": round(_view_counts_seconds() * 1000)}


SAVED_VIEWS_VERSION_KEY = "agent:saved-views:version"


def cached_saved_views(user: User) -> list[SavedView]:
    """`selectors.saved_views_for` through the cache the directory uses (for showing, not checking).

    Saving or deleting a view in the workspace calls `saved_views_changed`, so everyone's sidebar
    shows it at once; a change made elsewhere (the admin, a team lead role given or taken) shows
    within DIRECTORY_SECONDS.
    """
    key = f"agent:saved-views:{user.pk}:{','.join(map(str, sorted(permissions.team_ids_of(user))))}"
    found = cache.get_many([SAVED_VIEWS_VERSION_KEY, key])
    version = found.get(SAVED_VIEWS_VERSION_KEY, "")
    entry = found.get(key)
    if entry is not None and entry[0] == version:
        return entry[1]
    # The version is read before the views: a change that lands in between leaves this entry
    # under the old version, so it is never served.
    views = selectors.saved_views_for(user)
    cache.set(key, (version, views), timeout=getattr(settings, "HELPDESK_DIRECTORY_SECONDS", DIRECTORY_SECONDS))
    return views


def saved_views_changed() -> None:
    """Forget every cached list of saved views (after one was saved or deleted)."""
    cache.set(SAVED_VIEWS_VERSION_KEY, uuid.uuid4().hex, timeout=None)


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
    # Not the columns no list needs (password hashes, login times): less to read and to parse per page.
    queryset = queryset.defer("password", "last_login", "date_joined", "email_verified_at")
    return list(queryset.distinct().order_by("display_name", "username")[:AGENT_LIST_LIMIT])


def user_teams(user: User) -> list[Team]:
    return list(selectors.teams_for(user))


@dataclass(frozen=True)
class Directory:
    """What the workspace's lists and menus offer: teams, staff and custom fields."""

    teams: list[Team]
    agents: list[User]
    custom_fields: list[CustomFieldDefinition]


def cached_directory(user: User, *, agent_team_ids: list[int] | None = None,
                     custom_fields: bool = False) -> Directory:
    """The user's teams (`user_teams`), the staff of `agent_team_ids` (`staff_agents`) and, if asked,
    the custom field definitions, for showing on a page (not for checking a submission).

    They change rarely but every page lists them, and each is a query: at a million tickets on a
    busy machine its round trip costs more than its work. So pages share them through Redis, keyed
    by what decides them (the teams, or "all" for managers): a new, renamed or deactivated agent,
    a new team or custom field shows in the lists within DIRECTORY_SECONDS. Forms that validate a
    submission read them fresh (`user_teams`, `staff_agents`), so nothing stale is ever accepted.
    """
    scope = "all" if permissions.reads_all_tickets(user) else ",".join(map(str, sorted(permissions.team_ids_of(user))))
    agent_scope = scope if agent_team_ids is None else ",".join(map(str, sorted(agent_team_ids)))
    keys = {
        "teams": f"agent:directory:teams:{scope}",
        "agents": f"agent:directory:agents:{agent_scope}",
        **({"custom_fields": "agent:directory:custom-fields"} if custom_fields else {}),
    }
    cached = cache.get_many(list(keys.values()))
    compute: dict[str, Callable[[], list[Any]]] = {
        "teams": lambda: user_teams(user),
        "agents": lambda: staff_agents(user=user, team_ids=agent_team_ids),
        "custom_fields": lambda: list(CustomFieldDefinition.objects.filter(applies_to=CustomFieldDefinition.AppliesTo.TICKET)),
    }
    values: dict[str, list[Any]] = {}
    missing = {}
    for name, key in keys.items():
        if key in cached:
            values[name] = cached[key]
        else:
            values[name] = missing[key] = compute[name]()
    if missing:
        cache.set_many(missing, timeout=getattr(settings, "HELPDESK_DIRECTORY_SECONDS", DIRECTORY_SECONDS))
    return Directory(teams=values["teams"], agents=values["agents"], custom_fields=values.get("custom_fields", []))


def shareable_teams(user: User, teams: list[Team]) -> list[Team]:
    """Teams the user may share saved views with: every team for managers, led teams for leads."""
    if permissions.reads_all_tickets(user):
        return teams
    led = set(permissions.lead_team_ids_of(user))
    return [team for team in teams if team.pk in led]


def workspace_context(request: HttpRequest) -> dict[str, Any]:
    return {"sidebar": sidebar_views(request)}
