"""Assignment routing: which agent a ticket goes to, first-contact ownership, escalation paths.

When routing runs
    `assignment_after_change` is called by tickets.services.reactions once per outermost ticket
    change, after the triggers. A ticket needs an agent when it is unassigned, unsolved, not merged
    and its team routes (`Team.routing_strategy` is not manual); routing then picks one when the
    ticket was created, moved to another team, or became unassigned. The agent who was just taken
    off the ticket is not picked again. A chat ticket is left to live chat's own routing while its
    chat is live (the chat is offered to an agent, who gets the ticket on accepting). Tickets that
    found nobody (nobody online with room, or every candidate busy being routed to at that moment)
    wait for `tickets_assign_waiting` (a task, every minute).

Who may be picked
    Active staff members of the ticket's team whose presence (channels_intake.chat.presence) is
    online (away and offline agents are skipped) and whose open tickets (unsolved, assigned to
    them) are fewer than their `AgentProfile.capacity` (25 without a profile).

Strategies (the order in which candidates are tried)
    round_robin    members in id order, taking turns: the first one after the team's
                   `TeamRoutingState.last_assigned_user`, wrapping around.
    load_balanced  fewest open tickets first (then id).
    skill_based    best skill match first, then fewest open tickets, then id. The match:
                   the ticket's needs are its tags, its custom fields written "key:value" (a
                   checkbox as "key:true"/"key:false", empty values left out) and the requester's
                   language. An agent offers their `AgentProfile.skills` and `.languages`. Needs
                   and skills are compared case-insensitively as whole strings; a language matches
                   on its primary subtag ("pt-BR" ~ "pt"). Only needs that some member of the team
                   (online or not) offers count, so a tag nobody could match never ranks agents.
                   An agent's score is the number of counted needs they offer; agents who match
                   nothing still come after the others, so a ticket is not left waiting while an
                   agent has room.

Concurrency
    Two tickets routed at once must never both put an agent over capacity. The candidates'
    `AgentProfile` rows are locked one at a time in preference order with
    SELECT … FOR UPDATE SKIP LOCKED, and the agent's open tickets are counted again under the lock
    (a new statement, so it sees every earlier routing to them, which committed before releasing
    the lock). An agent being routed to by another transaction is skipped rather than waited for, so
    routings never wait on each other in a cycle; a ticket that finds everyone busy waits for the
    task. Round-robin also locks the team's `TeamRoutingState` (FOR UPDATE, waiting) so concurrent
    tickets take turns. A member without a profile gets one with the defaults the first time
    routing considers them, so there is a row to lock.

First-contact ownership (`Team.first_contact_ownership`)
    The agent who first replies publicly to an unassigned ticket becomes its assignee. When the
    customer writes again the assignee stays, unless they are not online and were last online
    (`presence_last_online`) longer than `Team.ownership_away_minutes` ago (or not within a month):
    the ticket is then routed by the team's strategy among the others, or unassigned when nobody
    can take it or the team routes manually (it shows in the team's unassigned queue).

Failures
    Routing runs inside the change's transaction; a failure is logged and rolled back to a
    savepoint, never failing the change that started it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets import events
from tickets.models import (
    STAFF_ROLES,
    UNSOLVED_STATUSES,
    ActorKind,
    AgentProfile,
    Channel,
    Message,
    RoutingStrategy,
    Status,
    Team,
    TeamRoutingState,
    Ticket,
    TriggerEvent,
    User,
)
from tickets.services.common import SLA_FIELDS, emit_ticket_event, lock_ticket, sync_sla, via_for
from tickets.services.ticket_fields import ticket_update

if TYPE_CHECKING:
    from tickets.services.reactions import ChangeContext

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = AgentProfile._meta.get_field("capacity").default
ROUTING_VIA = "routing"
OWNERSHIP_VIA = "ownership"
# Tickets of one team assigned per transaction by the waiting-tickets task.
WAITING_BATCH = 50
# The fields copied back onto the caller's ticket after routing changed it (see `_refresh_caller`).
ROUTED_FIELDS = ("assignee_id", "status", "status_changed_at", "updated_at", "team_id", "escalation_level")


@dataclass(frozen=True)
class Candidate:
    user_id: int
    load: int  # open (unsolved) tickets assigned to them
    capacity: int
    score: int = 0  # skill match (skill_based only)
    has_profile: bool = True


# --- the hook --------------------------------------------------------------------------------------


def assignment_after_change(*, ticket: Ticket, context: ChangeContext) -> None:
    """React to a ticket change (after the triggers): route a ticket that needs an agent, apply
    first-contact ownership. Never raises: a failure is logged and undone to a savepoint."""
    became_unassigned = "assignee" in context.changes and context.changes["assignee"] is None
    replied = context.event in (TriggerEvent.AGENT_REPLIED, TriggerEvent.CUSTOMER_REPLIED)
    if not (context.event == TriggerEvent.CREATED or "team" in context.changes or became_unassigned or replied):
        return  # most changes: no query at all
    team = _routing_team(ticket, context)
    if team is None:
        return
    # Replies matter only under first-contact ownership; the other changes only when the team routes.
    concerned = team.first_contact_ownership if replied else team.routing_strategy != RoutingStrategy.MANUAL
    if not concerned:
        return
    try:
        with transaction.atomic():
            current = _react(ticket=ticket, context=context, became_unassigned=became_unassigned)
    except Exception:
        logger.exception("assignment routing failed for ticket %s (%s)", ticket.pk, context.event)
        return
    if current is not None:
        _refresh_caller(ticket, current)


def _routing_team(ticket: Ticket, context: ChangeContext) -> Team | None:
    """The ticket's team as of this change (a trigger may have moved it), without a query when the
    caller's instance has it loaded."""
    team_id = context.changes.get("team", ticket.team_id)
    if team_id is None:
        return None
    if Ticket.team.is_cached(ticket) and ticket.team is not None and ticket.team.pk == team_id:
        return ticket.team
    return Team.objects.filter(pk=team_id).first()


