"""Saved views: named queue filters, personal or shared with a team by its lead (or a manager)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets.models import SavedView, Team, User
from tickets.selectors import DEFAULT_SORT, InvalidQuery, TicketFilters, parse_sort

# The queue parameters a saved view may store; anything else in the query string is dropped.
SAVED_VIEW_FILTER_KEYS = ("status", "team", "assignee", "priority", "channel", "type", "tag", "q")


def saved_view_filters_from_params(params: Any) -> dict[str, str]:
    """The allowlisted, non-empty filter parameters of a query string, each as one comma-joined string."""
    filters: dict[str, str] = {}
    for key in SAVED_VIEW_FILTER_KEYS:
        raw = params.getlist(key) if hasattr(params, "getlist") else [params.get(key, "")]
        value = ",".join(str(v).strip() for v in raw if str(v).strip())
        if value:
            filters[key] = value[:500]
    return filters


def saved_view_create(
    *, owner: User, name: str, filters: dict[str, str], sort: str | None = None, team: Team | None = None
) -> SavedView:
    """A view of `owner`'s, or (with `team`) one every member of the team sees.

    Filters are checked against the queue's allowlist now, so a stored view always opens.
    """
    if not owner.is_staff_member:
        raise PermissionDenied(_("Only staff can save views."))
    name = " ".join((name or "").split())[:100]
    if not name:
        raise ValidationError({"name": _("Give the view a name.")})
    unknown = set(filters) - set(SAVED_VIEW_FILTER_KEYS)
    if unknown:
        raise ValidationError({"filters": _("Unknown filter: %(key)s.") % {"key": sorted(unknown)[0]}})
    try:
        TicketFilters.from_params(filters, user=owner)
        key, descending = parse_sort(sort or DEFAULT_SORT)
    except InvalidQuery as error:
        raise ValidationError({"filters": str(error)}) from None
    if team is not None and not permissions.can_manage_views_of_team(owner, team.pk):
        raise PermissionDenied(_("Only the team's lead can share views with the team."))
    with transaction.atomic():
        scope = SavedView.objects.filter(team=team, owner__isnull=True) if team else SavedView.objects.filter(owner=owner)
        position = (scope.aggregate(last=Max("position"))["last"] or 0) + 1
        return SavedView.objects.create(
            name=name,
            owner=None if team else owner,
            team=team,
            filters=filters,
            sort=("-" if descending else "") + key,
            position=position,
        )


def can_delete_saved_view(actor: User, view: SavedView) -> bool:
    if view.owner_id is not None:
        return view.owner_id == actor.pk
    return view.team_id is not None and permissions.can_manage_views_of_team(actor, view.team_id)


def saved_view_delete(*, view: SavedView, actor: User) -> None:
    if not can_delete_saved_view(actor, view):
        raise PermissionDenied(_("You cannot delete this view."))
    view.delete()
