"""Reads of macros, scoped by who asks. Access is decided here and nowhere else.

Who sees what:
- an agent: their own personal macros, the macros shared with a team they belong to, and the
  macros shared with everyone;
- managers and admins: their own personal macros and every shared macro (they manage them all);
- customers and anonymous callers: none.
Nobody sees another person's personal macro, whatever their role.

Who may change what (create, edit, delete):
- a personal macro: its owner;
- a macro shared with a team: that team's leads, managers and admins;
- a macro shared with everyone: managers and admins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from helpdesk import permissions
from tickets.models import Macro, Team

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tickets.models import User

PERSONAL, TEAM, EVERYONE = "personal", "team", "everyone"
SHARING_LABELS = {PERSONAL: _("Only me"), TEAM: _("A team"), EVERYONE: _("Everyone")}


def _lead_team_ids(user: User) -> list[int]:
    """The teams `user` leads, cached on the instance for the length of a request (the list page
    asks once per macro)."""
    cached = getattr(user, "_helpdesk_macro_lead_team_ids", None)
    if cached is None:
        cached = permissions.lead_team_ids_of(user)
        user._helpdesk_macro_lead_team_ids = cached  # type: ignore[attr-defined]
    return cached


def manages_all_macros(user: User) -> bool:
    return permissions.reads_all_tickets(user) or user.is_superuser


def macros_visible_to(user: User | AnonymousUser | None) -> QuerySet[Macro]:
    """Every macro `user` may see and use (inactive ones included: the management list shows them)."""
    if not permissions.is_staff_member(user):
        return Macro.objects.none()
    shared = Q(owner__isnull=True)
    if not manages_all_macros(user):  # type: ignore[arg-type]
        shared &= Q(team__isnull=True) | Q(team_id__in=permissions.team_ids_of(user))  # type: ignore[arg-type]
    return Macro.objects.filter(Q(owner=user) | shared)


def macros_for_picker(user: User | AnonymousUser | None) -> QuerySet[Macro]:
    """The active macros `user` may apply, most used first (the reply box's picker and the API)."""
    return (
        macros_visible_to(user).filter(is_active=True).select_related("team")
        .order_by("-usage_count", "title", "id")
    )


def access_macro(user: User | AnonymousUser | None, macro_id: int | str, *, for_change: bool = False) -> Macro:
    """The macro if `user` may see it (and, with for_change, change it); Http404 otherwise.

    A macro the caller may see but not change is reported as missing too: ids of other people's
    macros cannot be probed, and the pages offer no edit link for it anyway.
    """
    try:
        macro_id = int(macro_id)
    except (TypeError, ValueError):
        raise Http404 from None
    macro = macros_visible_to(user).select_related("team", "owner").filter(pk=macro_id).first()
    if macro is None or (for_change and not can_change_macro(user, macro)):  # type: ignore[arg-type]
        raise Http404
    return macro


def sharing_of(macro: Macro) -> str:
    if macro.owner_id:
        return PERSONAL
    return TEAM if macro.team_id else EVERYONE


def can_share(user: User, *, sharing: str, team: Team | None = None) -> bool:
    """Whether `user` may own a macro shared this way (create it, or edit one shared this way)."""
    if not permissions.is_staff_member(user):
        return False
    if sharing == PERSONAL:
        return True
    if manages_all_macros(user):
        return sharing == EVERYONE or (sharing == TEAM and team is not None)
    if sharing == TEAM and team is not None:
        return team.pk in _lead_team_ids(user)
    return False


def can_change_macro(user: User, macro: Macro) -> bool:
    sharing = sharing_of(macro)
    if sharing == PERSONAL:
        return macro.owner_id == user.pk and permissions.is_staff_member(user)
    return can_share(user, sharing=sharing, team=macro.team)


def teams_to_share_with(user: User) -> QuerySet[Team]:
    """The teams `user` may share a macro with (the teams they lead; every team for managers)."""
    if manages_all_macros(user):
        return Team.objects.order_by("name")
    return Team.objects.filter(pk__in=_lead_team_ids(user)).order_by("name")


def sharing_choices(user: User) -> list[tuple[str, str]]:
    """The sharing options the form offers `user`."""
    choices = [(PERSONAL, str(SHARING_LABELS[PERSONAL]))]
    if teams_to_share_with(user).exists():
        choices.append((TEAM, str(SHARING_LABELS[TEAM])))
    if manages_all_macros(user):
        choices.append((EVERYONE, str(SHARING_LABELS[EVERYONE])))
    return choices


def macros_for_rules() -> QuerySet[Macro]:
    """The macros a rule may apply (the rules' "apply_macro" choices): active shared ones, never
    someone's personal macro."""
    return Macro.objects.filter(owner__isnull=True, is_active=True).select_related("team").order_by("title", "id")