def _react(*, ticket: Ticket, context: ChangeContext, became_unassigned: bool) -> Ticket | None:
    # The caller's instance may be a step behind (the triggers change the ticket through services
    # that re-read it); the row is already locked by this transaction.
    current = lock_ticket(ticket)
    team = current.team
    if team is None or current.merged_into_id is not None or current.status not in UNSOLVED_STATUSES:
        return None
    if context.event == TriggerEvent.AGENT_REPLIED:
        return _take_ownership(ticket=current, message_id=context.message_id) if team.first_contact_ownership else None
    if context.event == TriggerEvent.CUSTOMER_REPLIED:
        return _owner_check(ticket=current, team=team) if team.first_contact_ownership else None
    if not _needs_agent(current, is_new=context.event == TriggerEvent.CREATED):
        return None
    exclude: set[int] = set()
    if became_unassigned:
        # Whoever was just taken off the ticket (or gave it up) is not handed it straight back.
        exclude = {user_id for user_id in [_last_unassigned_user_id(current)] if user_id is not None}
    chosen = _pick_agent(ticket=current, team=team, exclude_user_ids=exclude)
    if chosen is None:
        return None
    return _assign(ticket=current, user=chosen, via=ROUTING_VIA, actor_kind=ActorKind.SYSTEM)


def _refresh_caller(ticket: Ticket, current: Ticket) -> None:
    """Let the service that started the change return the ticket as routing left it."""
    for field in ROUTED_FIELDS:
        setattr(ticket, field, getattr(current, field))
    if Ticket.assignee.is_cached(current):
        ticket.assignee = current.assignee
    if Ticket.team.is_cached(current):
        ticket.team = current.team


def _needs_agent(ticket: Ticket, *, is_new: bool = False) -> bool:
    team = ticket.team
    if ticket.assignee_id is not None or team is None or team.routing_strategy == RoutingStrategy.MANUAL:
        return False
    if ticket.status not in UNSOLVED_STATUSES or ticket.merged_into_id is not None:
        return False
    if ticket.channel == Channel.CHAT:
        # A new chat's Chat row is written after its ticket: live chat routes it.
        return not is_new and not _chat_is_live(ticket.pk)
    return True


def _live_chat_states() -> list[str]:
    from channels_intake.chat.models import ChatState

    return [ChatState.DEFLECTING, ChatState.QUEUED, ChatState.OFFERED, ChatState.ACTIVE]


def _chat_is_live(ticket_id: int) -> bool:
    from channels_intake.chat.models import Chat

    return Chat.objects.filter(ticket_id=ticket_id, state__in=_live_chat_states()).exists()


def _last_unassigned_user_id(ticket: Ticket) -> int | None:
    """Who was just taken off the ticket (the latest assignee change's old value)."""
    from tickets.models import Event

    previous = (
        Event.objects.filter(ticket=ticket, kind="assignee_changed").order_by("-id")
        .values_list("from_value", flat=True).first()
    )
    return previous if isinstance(previous, int) else None


