"""Reads of the phone channel, scoped to who may see them (helpdesk.permissions decides)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from channels_intake.phone.models import Call, CallState
from helpdesk import permissions
from tickets.models import Message, Status, Ticket, User

OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)


def call_visible_to(user: User, call: Call) -> bool:
    """Staff who may take the call: the agent it rings, its team's members, and those who read every ticket."""
    if not permissions.is_staff_member(user) or not user.is_active:
        return False
    if permissions.reads_all_tickets(user) or call.agent_id == user.pk:
        return True
    return call.team_id is not None and call.team_id in permissions.team_ids_of(user)


def call_get(*, user: User, call_id: int) -> Call:
    """The call if `user` may see it, else Http404 (the same answer for "not yours" and "none")."""
    call = Call.objects.select_related("customer", "customer__organization", "agent", "team").filter(pk=call_id).first()
    if call is None or not call_visible_to(user, call):
        raise Http404
    return call


def customer_open_tickets(*, user: User, customer_id: int | None, limit: int = 10) -> list[Ticket]:
    """The caller's open tickets that `user` may see, most recently updated first."""
    if customer_id is None:
        return []
    return list(
        permissions.visible_tickets(user)
        .filter(requester_id=customer_id, status__in=OPEN_STATUSES, merged_into__isnull=True)
        .only("number", "subject", "status", "updated_at")
        .order_by("-updated_at")[:limit]
    )


def calls_attach(messages: Iterable[Message]) -> None:
    """Give each phone message of a thread its call as `phone_call` (None when it has none), in one query."""
    phone_messages = [message for message in messages if message.channel == "phone"]
    if not phone_messages:
        return
    calls = {
        call.message_id: call
        for call in Call.objects.filter(message_id__in=[message.pk for message in phone_messages])
        .select_related("agent")
    }
    for message in phone_messages:
        message.phone_call = calls.get(message.pk)  # type: ignore[attr-defined]


def calls_visible_filter(user: User) -> Q:
    """The calls `call_visible_to` lets `user` see, as a filter."""
    if permissions.reads_all_tickets(user):
        return Q()
    return Q(agent=user) | Q(team_id__in=permissions.team_ids_of(user))


def calls_waiting(*, user: User, limit: int = 3, max_age_minutes: int = 120) -> list[Call]:
    """Calls ringing or in progress that `user` may take and nobody has logged yet, newest first:
    the pop-ups a workspace page shows again after the agent navigated away from them."""
    since = timezone.now() - timedelta(minutes=max_age_minutes)
    return list(
        Call.objects.filter(calls_visible_filter(user), state__in=(CallState.RINGING, CallState.ANSWERED),
                            message__isnull=True, created_at__gte=since)
        .filter(Q(agent=user) | Q(agent__isnull=True))
        .select_related("customer", "customer__organization", "agent", "team")
        .order_by("-created_at")[:limit]
    )
