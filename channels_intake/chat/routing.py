"""Routing waiting chats to agents: offer, accept, decline, expire.

A queued chat is offered to one agent at a time: the online agent of the chat's team (its ticket's
team) with the fewest active chats and pending offers under their chat capacity. The offer lasts
HELPDESK_CHAT_OFFER_SECONDS (30); declined or expired, the chat goes to the next agent. With nobody
available the chat stays queued and is offered when an agent comes online or frees capacity (and
by the expiry sweep, every few seconds, which also catches any such moment that was missed).

Row locks with SKIP LOCKED: two processes routing at once never offer one chat twice (and the
partial unique index on pending offers would refuse it anyway). An advisory lock per agent, taken
before an offer to them, with their load counted again under it: two processes routing two chats at
once never give one agent more chats than their capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_intake.chat import events, presence
from channels_intake.chat.models import (
    WAITING_CHAT_STATES,
    Chat,
    ChatOffer,
    ChatOfferState,
    ChatState,
)
from helpdesk import permissions
from tickets.models import STAFF_ROLES, ActorKind, AgentProfile, Role, User
from tickets.services import ticket_update

DEFAULT_OFFER_SECONDS = 30
# A sweep or a freed seat offers at most this many waiting chats of a team at once.
ROUTE_BATCH = 20
DEFAULT_CHAT_CAPACITY = AgentProfile._meta.get_field("chat_capacity").default
# Used for the wait estimate until the team has accepted chats recently.
DEFAULT_WAIT_SECONDS = 60
# Waiting visitors told their new place when the queue moves (the rest learn it when they get there).
POSITION_UPDATES = 50
# The first key of the agents' routing advisory locks (the second is the user id): "chat" in ASCII.
AGENT_LOCK_NAMESPACE = 0x63686174


class ChatUnavailable(ValidationError):
    """The chat is no longer waiting (someone took it, or it ended)."""


def offer_seconds() -> float:
    return float(getattr(settings, "HELPDESK_CHAT_OFFER_SECONDS", DEFAULT_OFFER_SECONDS))


@dataclass(frozen=True)
class AgentLoad:
    user_id: int
    load: int  # active chats plus pending offers
    capacity: int


def available_agents(*, team_id: int | None, exclude_user_ids: frozenset[int] = frozenset()) -> list[AgentLoad]:
    """Online agents of the team with room for one more chat, least loaded first (3 queries + 1 Redis)."""
    if team_id is None:
        return []
    members = dict(
        User.objects.filter(team_memberships__team_id=team_id, is_active=True, role__in=STAFF_ROLES)
        .exclude(pk__in=exclude_user_ids)
        .values_list("pk", "agent_profile__chat_capacity")
    )
    statuses = presence.presence_read_many(members)
    online = [user_id for user_id, status in statuses.items() if status == presence.ONLINE]
    if not online:
        return []
    active = dict(
        Chat.objects.filter(agent_id__in=online, state=ChatState.ACTIVE)
        .values("agent_id").annotate(count=Count("pk")).values_list("agent_id", "count")
    )
    pending = dict(
        ChatOffer.objects.filter(agent_id__in=online, state=ChatOfferState.PENDING)
        .values("agent_id").annotate(count=Count("pk")).values_list("agent_id", "count")
    )
    loads = []
    for user_id in online:
        capacity = members[user_id] if members[user_id] is not None else DEFAULT_CHAT_CAPACITY
        load = active.get(user_id, 0) + pending.get(user_id, 0)
        if load < capacity:
            loads.append(AgentLoad(user_id=user_id, load=load, capacity=capacity))
    return sorted(loads, key=lambda agent: (agent.load, agent.user_id))


def waiting_count(*, team_id: int | None) -> int:
    return Chat.objects.filter(state__in=WAITING_CHAT_STATES, ticket__team_id=team_id).count()


def average_wait_seconds(*, team_id: int | None, now: datetime | None = None) -> float:
    """The team's average wait (queued to accepted) over its last 20 chats accepted within a day."""
    now = now or timezone.now()
    recent = list(
        Chat.objects.filter(ticket__team_id=team_id, accepted_at__gte=now - timedelta(days=1), queued_at__isnull=False)
        .order_by("-accepted_at").values_list("queued_at", "accepted_at")[:20]
    )
    if not recent:
        return DEFAULT_WAIT_SECONDS
    return max(5.0, sum((accepted - queued).total_seconds() for queued, accepted in recent) / len(recent))


def chat_queue_position(*, chat: Chat, now: datetime | None = None) -> tuple[int, int]:
    """(place in the team's queue from 1, estimated wait in seconds); (0, 0) once it is not waiting.

    The estimate is the place times the team's average wait (`average_wait_seconds`).
    """
    if chat.state not in WAITING_CHAT_STATES or chat.queued_at is None:
        return 0, 0
    team_id = chat.ticket.team_id
    ahead = Chat.objects.filter(
        state__in=WAITING_CHAT_STATES, ticket__team_id=team_id, queued_at__lt=chat.queued_at
    ).count()
    position = ahead + 1
    return position, int(round(average_wait_seconds(team_id=team_id, now=now) * position))


