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


def _event(
    *, ticket: Ticket, kind: str, actor: User | None, via: str, field: str = "",
    from_value: Any = None, to_value: Any = None, actor_kind: str | None = None,
) -> Event:
    return Event(
        ticket=ticket,
        kind=kind,
        actor_kind=actor_kind or actor_kind_of(actor),
        actor_user=actor,
        via=via,
        field=field,
        from_value=from_value,
        to_value=to_value,
    )


def _record(
    *, ticket: Ticket, kind: str, actor: User | None, via: str, field: str = "",
    from_value: Any = None, to_value: Any = None, actor_kind: str | None = None,
) -> Event:
    event = _event(ticket=ticket, kind=kind, actor=actor, via=via, field=field, from_value=from_value,
                   to_value=to_value, actor_kind=actor_kind)
    event.save(force_insert=True)
    notifications.notify_after_commit(event)
    return event


def record_many(unsaved: list[Event]) -> list[Event]:
    """Several events of one change in one statement (in order), each handed to notifications."""
    saved = Event.objects.bulk_create(unsaved)
    for event in saved:
        notifications.notify_after_commit(event)
    return saved


def ticket_created_event(*, ticket: Ticket, actor: User | None, via: str, actor_kind: str | None = None) -> Event:
    """The "created" event, not saved yet (`record_many` writes it with the changes that follow it)."""
    return _event(
        ticket=ticket, kind="created", actor=actor, via=via, actor_kind=actor_kind,
        to_value={"status": ticket.status, "priority": ticket.priority, "team": ticket.team_id,
                  "channel": ticket.channel},
    )


def ticket_created(*, ticket: Ticket, actor: User | None, via: str, actor_kind: str | None = None) -> Event:
    return record_many([ticket_created_event(ticket=ticket, actor=actor, via=via, actor_kind=actor_kind)])[0]


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


# --- collaboration (tickets.collaboration) ---------------------------------------------------------


def ticket_mentioned(*, ticket: Ticket, actor: User, via: str, mentioned: User, message_id: int) -> Event:
    """`actor` @mentioned `mentioned` in an internal note; the mention mail starts here."""
    return _record(ticket=ticket, kind="mentioned", actor=actor, via=via,
                   to_value={"user": mentioned.pk, "name": mentioned.name, "message": message_id})


def follower_changed(*, ticket: Ticket, actor: User, via: str, follower: User, is_following: bool) -> Event:
    kind = "follower_added" if is_following else "follower_removed"
    return _record(ticket=ticket, kind=kind, actor=actor, via=via,
                   to_value={"user": follower.pk, "name": follower.name})


def tickets_linked(*, source: Ticket, target: Ticket, kind: str, actor: User, via: str,
                   is_linked: bool = True) -> tuple[Event, Event]:
    """A link between two tickets made (or removed), recorded on both; `role` says what the other
    ticket is to this one (related, the problem it is an incident of, or one of its incidents)."""
    event_kind = "linked" if is_linked else "unlinked"
    source_role, target_role = ("problem", "incident") if kind == "incident_of" else ("related", "related")
    return (
        _record(ticket=source, kind=event_kind, actor=actor, via=via,
                to_value={"ticket": target.number, "kind": kind, "role": source_role}),
        _record(ticket=target, kind=event_kind, actor=actor, via=via,
                to_value={"ticket": source.number, "kind": kind, "role": target_role}),
    )


def problem_solved_with_incidents(*, problem: Ticket, incidents: list[Ticket], actor: User, via: str) -> list[Event]:
    """The problem's fix was sent to its incidents: one event on the problem, one on each incident."""
    recorded = [_record(ticket=problem, kind="incidents_solved", actor=actor, via=via,
                        to_value={"tickets": [incident.number for incident in incidents]})]
    recorded += [_record(ticket=incident, kind="solved_with_problem", actor=actor, via=via,
                         to_value={"ticket": problem.number}) for incident in incidents]
    return recorded


def ticket_split(*, source: Ticket, target: Ticket, message_count: int, actor: User, via: str) -> tuple[Event, Event]:
    return (
        _record(ticket=source, kind="split_into", actor=actor, via=via,
                to_value={"ticket": target.number, "messages": message_count}),
        _record(ticket=target, kind="split_from", actor=actor, via=via,
                to_value={"ticket": source.number, "messages": message_count}),
    )


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


def rule_run(
    *, ticket: Ticket, rule_id: int, name: str, rule_kind: str, outcome: str = "applied",
    details: dict[str, Any] | None = None,
) -> Event:
    """A trigger or automation fired on the ticket ("rule_applied"), failed ("rule_failed"), or was
    held back by loop protection ("rule_suppressed"); the changes it made have their own events."""
    kind = RULE_EVENT_KINDS[outcome]
    return _record(ticket=ticket, kind=kind, actor=None, via=f"rule:{rule_id}", actor_kind=ActorKind.AUTOMATION,
                   to_value={"rule": rule_id, "name": name, "kind": rule_kind, **(details or {})})


RULE_EVENT_KINDS = {"applied": "rule_applied", "failed": "rule_failed", "suppressed": "rule_suppressed"}


def rules_ran(*, ticket: Ticket, runs: list[dict[str, Any]]) -> list[Event]:
    """`rule_run` for the firings of one trigger pass, in one statement (the engine writes its log
    at the end of the pass: the hot path of every ticket change). Each run: rule_id, name,
    rule_kind, outcome, details. These kinds call for no notification."""
    return Event.objects.bulk_create([
        Event(ticket=ticket, kind=RULE_EVENT_KINDS[run["outcome"]], actor_kind=ActorKind.AUTOMATION, actor_user=None,
              via=f"rule:{run['rule_id']}", to_value={"rule": run["rule_id"], "name": run["name"],
                                                      "kind": run["rule_kind"], **(run.get("details") or {})})
        for run in runs
    ])


# --- assignment (tickets.assignment) ---------------------------------------------------------------


def ticket_escalated(*, ticket: Ticket, actor: User | None, via: str, from_team: Any, to_team: Any, level: int,
                     actor_kind: str | None = None) -> Event:
    """The ticket moved up its escalation path (`from_team` → `to_team`, now at `level`); the names
    are kept so the timeline reads right after a team is renamed or deleted."""
    return _record(
        ticket=ticket, kind="escalated", actor=actor, via=via, actor_kind=actor_kind,
        from_value={"team": from_team.pk, "level": level - 1},
        to_value={"from_team": from_team.pk, "from_team_name": from_team.name, "to_team": to_team.pk,
                  "to_team_name": to_team.name, "level": level},
    )


def macro_applied(*, ticket: Ticket, macro_id: int, title: str, actor: User | None, via: str,
                  actor_kind: str | None = None) -> Event:
    """A macro was applied to the ticket (its field changes are their own events)."""
    return _record(ticket=ticket, kind="macro_applied", actor=actor, via=via[:32], actor_kind=actor_kind,
                   to_value={"macro": macro_id, "title": title})
