"""Reads of tickets.collaboration, scoped to what the caller may see: a linked ticket the caller may
not open is left out of their lists (not shown as a number either)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from helpdesk import permissions
from tickets.models import ALL_TICKET_ROLES, STAFF_ROLES, LinkKind, Ticket, TicketFollower, TicketLink, User

# How many names the @-autocomplete offers at most.
MENTION_CANDIDATES_LIMIT = 200


def ticket_followers(*, ticket: Ticket) -> list[User]:
    """The ticket's followers, by name (whoever may open the ticket may see who follows it)."""
    return list(
        User.objects.filter(followed_tickets__ticket_id=ticket.pk)
        .only("username", "display_name", "first_name", "last_name", "email", "is_active")
        .order_by("display_name", "username")
    )


def is_following(*, user: User, ticket: Ticket) -> bool:
    return TicketFollower.objects.filter(ticket_id=ticket.pk, user_id=user.pk).exists()


def followed_tickets(*, user: User) -> QuerySet[Ticket]:
    """The tickets `user` follows and may still see, most recently updated first."""
    return (
        permissions.visible_tickets(user, Ticket.objects.filter(followers__user_id=user.pk))
        .select_related("requester", "team", "assignee")
        .order_by("-updated_at", "-pk")
    )


@dataclass(frozen=True)
class LinkRow:
    """One link as one of its tickets shows it: what the other ticket is to this one."""

    link: TicketLink
    other: Ticket
    role: str  # "related", "problem" (this ticket is its incident) or "incident" (of this problem)


def ticket_links(*, user: User, ticket: Ticket) -> list[LinkRow]:
    """The links of `ticket` whose other ticket `user` may see, problems first, then related, then incidents."""
    links = (
        TicketLink.objects.filter(Q(source_id=ticket.pk) | Q(target_id=ticket.pk))
        .select_related("source", "target")
        .order_by("pk")
    )
    rows = []
    for link in links:
        is_source = link.source_id == ticket.pk
        other = link.target if is_source else link.source
        role = ("problem" if is_source else "incident") if link.kind == LinkKind.INCIDENT_OF else "related"
        rows.append(LinkRow(link=link, other=other, role=role))
    visible = set(permissions.visible_tickets(user, Ticket.objects.filter(pk__in=[row.other.pk for row in rows]))
                  .values_list("pk", flat=True))
    order = {"problem": 0, "related": 1, "incident": 2}
    return sorted((row for row in rows if row.other.pk in visible), key=lambda row: (order[row.role], row.other.number))


def link_get(*, user: User, ticket: Ticket, link_id: int) -> TicketLink | None:
    """A link of `ticket` (both of whose tickets `user` may see), or None."""
    link = (
        TicketLink.objects.filter(Q(source_id=ticket.pk) | Q(target_id=ticket.pk), pk=link_id)
        .select_related("source", "target", "source__team", "target__team").first()
    )
    if link is None or not (permissions.can_view_ticket(user, link.source) and permissions.can_view_ticket(user, link.target)):
        return None
    return link


def problem_incidents(*, user: User, problem: Ticket) -> list[Ticket]:
    """The incidents of a problem ticket that `user` may see, oldest first."""
    return list(
        permissions.visible_tickets(user, Ticket.objects.filter(links_out__target_id=problem.pk,
                                                                links_out__kind=LinkKind.INCIDENT_OF))
        .select_related("requester").order_by("pk")
    )


def mention_candidates(*, ticket: Ticket) -> list[User]:
    """Active staff who may see `ticket`, for the @-autocomplete: its team's members and everyone
    who reads every ticket (a ticket without a team: only the latter)."""
    condition = Q(role__in=ALL_TICKET_ROLES) | Q(is_superuser=True)
    if ticket.team_id is not None:
        condition |= Q(team_memberships__team_id=ticket.team_id)
    return list(
        User.objects.filter(condition, is_active=True, role__in=STAFF_ROLES)
        .only("username", "display_name", "first_name", "last_name")
        .distinct().order_by("username")[:MENTION_CANDIDATES_LIMIT]
    )


def team_agents_to_follow(*, ticket: Ticket) -> list[User]:
    """Agents a lead or manager may make followers of `ticket`: its team's active staff."""
    if ticket.team_id is None:
        return []
    return list(
        User.objects.filter(team_memberships__team_id=ticket.team_id, is_active=True, role__in=STAFF_ROLES)
        .exclude(followed_tickets__ticket_id=ticket.pk)
        .only("username", "display_name", "first_name", "last_name")
        .distinct().order_by("display_name", "username")
    )