def queue_positions_after_commit(*, team_id: int | None) -> None:
    """The queue moved: tell the waiting visitors of the team their new place, once committed."""

    def send() -> None:
        from helpdesk import realtime

        waiting = list(
            Chat.objects.filter(state__in=WAITING_CHAT_STATES, ticket__team_id=team_id)
            .select_related("agent").order_by("queued_at", "pk")[:POSITION_UPDATES]
        )
        if not waiting:
            return
        average = average_wait_seconds(team_id=team_id)
        realtime.send_many([
            ([realtime.chat_group(chat.pk)],
             events.state_payload(chat=chat, position=place, estimated_wait=int(round(average * place))))
            for place, chat in enumerate(waiting, start=1)
        ])

    transaction.on_commit(send, robust=True)


def chat_offer_next(*, chat: Chat, now: datetime | None = None, to_agent: User | None = None) -> ChatOffer | None:
    """Offer a queued chat to the next agent; None when it is not queued, is being routed by another
    process, or nobody can take it now (it stays queued).

    Agents who declined this chat are not asked again; those who let its offer expire come last:
    once every available agent has had it, it goes round again, the one offered longest ago first.
    to_agent: offer it to this agent only (a transfer), if they are online with room.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            Chat.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("ticket", "widget")
            .filter(pk=chat.pk, state=ChatState.QUEUED)
            .first()
        )
        if locked is None:
            return None
        candidates = available_agents(team_id=locked.ticket.team_id)
        if to_agent is not None:
            candidates = [agent for agent in candidates if agent.user_id == to_agent.pk]
        if not candidates:
            return None
        history = list(
            ChatOffer.objects.filter(chat=locked).values("agent_id", "state").annotate(last=Max("offered_at"))
            .values_list("agent_id", "state", "last")
        )
        declined = {agent_id for agent_id, state, _last in history if state == ChatOfferState.DECLINED}
        candidates = [agent for agent in candidates if agent.user_id not in declined]
        if not candidates:
            return None
        offered_before: dict[int, datetime] = {}
        for agent_id, _state, last in history:
            offered_before[agent_id] = max(last, offered_before.get(agent_id, last))
        fresh = [agent for agent in candidates if agent.user_id not in offered_before]
        again = sorted(
            (agent for agent in candidates if agent.user_id in offered_before),
            key=lambda agent: (offered_before[agent.user_id], agent.load, agent.user_id),
        )
        chosen = _claim_seat([*fresh, *again])
        if chosen is None:
            return None
        offer = ChatOffer.objects.create(
            chat=locked, agent_id=chosen.user_id, offered_at=now, expires_at=now + timedelta(seconds=offer_seconds()),
        )
        locked.state = ChatState.OFFERED
        locked.save(update_fields=["state"])
        events.offered_after_commit(offer=offer, question=locked.ticket.subject)
        events.state_after_commit(chat=locked)
    chat.state = locked.state
    return offer


def _claim_seat(candidates: list[AgentLoad]) -> AgentLoad | None:
    """The first candidate who still has room once nobody else can give them a chat meanwhile.

    The chat's row lock does not stop two processes routing two *different* chats from counting
    the same agent's load at once and both offering to them, past their capacity. So the agent is
    locked (a transaction-level advisory lock per agent) and their load counted again under the lock:
    a concurrent offer to them has then committed and counts. Only the first candidate is waited
    for; the others are tried without waiting (one being routed to elsewhere is skipped this
    round), so two routings never wait for each other in a cycle.
    """
    for index, agent in enumerate(candidates):
        if not _lock_agent(agent.user_id, wait=index == 0):
            continue
        load = (
            Chat.objects.filter(agent_id=agent.user_id, state=ChatState.ACTIVE).count()
            + ChatOffer.objects.filter(agent_id=agent.user_id, state=ChatOfferState.PENDING).count()
        )
        if load < agent.capacity:
            return agent
    return None


def _lock_agent(user_id: int, *, wait: bool) -> bool:
    """Take the agent's routing lock until the transaction ends; False if `wait` is off and it is held."""
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [AGENT_LOCK_NAMESPACE, user_id])
        row = cursor.fetchone()
    return wait or bool(row and row[0])


def chats_route_team(*, team_id: int | None, now: datetime | None = None) -> int:
    """Offer the team's queued chats, oldest first, while agents have room; returns how many were offered."""
    if team_id is None:
        return 0
    offered = 0
    queued = list(
        Chat.objects.filter(state=ChatState.QUEUED, ticket__team_id=team_id).order_by("queued_at", "pk")[:ROUTE_BATCH]
    )
    for chat in queued:
        if chat_offer_next(chat=chat, now=now) is None:
            if not available_agents(team_id=team_id):
                break
            continue
        offered += 1
    return offered


def _withdraw(offer: ChatOffer, *, state: str) -> None:
    offer.state = state
    offer.save(update_fields=["state"])
    events.offer_withdrawn_after_commit(offer=offer)