def _assign(*, ticket: Ticket, user: User | None, via: str, actor_kind: str) -> Ticket:
    return ticket_update(ticket=ticket, actor=None, assignee=user, via=via, actor_kind=actor_kind)


# --- picking an agent ------------------------------------------------------------------------------


def _open_loads(user_ids: list[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    return dict(
        Ticket.objects.filter(assignee_id__in=user_ids, status__in=UNSOLVED_STATUSES)
        .values("assignee_id").annotate(count=Count("pk")).values_list("assignee_id", "count")
    )


def _team_members(team: Team) -> list[dict[str, Any]]:
    rows: Any = (
        User.objects.filter(team_memberships__team=team, is_active=True, role__in=STAFF_ROLES)
        .values("pk", "agent_profile__capacity", "agent_profile__skills", "agent_profile__languages")
        .order_by("pk")
    )
    return list(rows)


def _language(code: str | None) -> str:
    return (code or "").strip().lower().replace("_", "-").split("-")[0]


def ticket_needs(ticket: Ticket) -> set[str]:
    """What a ticket asks of an agent, lower-cased: tags, "key:value" custom fields and
    "language:<primary subtag>" for the requester's language (see the module docstring)."""
    needs = {str(tag).strip().lower() for tag in ticket.tags or [] if str(tag).strip()}
    for key, value in (ticket.custom_fields or {}).items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        needs.add(f"{key}:{value}".strip().lower())
    language = _language(getattr(ticket.requester, "language", ""))
    if language:
        needs.add(f"language:{language}")
    return needs


def _offers(member: dict[str, Any]) -> set[str]:
    skills = {str(skill).strip().lower() for skill in member["agent_profile__skills"] or []}
    languages = {f"language:{_language(code)}" for code in member["agent_profile__languages"] or [] if _language(code)}
    return skills | languages


def _candidates(
    *, ticket: Ticket, team: Team, exclude_user_ids: set[int] | frozenset[int] = frozenset(),
) -> list[Candidate]:
    """Online members of the team with room, in the order the team's strategy tries them."""
    from channels_intake.chat import presence

    team_members = _team_members(team)
    members = [member for member in team_members if member["pk"] not in exclude_user_ids]
    if not members:
        return []
    statuses = presence.presence_read_many(member["pk"] for member in members)
    online = [member for member in members if statuses.get(member["pk"]) == presence.ONLINE]
    if not online:
        return []
    loads = _open_loads([member["pk"] for member in online])
    strategy = team.routing_strategy
    scores: dict[int, int] = {}
    if strategy == RoutingStrategy.SKILL_BASED:
        # Needs nobody in the team offers would only add noise: every agent misses them alike.
        team_offers = set().union(*(_offers(member) for member in team_members))
        needs = ticket_needs(ticket) & team_offers
        scores = {member["pk"]: len(needs & _offers(member)) for member in online}
    candidates = []
    for member in online:
        capacity = member["agent_profile__capacity"]
        capacity = DEFAULT_CAPACITY if capacity is None else capacity
        load = loads.get(member["pk"], 0)
        if load < capacity:
            candidates.append(Candidate(user_id=member["pk"], load=load, capacity=capacity,
                                        score=scores.get(member["pk"], 0),
                                        has_profile=member["agent_profile__capacity"] is not None))
    if strategy == RoutingStrategy.LOAD_BALANCED:
        return sorted(candidates, key=lambda candidate: (candidate.load, candidate.user_id))
    if strategy == RoutingStrategy.SKILL_BASED:
        return sorted(candidates, key=lambda candidate: (-candidate.score, candidate.load, candidate.user_id))
    return candidates  # round-robin: in id order; `_pick_agent` rotates them after the last one's turn


def _pick_agent(*, ticket: Ticket, team: Team, exclude_user_ids: set[int] | frozenset[int] = frozenset()) -> User | None:
    """The agent the team's strategy gives the ticket to, with their profile row locked until the
    transaction ends; None when nobody online has room (or every candidate is being routed to)."""
    if team.routing_strategy == RoutingStrategy.MANUAL:
        return None
    state = None
    if team.routing_strategy == RoutingStrategy.ROUND_ROBIN:
        # Taken before the candidates are read, so concurrent tickets of the team see each other's turns.
        state = TeamRoutingState.objects.select_for_update().filter(team=team).first()
        if state is None:
            TeamRoutingState.objects.bulk_create([TeamRoutingState(team=team)], ignore_conflicts=True)
            state = TeamRoutingState.objects.select_for_update().get(team=team)
    candidates = _candidates(ticket=ticket, team=team, exclude_user_ids=exclude_user_ids)
    if state is not None and state.last_assigned_user_id is not None:
        last = state.last_assigned_user_id
        candidates = [c for c in candidates if c.user_id > last] + [c for c in candidates if c.user_id <= last]
    chosen = _claim(candidates)
    if chosen is None:
        return None
    if state is not None:
        state.last_assigned_user_id = chosen
        state.last_assigned_at = timezone.now()
        state.save(update_fields=["last_assigned_user", "last_assigned_at"])
    return User.objects.get(pk=chosen)


def _claim(candidates: list[Candidate]) -> int | None:
    """The first candidate whose profile row this transaction can lock and who still has room
    counted under that lock."""
    if not candidates:
        return None
    missing = sorted(candidate.user_id for candidate in candidates if not candidate.has_profile)
    if missing:
        AgentProfile.objects.bulk_create([AgentProfile(user_id=user_id) for user_id in missing], ignore_conflicts=True)
    for candidate in candidates:
        capacity = (
            AgentProfile.objects.select_for_update(skip_locked=True).filter(user_id=candidate.user_id)
            .values_list("capacity", flat=True).first()
        )
        if capacity is None:
            continue  # being routed to by another transaction: not waited for
        load = Ticket.objects.filter(assignee_id=candidate.user_id, status__in=UNSOLVED_STATUSES).count()
        if load < capacity:
            return candidate.user_id
    return None


# --- first-contact ownership -----------------------------------------------------------------------


def _take_ownership(*, ticket: Ticket, message_id: int | None) -> Ticket | None:
    if ticket.assignee_id is not None or message_id is None:
        return None
    author_id = Message.objects.filter(pk=message_id, ticket=ticket).values_list("author_user_id", flat=True).first()
    if author_id is None:
        return None
    author = User.objects.get(pk=author_id)
    if not permissions.can_hold(ticket, author):
        return None
    return _assign(ticket=ticket, user=author, via=OWNERSHIP_VIA, actor_kind=ActorKind.SYSTEM)


def owner_is_away_too_long(*, user_id: int, team: Team, now: datetime | None = None) -> bool:
    """Whether the owner is not online and was last online more than the team's
    `ownership_away_minutes` ago (or not within the last-online record's month)."""
    from channels_intake.chat import presence

    if presence.presence_read(user_id=user_id) == presence.ONLINE:
        return False
    last_online = presence.presence_last_online(user_id=user_id)
    if last_online is None:
        return True
    now = now or timezone.now()
    return now - last_online > timedelta(minutes=team.ownership_away_minutes)


def _owner_check(*, ticket: Ticket, team: Team) -> Ticket | None:
    owner_id = ticket.assignee_id
    if owner_id is None or not owner_is_away_too_long(user_id=owner_id, team=team):
        return None
    replacement = _pick_agent(ticket=ticket, team=team, exclude_user_ids={owner_id})
    return _assign(ticket=ticket, user=replacement, via=OWNERSHIP_VIA, actor_kind=ActorKind.SYSTEM)


# --- the rules' action, the task -------------------------------------------------------------------


def _system_actor_kind(via: str) -> str:
    return ActorKind.AUTOMATION if via.startswith("rule:") else ActorKind.SYSTEM


def ticket_assign_by_routing(*, ticket: Ticket, via: str | None = None) -> User | None:
    """Assign the ticket now by its team's strategy (the rules' "assign: routing"), whoever holds
    it; returns the agent, or None when the ticket is solved or merged, its team routes manually
    (or it has none), or nobody online has room."""
    via = via or ROUTING_VIA
    with transaction.atomic():
        current = lock_ticket(ticket)
        team = current.team
        if team is None or current.status not in UNSOLVED_STATUSES or current.merged_into_id is not None:
            return None
        chosen = _pick_agent(ticket=current, team=team)
        if chosen is None:
            return None
        if chosen.pk != current.assignee_id:
            current = _assign(ticket=current, user=chosen, via=via, actor_kind=_system_actor_kind(via))
    _refresh_caller(ticket, current)
    return chosen


def waiting_tickets(team: Team) -> QuerySet[Ticket]:
    """The team's tickets that wait for routing: unassigned, unsolved, unmerged, no live chat."""
    from channels_intake.chat.models import Chat

    live_chat = Chat.objects.filter(ticket_id=OuterRef("pk"), state__in=_live_chat_states())
    return (
        Ticket.objects.filter(team=team, assignee__isnull=True, status__in=UNSOLVED_STATUSES, merged_into__isnull=True)
        .filter(~Q(channel=Channel.CHAT) | ~Exists(live_chat))
    )


def tickets_assign_waiting(*, batch_size: int = WAITING_BATCH) -> int:
    """Give waiting tickets of routed teams an agent, oldest first, while someone online has room;
    returns how many were assigned. Safe on several workers at once (tickets taken with SKIP LOCKED,
    each team in its own transactions)."""
    assigned = 0
    for team in Team.objects.exclude(routing_strategy=RoutingStrategy.MANUAL).order_by("pk"):
        assigned += _assign_waiting_of_team(team=team, batch_size=batch_size)
    return assigned


def _assign_waiting_of_team(*, team: Team, batch_size: int) -> int:
    assigned = 0
    while True:
        with transaction.atomic():
            batch = list(
                waiting_tickets(team).select_for_update(skip_locked=True, of=("self",))
                .select_related("team", "requester").order_by("created_at", "pk")[:batch_size]
            )
            room_left = True
            for ticket in batch:
                try:
                    with transaction.atomic():
                        chosen = _pick_agent(ticket=ticket, team=team)
                        if chosen is not None:
                            _assign(ticket=ticket, user=chosen, via=ROUTING_VIA, actor_kind=ActorKind.SYSTEM)
                except Exception:
                    logger.exception("routing waiting ticket %s failed", ticket.pk)
                    continue
                if chosen is None:
                    # Nobody online has room now: the later tickets would find nobody either.
                    room_left = False
                    break
                assigned += 1
        if not room_left or len(batch) < batch_size:
            return assigned


# --- escalation ------------------------------------------------------------------------------------


def ticket_escalate(*, ticket: Ticket, actor: User | None, via: str | None = None) -> Ticket:
    """Move the ticket to its team's next escalation level (`Team.escalates_to`): one level up,
    an `escalated` event, the assignee kept only if they belong to the new team, then the new team's
    routing (in the change's reactions). actor=None is a rule or the system.

    Raises PermissionDenied unless the actor may work the ticket and move it, ValidationError when
    the team has no next level or the ticket is closed or merged.
    """
    via = via_for(actor, via)
    actor_kind = None if actor is not None else _system_actor_kind(via)

    def allowed(candidate: Ticket) -> bool:
        return actor is None or (permissions.can_work_ticket(actor, candidate)
                                 and permissions.can_move_to_team(actor, candidate))

    if not allowed(ticket):
        raise PermissionDenied(_("You cannot escalate this ticket."))
    with transaction.atomic():
        locked = lock_ticket(ticket)
        if not allowed(locked):
            raise PermissionDenied(_("You cannot escalate this ticket."))
        if locked.status == Status.CLOSED or locked.merged_into_id is not None:
            raise ValidationError(_("A closed or merged ticket cannot be escalated."), code="closed")
        from_team = locked.team
        to_team = from_team.escalates_to if from_team is not None else None
        if from_team is None or to_team is None:
            raise ValidationError(
                _("This ticket's team has no next escalation level: set one in the team's settings."),
                code="no_escalation",
            )
        previous_team_id, previous_assignee_id = locked.team_id, locked.assignee_id
        locked.escalation_level += 1
        locked.team = to_team
        fields = ["escalation_level", "team"]
        changes: dict[str, Any] = {"escalation_level": locked.escalation_level, "team": to_team.pk}
        events.ticket_escalated(ticket=locked, actor=actor, via=via, from_team=from_team, to_team=to_team,
                                level=locked.escalation_level, actor_kind=actor_kind)
        events.field_changed(ticket=locked, actor=actor, via=via, field="team", from_value=from_team.pk,
                             to_value=to_team.pk, actor_kind=actor_kind)
        if locked.assignee is not None and not permissions.can_hold(locked, locked.assignee):
            # An assignee outside the new team would hold a ticket they can no longer see.
            events.field_changed(ticket=locked, actor=actor, via=via, field="assignee",
                                 from_value=locked.assignee_id, to_value=None, actor_kind=actor_kind)
            locked.assignee = None
            fields.append("assignee")
            changes["assignee"] = None
        locked.save(update_fields=sorted({*fields, "updated_at"}))
        if SLA_FIELDS.intersection(fields):
            sync_sla(locked, reason="updated")
        # The reactions route the ticket by the new team's strategy (the team changed).
        emit_ticket_event(locked, "ticket.updated", changes=changes, previous_team_id=previous_team_id,
                          previous_assignee_id=previous_assignee_id)
    return locked
