"""The one access policy. Every read of tickets goes through `visible_tickets`; every action asks here.

Objects a caller may not see are reported as missing (404), never as forbidden, so that numbers
and ids of other customers' tickets cannot be probed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.http import Http404

from tickets.models import Role, Status, Ticket, Visibility

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tickets.models import Customer, User


def is_staff_member(user: User | AnonymousUser | None) -> bool:
    return bool(user and user.is_authenticated and user.is_staff_member)


def reads_all_tickets(user: User | AnonymousUser | None) -> bool:
    return bool(user and user.is_authenticated and user.reads_all_tickets)


def customer_of(user: User | AnonymousUser | None) -> Customer | None:
    if not user or not user.is_authenticated or user.is_staff_member:
        return None
    return getattr(user, "customer", None)


def team_ids_of(user: User) -> list[int]:
    """Team ids of a staff user, cached on the instance for the length of a request."""
    cached = getattr(user, "_helpdesk_team_ids", None)
    if cached is None:
        cached = list(user.team_memberships.values_list("team_id", flat=True))
        user._helpdesk_team_ids = cached
    return cached


def lead_team_ids_of(user: User) -> list[int]:
    return list(user.team_memberships.filter(is_lead=True).values_list("team_id", flat=True))


def ticket_visibility_filter(user: User | AnonymousUser | None) -> Q | None:
    """The condition a ticket must meet to be visible to `user`; None means every ticket."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if reads_all_tickets(user):
        return None
    if user.is_staff_member:
        # Assignees are always members of the ticket's team (services enforce it), so the team
        # condition alone covers "assigned to me" and keeps the queue indexes usable (no OR).
        return Q(team_id__in=team_ids_of(user))
    customer = customer_of(user)
    if customer is None:
        return Q(pk__in=[])
    condition = Q(requester_id=customer.pk)
    if customer.sees_organization_tickets and customer.organization_id:
        condition |= Q(organization_id=customer.organization_id)
    return condition


def visible_tickets(user: User | AnonymousUser | None, queryset: QuerySet[Ticket] | None = None) -> QuerySet[Ticket]:
    queryset = Ticket.objects.all() if queryset is None else queryset
    condition = ticket_visibility_filter(user)
    return queryset if condition is None else queryset.filter(condition)


def can_view_ticket(user: User | AnonymousUser | None, ticket: Ticket) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if reads_all_tickets(user):
        return True
    if user.is_staff_member:
        return ticket.team_id in team_ids_of(user)
    customer = customer_of(user)
    if customer is None:
        return False
    if ticket.requester_id == customer.pk:
        return True
    return bool(
        customer.sees_organization_tickets
        and customer.organization_id
        and ticket.organization_id == customer.organization_id
    )


def access_ticket_by_number(user: User | AnonymousUser | None, number: int | str, *, for_update: bool = False) -> Ticket:
    """The ticket with this number if `user` may see it; Http404 otherwise (also for bad numbers)."""
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise Http404 from None
    queryset = visible_tickets(user).select_related("requester", "organization", "team", "assignee")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        return queryset.get(number=number)
    except Ticket.DoesNotExist:
        raise Http404 from None


def can_see_internal_notes(user: User | AnonymousUser | None) -> bool:
    return is_staff_member(user)


def visible_message_filter(user: User | AnonymousUser | None) -> Q:
    return Q() if can_see_internal_notes(user) else Q(visibility=Visibility.PUBLIC)


def can_work_ticket(user: User | AnonymousUser | None, ticket: Ticket) -> bool:
    """Reply, add notes and change fields: staff who can see the ticket."""
    return is_staff_member(user) and can_view_ticket(user, ticket)


def can_customer_reply(user: User | AnonymousUser | None, ticket: Ticket) -> bool:
    return customer_of(user) is not None and can_view_ticket(user, ticket) and ticket.status != Status.CLOSED


def can_hold(ticket: Ticket, assignee: User) -> bool:
    """Whether `assignee` may own the ticket at all: active staff in the ticket's team (any actor,
    the system's escalations included, assigns only such a person)."""
    if not assignee.is_active or not assignee.is_staff_member:
        return False
    return not ticket.team_id or assignee.team_memberships.filter(team_id=ticket.team_id).exists()


def can_assign_to(actor: User, ticket: Ticket, assignee: User | None) -> bool:
    """Agents assign within their teams; leads, managers and admins may reassign others' tickets."""
    if not can_work_ticket(actor, ticket):
        return False
    if assignee is None:
        return actor.role != Role.AGENT or ticket.assignee_id in (None, actor.pk)
    if not can_hold(ticket, assignee):
        return False
    if actor.role == Role.AGENT:
        # Plain agents take tickets or hand over unowned ones, they do not take tickets off colleagues.
        return ticket.assignee_id in (None, actor.pk)
    if actor.role == Role.TEAM_LEAD:
        return ticket.team_id in lead_team_ids_of(actor) or ticket.assignee_id in (None, actor.pk)
    return True


def can_move_to_team(actor: User, ticket: Ticket) -> bool:
    return can_work_ticket(actor, ticket)


def can_merge(actor: User, source: Ticket, target: Ticket) -> bool:
    return can_work_ticket(actor, source) and can_work_ticket(actor, target)


def can_manage_views_of_team(actor: User, team_id: int) -> bool:
    return reads_all_tickets(actor) or team_id in lead_team_ids_of(actor)


def is_admin(user: User | AnonymousUser | None) -> bool:
    return bool(user and user.is_authenticated and (user.role == Role.ADMIN or user.is_superuser))


def is_manager_or_admin(user: User | AnonymousUser | None) -> bool:
    return reads_all_tickets(user)
