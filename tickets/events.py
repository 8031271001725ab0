"""One function per audit event type. Services call these inside their transaction.

Recording an event is also where agents' email notifications start (tickets.notifications): the
few kinds that call for one queue a task on commit, so every service path notifies the same way.
"""

from __future__ import annotations

from typing import Any

from tickets import notifications
from tickets.models import ActorKind, Event, Ticket, User


def actor_kind_of(actor: User | None, *, default: str = ActorKind.SYSTEM) -> str:
    if actor is None:
        return default
    return ActorKind.AGENT if actor.is_staff_member else ActorKind.CUSTOMER


def _record(
    *, ticket: Ticket, kind: str, actor: User | None, via: str, field: str = "",
    from_value: Any = None, to_value: Any = None, actor_kind: str | None = None,
) -> Event:
    event = Event.objects.create(
        ticket=ticket,
        kind=kind,
        actor_kind=actor_kind or actor_kind_of(actor),
        actor_user=actor,
        via=via,
        field=field,
        from_value=from_value,
        to_value=to_value,
    )
    notifications.notify_after_commit(event)
    return event


def ticket_created(*, ticket: Ticket, actor: User | None, via: str, actor_kind: str | None = None) -> Event:
    return _record(
        ticket=ticket, kind="created", actor=actor, via=via, actor_kind=actor_kind,
        to_value={"status": ticket.status, "priority": ticket.priority, "team": ticket.team_id,
                  "channel": ticket.channel},
    )


def field_changed(
    *, ticket: Ticket, actor: User | None, via: str, field: str, from_value: Any, to_value: Any,
    actor_kind: str | None = None,
) -> Event:
    return _record(
        ticket=ticket, kind=f"{field}_changed", actor=actor, via=via, field=field,
        from_value=from_value, to_value=to_value, actor_kind=actor_kind,
    )


def message_added(
    *, ticket: Ticket, actor: User | None, via: str, message_id: int, visibility: str, actor_kind: str | None = None
) -> Event:
    kind = "note_added" if visibility == "internal" else "reply_added"
    return _record(ticket=ticket, kind=kind, actor=actor, via=via, to_value={"message": message_id},
                   actor_kind=actor_kind)


def ticket_reopened(*, ticket: Ticket, actor: User | None, via: str, actor_kind: str | None = None) -> Event:
    return _record(ticket=ticket, kind="reopened", actor=actor, via=via, to_value={"reopen_count": ticket.reopen_count},
                   actor_kind=actor_kind)


def ticket_merged(*, source: Ticket, target: Ticket, actor: User | None, via: str) -> tuple[Event, Event]:
    return (
        _record(ticket=source, kind="merged_into", actor=actor, via=via, to_value={"ticket": target.number}),
        _record(ticket=target, kind="merged_from", actor=actor, via=via, to_value={"ticket": source.number}),
    )


def follow_up_created(*, ticket: Ticket, closed_ticket: Ticket, actor: User | None, via: str,
                      actor_kind: str | None = None) -> Event:
    return _record(ticket=ticket, kind="follow_up_of", actor=actor, via=via, to_value={"ticket": closed_ticket.number},
                   actor_kind=actor_kind)


def side_conversation_changed(
    *, ticket: Ticket, kind: str, actor: User | None, via: str, conversation_id: int, subject: str,
    participants: list[str] | None = None, sender: str = "",
) -> Event:
    """A side conversation (tickets.collaboration.side_conversations) was started, written in,
    answered by a participant (`side_conversation_reply`, actor None), closed or reopened. Events
    are agents-only; the message itself stays with the conversation."""
    to_value: dict[str, Any] = {"conversation": conversation_id, "subject": subject}
    if participants is not None:
        to_value["participants"] = participants
    if sender:
        to_value["from"] = sender
    return _record(ticket=ticket, kind=kind, actor=actor, via=via, to_value=to_value,
                   actor_kind=None if actor is not None else ActorKind.SYSTEM)