def chat_accept(*, chat: Chat, agent: User) -> Chat:
    """The agent takes the chat (offered to them, or picked from the team's queue): active, the
    ticket assigned to them. Agents outside the chat's team are refused; so is a chat no longer waiting."""
    with transaction.atomic():
        locked = Chat.objects.select_for_update(of=("self",)).select_related("ticket", "widget").get(pk=chat.pk)
        ticket = locked.ticket
        if not (permissions.can_work_ticket(agent, ticket) and permissions.can_hold(ticket, agent)):
            raise PermissionDenied(_("You cannot take this chat."))
        if locked.state == ChatState.ACTIVE and locked.agent_id == agent.pk:
            return locked
        if locked.state not in WAITING_CHAT_STATES:
            raise ChatUnavailable(_("This chat is no longer waiting."), code="unavailable")
        for offer in ChatOffer.objects.select_for_update().select_related("chat__ticket").filter(
            chat=locked, state=ChatOfferState.PENDING
        ):
            if offer.agent_id == agent.pk:
                offer.state = ChatOfferState.ACCEPTED
                offer.save(update_fields=["state"])
            else:
                _withdraw(offer, state=ChatOfferState.EXPIRED)
        locked.state = ChatState.ACTIVE
        locked.agent = agent
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["state", "agent", "accepted_at"])
        if ticket.assignee_id != agent.pk:
            # A plain agent may not take a ticket off a colleague; the chat was routed to them, so
            # the assignment is the system's then (the audit says so).
            may_assign = ticket.assignee_id is None or agent.role != Role.AGENT
            locked.ticket = ticket_update(
                ticket=ticket, actor=agent if may_assign else None, assignee=agent, via="chat",
                actor_kind=None if may_assign else ActorKind.SYSTEM,
            )
        events.state_after_commit(chat=locked)
        events.queue_after_commit(chat=locked, waiting=waiting_count(team_id=locked.ticket.team_id))
        queue_positions_after_commit(team_id=locked.ticket.team_id)
    return locked


def chat_decline(*, offer: ChatOffer, agent: User | None = None, now: datetime | None = None) -> ChatOffer | None:
    """The agent turns the offer down; the chat goes to the next agent. None if the offer is no longer pending.

    agent: who declines (refused unless it is the agent the offer was made to).
    """
    if agent is not None and offer.agent_id != agent.pk:
        raise PermissionDenied(_("This offer was made to someone else."))
    with transaction.atomic():
        locked = (
            ChatOffer.objects.select_for_update().select_related("chat__ticket")
            .filter(pk=offer.pk, state=ChatOfferState.PENDING).first()
        )
        if locked is None:
            return None
        locked.state = ChatOfferState.DECLINED
        locked.save(update_fields=["state"])
        Chat.objects.filter(pk=locked.chat_id, state=ChatState.OFFERED).update(state=ChatState.QUEUED)
        locked.chat.state = ChatState.QUEUED
        events.state_after_commit(chat=locked.chat)
    chat_offer_next(chat=locked.chat, now=now)
    return locked


def chat_offers_expire(*, now: datetime | None = None, batch_size: int = 100) -> int:
    """Expire the offers past their time and offer those chats to the next agent; then offer any
    queued chat nobody has yet (an agent came online or freed a seat meanwhile). Returns how many expired.

    Safe on several workers at once: offers are taken with SKIP LOCKED.
    """
    now = now or timezone.now()
    expired: list[ChatOffer] = []
    with transaction.atomic():
        due = list(
            ChatOffer.objects.select_for_update(skip_locked=True, of=("self",)).select_related("chat__ticket")
            .filter(state=ChatOfferState.PENDING, expires_at__lte=now).order_by("expires_at")[:batch_size]
        )
        for offer in due:
            _withdraw(offer, state=ChatOfferState.EXPIRED)
            Chat.objects.filter(pk=offer.chat_id, state=ChatState.OFFERED).update(state=ChatState.QUEUED)
            offer.chat.state = ChatState.QUEUED
            events.state_after_commit(chat=offer.chat)
            expired.append(offer)
    for offer in expired:
        chat_offer_next(chat=offer.chat, now=now)
    team_ids = set(
        Chat.objects.filter(state=ChatState.QUEUED).values_list("ticket__team_id", flat=True).distinct()[:50]
    )
    for team_id in team_ids:
        chats_route_team(team_id=team_id, now=now)
    return len(expired)


def agent_offers_withdraw(*, user: User, now: datetime | None = None) -> int:
    """An agent went away or offline: their pending offers go to the next agents."""
    with transaction.atomic():
        pending = list(
            ChatOffer.objects.select_for_update(skip_locked=True, of=("self",)).select_related("chat__ticket")
            .filter(agent=user, state=ChatOfferState.PENDING)
        )
        for offer in pending:
            _withdraw(offer, state=ChatOfferState.EXPIRED)
            Chat.objects.filter(pk=offer.chat_id, state=ChatState.OFFERED).update(state=ChatState.QUEUED)
            offer.chat.state = ChatState.QUEUED
    for offer in pending:
        chat_offer_next(chat=offer.chat, now=now)
    return len(pending)
