"""The phone channel's actions: matching callers, recording call events, logging calls on tickets.

Calls reach tickets through the same `ingest` as every channel (a customer's call is a message of
theirs on channel `phone`); an agent's call logged on an existing ticket is an internal call entry
by that agent. Each call has at most one entry in a thread (`Call.message`): later events and the
agent's notes update the call, not add entries.

Webhook events are idempotent on (provider, call id, event) and may arrive in any order: what a
call becomes depends on the set of events received, not on their order (see `call_event_record`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_intake.base import InboundMessage
from channels_intake.phone.models import (
    FINAL_CALL_STATES,
    AgentExtension,
    Call,
    CallDirection,
    CallDisposition,
    CallEvent,
    CallProvider,
    CallState,
)
from channels_intake.phone.numbers import format_number, normalize_number
from channels_intake.services import ingest
from helpdesk import permissions, realtime
from tickets.customers.services import customer_merge_into  # noqa: F401  (moved; callers use it from here)
from tickets.models import Channel, Customer, Message, Team, TeamMembership, Ticket, User
from tickets.sanitize import text_to_html
from tickets.services import ticket_add_note, ticket_merge, ticket_update
from tickets.services.common import emit_ticket_event
from tickets.services.customers import customer_create
from tickets.services.ticket_create import default_team

CALLBACK_TAG = "callback"
# How a call's entry is known to `ingest` (idempotent on channel + external id).
_EXTERNAL_ID_PREFIX = "call"

# Which state a call ends in when several final events arrive: the most specific one, whatever
# their order (a voicemail is a missed call with a message; "ended" is a connected call's hang-up).
_STATE_RANK = {
    CallState.RINGING: 0,
    CallState.ANSWERED: 1,
    CallState.ENDED: 2,
    CallState.MISSED: 3,
    CallState.VOICEMAIL: 4,
}


# --- callers --------------------------------------------------------------------------------------


def customer_by_number(number: str) -> Customer | None:
    """The customer who has this E.164 number among theirs (the earliest one if several do)."""
    if not number:
        return None
    return Customer.objects.filter(phone_numbers__contains=[number]).order_by("pk").first()


def customer_for_number(*, number: str, name: str = "") -> Customer:
    """The customer with this number (any of theirs), created with it when there is none.

    `number` may be raw; it is normalised to E.164 first. A caller without a usable number
    (withheld, "anonymous") gets a new customer with no number: nothing would ever match it.
    """
    normalized = normalize_number(number)
    if not normalized:
        return customer_create(name=(name or "").strip() or _("Unknown caller"))
    existing = customer_by_number(normalized)
    if existing is not None:
        return existing
    with transaction.atomic():
        # Two events of one new caller (ringing and ended of one call, two calls at once) must not
        # create two customers: serialise creation per number for this transaction.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"phone:{normalized}"])
        existing = customer_by_number(normalized)
        if existing is not None:
            return existing
        return customer_create(name=(name or "").strip() or format_number(normalized), phone_numbers=[normalized])


# --- who a call is for ----------------------------------------------------------------------------


def agent_for_route(*, extension: str = "", user: str = "") -> User | None:
    """The active staff member a call is routed to: by PBX extension, else by username or email."""
    if extension:
        found = (
            AgentExtension.objects.filter(extension=extension.strip(), user__is_active=True)
            .select_related("user").first()
        )
        if found is not None and permissions.is_staff_member(found.user):
            return found.user
    if user:
        candidate = (
            User.objects.filter(Q(username=user.strip()) | Q(email__iexact=user.strip()), is_active=True)
            .order_by("pk").first()
        )
        if candidate is not None and permissions.is_staff_member(candidate):
            return candidate
    return None


def phone_team(*, slug: str = "", agent: User | None = None) -> Team | None:
    """The team a call belongs to: the one named, else the agent's first team, else the phone team
    setting, else the default team."""
    if slug:
        team = Team.objects.filter(slug=slug).first()
        if team is not None:
            return team
    if agent is not None:
        team = Team.objects.filter(memberships__user=agent).order_by("pk").first()
        if team is not None:
            return team
    configured = getattr(settings, "HELPDESK_PHONE_TEAM", "")
    if configured:
        team = Team.objects.filter(slug=configured).first()
        if team is not None:
            return team
    return default_team()


# --- the call entry -----------------------------------------------------------------------------


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(int(seconds), 60)
    if minutes:
        return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": rest}
    return _("%(seconds)d s") % {"seconds": rest}


def call_summary(call: Call, *, with_notes: bool) -> str:
    """The plain text of a call's thread entry (what search finds; the thread renders the call itself).

    Notes and disposition only in entries customers cannot read (agents' internal call entries).
    """
    number = format_number(call.customer_number) if call.customer_number else _("unknown number")
    if call.state == CallState.VOICEMAIL:
        lines = [_("Voicemail from %(number)s") % {"number": number}]
    elif call.state == CallState.MISSED:
        lines = [_("Missed call from %(number)s") % {"number": number}]
    elif call.direction == CallDirection.OUTBOUND:
        lines = [_("Outbound call to %(number)s") % {"number": number}]
    else:
        lines = [_("Inbound call from %(number)s") % {"number": number}]
    if call.duration_seconds:
        lines.append(_("Duration: %(duration)s") % {"duration": duration_text(call.duration_seconds)})
    if call.recording_url:
        lines.append(_("Recording: %(url)s") % {"url": call.recording_url})
    if call.transcript:
        lines.append(_("Transcript:") + "\n" + call.transcript)
    if with_notes:
        if call.disposition:
            lines.append(_("Disposition: %(disposition)s") % {"disposition": call.get_disposition_display()})
        if call.notes:
            lines.append(_("Notes:") + "\n" + call.notes)
    return "\n".join(lines)


def _refresh_entry(call: Call) -> None:
    """Rewrite the call's thread entry from the call (after a later event or the agent's notes)."""
    if call.message_id is None:
        return
    message = Message.objects.select_related("ticket").get(pk=call.message_id)
    text = call_summary(call, with_notes=not message.is_public)
    Message.objects.filter(pk=message.pk).update(body_text=text, body_html=text_to_html(text))
    # Open ticket pages re-read their thread (the entry now has the duration, recording, notes…).
    emit_ticket_event(message.ticket, "ticket.updated", is_public=message.is_public)


def _external_id(call: Call) -> str:
    return f"{_EXTERNAL_ID_PREFIX}:{call.provider}:{call.call_id}"


def _subject(call: Call) -> str:
    number = format_number(call.customer_number) if call.customer_number else _("unknown number")
    if call.state in (CallState.MISSED, CallState.VOICEMAIL):
        return _("Call back %(number)s") % {"number": number}
    if call.direction == CallDirection.OUTBOUND:
        return _("Call to %(number)s") % {"number": number}
    return _("Call from %(number)s") % {"number": number}


def _customer_of(call: Call, caller_name: str = "") -> Customer:
    if call.customer_id is None:
        call.customer = customer_for_number(number=call.customer_number, name=caller_name)
    return call.customer  # type: ignore[return-value]


def _ticket_from_call(call: Call, *, caller_name: str = "") -> Message:
    """A new phone ticket whose first message is the call (through `ingest`, like any channel)."""
    is_callback = call.state in (CallState.MISSED, CallState.VOICEMAIL)
    customer = _customer_of(call, caller_name)
    text = call_summary(call, with_notes=False)
    result = ingest(
        InboundMessage(
            channel=Channel.PHONE, sender_phone=call.customer_number, sender_name=caller_name,
            subject=_subject(call), body_text=text, external_id=_external_id(call),
            team_slug=call.team.slug if call.team_id and call.team else "",
            tags=[CALLBACK_TAG] if is_callback else [],
        ),
        customer=customer,
    )
    return result.message


def _link(call: Call, message: Message) -> None:
    call.message = message
    call.ticket_id = message.ticket_id
    Call.objects.filter(pk=call.pk).update(message=message, ticket_id=message.ticket_id, customer=call.customer)


def _complete(call: Call, *, caller_name: str = "") -> None:
    """The first final event of a call: put it on a ticket (a callback ticket when nobody answered)."""
    if call.message_id is not None:
        # The agent logged it during the call; the entry gets the final duration and recording.
        _refresh_entry(call)
        return
    message = _ticket_from_call(call, caller_name=caller_name)
    _link(call, message)
    if call.state == CallState.ENDED and call.agent_id is not None and call.agent is not None:
        ticket = message.ticket
        if ticket.assignee_id is None and permissions.can_hold(ticket, call.agent):
            # The agent who took the call has the conversation (the system assigns; they may pass it on).
            ticket_update(ticket=ticket, actor=None, assignee=call.agent, via="phone")


def _became_callback(call: Call) -> None:
    """A call put on a ticket as answered turned out missed or a voicemail (Twilio reports a call
    answered by the voicemail box as completed, the recording after): the ticket becomes the
    callback ticket it would have been had the events come the other way round."""
    if call.ticket_id is None or call.message_id is None:
        return
    message = Message.objects.select_related("ticket").get(pk=call.message_id)
    if message.ticket_id != call.ticket_id or message.ticket.messages.count() != 1:
        # The agent has it on a ticket of theirs already; its entry shows the voicemail.
        return
    ticket_update(ticket=message.ticket, actor=None, add_tags=[CALLBACK_TAG], subject=_subject(call), via="phone")


# --- webhook events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallEventOutcome:
    call: Call
    event: str
    # This (provider, call id, event) was recorded before: nothing changed.
    is_duplicate: bool
    # The call reached a final state with this event (its ticket entry was made or updated).
    completed: bool = False


def _lock_or_create_call(*, provider: str, call_id: str, defaults: dict[str, Any]) -> Call:
    call = Call.objects.select_for_update().filter(provider=provider, call_id=call_id).first()
    if call is not None:
        return call
    try:
        with transaction.atomic():
            return Call.objects.create(provider=provider, call_id=call_id, **defaults)
    except IntegrityError:
        # Another event of the same call created it meanwhile.
        return Call.objects.select_for_update().get(provider=provider, call_id=call_id)


def _fill(call: Call, **values: Any) -> list[str]:
    """Set the fields that are still empty (the first event to know a value wins); the changed names."""
    changed = []
    for name, value in values.items():
        if value in (None, "") or getattr(call, name) not in (None, ""):
            continue
        setattr(call, name, value)
        changed.append(name)
    return changed


def screen_pop_groups(call: Call) -> list[str]:
    """Whose workspace a ringing call pops up in: the agent it rings, else its team."""
    if call.agent_id is not None:
        return [realtime.user_group(call.agent_id)]
    return [realtime.team_group(call.team_id)]


def screen_pop_event(call: Call) -> dict[str, Any]:
    """`phone.ringing`: ids only; the browser fetches the pop-up through the agent pages.

    `ticket` is the call's routing in the shape the agent socket checks visibility on (as for a
    ticket of that team assigned to that agent), so the socket forwards it only to those who may
    take the call, with their current team memberships.
    """
    return {
        "type": "phone.ringing",
        "call": {"id": call.pk, "direction": call.direction, "customer": call.customer_id},
        "ticket": {"team": call.team_id, "assignee": call.agent_id},
    }


def call_update_event(call: Call) -> dict[str, Any]:
    """`phone.updated`: the call's new state, for the pop-ups shown of it (answered, ended, missed…)."""
    return {
        "type": "phone.updated",
        "call": {"id": call.pk, "state": call.state},
        "ticket": {"team": call.team_id, "assignee": call.agent_id},
    }


def call_update_groups(call: Call) -> list[str]:
    """Everyone a pop-up of the call may be open for: its team (a team-routed call) and its agent."""
    if call.team_id is None:
        return [realtime.user_group(call.agent_id)] if call.agent_id is not None else []
    groups = [realtime.team_group(call.team_id)]
    # An agent of the team hears it through the team's group already (a socket in both would get it twice).
    if call.agent_id is not None and not TeamMembership.objects.filter(
        team_id=call.team_id, user_id=call.agent_id
    ).exists():
        groups.append(realtime.user_group(call.agent_id))
    return groups


def call_event_record(
    *,
    provider: str,
    call_id: str,
    event: str,
    occurred_at: datetime,
    direction: str,
    from_number: str,
    to_number: str,
    agent: User | None = None,
    team: Team | None = None,
    duration_seconds: int | None = None,
    recording_url: str = "",
    transcript: str = "",
    caller_name: str = "",
    payload: dict[str, Any] | None = None,
) -> CallEventOutcome:
    """Record one telephony event of a call; the same (provider, call id, event) again is a no-op.

    Order does not matter: each event fills what the call did not know yet (its times, numbers,
    agent, recording), the state is the most advanced one received (`_STATE_RANK`), and the call
    is put on a ticket once, at the first final event (ended, missed, voicemail); later final
    events only add to that entry. `ringing` pops the call up for its agent or team unless the
    call is over already.
    """
    if event not in _STATE_RANK:
        raise ValueError(f"unknown call event {event!r}")
    if direction not in CallDirection.values:
        raise ValueError(f"unknown call direction {direction!r}")
    from_e164, to_e164 = normalize_number(from_number), normalize_number(to_number)
    with transaction.atomic():
        call = _lock_or_create_call(
            provider=provider, call_id=call_id,
            defaults={"direction": direction, "from_raw": (from_number or "")[:64], "to_raw": (to_number or "")[:64],
                      "from_number": from_e164, "to_number": to_e164, "agent": agent, "team": team},
        )
        if CallEvent.objects.filter(provider=provider, provider_call_id=call_id, event=event).exists():
            return CallEventOutcome(call=call, event=event, is_duplicate=True)
        CallEvent.objects.create(
            call=call, provider=provider, provider_call_id=call_id, event=event, occurred_at=occurred_at,
            payload=payload or {},
        )
        previous_state = call.state
        was_final = previous_state in FINAL_CALL_STATES
        changed = _fill(
            call, from_raw=(from_number or "")[:64], to_raw=(to_number or "")[:64], from_number=from_e164,
            to_number=to_e164, agent=agent, team=team, recording_url=recording_url[:1000], transcript=transcript,
        )
        if event == CallState.RINGING:
            changed += _fill(call, started_at=occurred_at)
        elif event == CallState.ANSWERED:
            changed += _fill(call, answered_at=occurred_at)
        else:
            changed += _fill(call, ended_at=occurred_at, duration_seconds=duration_seconds)
            if event == CallState.ENDED and call.answered_at is None and call.ended_at is not None:
                # A connected call's hang-up: it was answered `duration` before, if no answered event says when.
                call.answered_at = call.ended_at - timedelta(seconds=duration_seconds or 0)
                changed.append("answered_at")
        if call.started_at is None and event != CallState.RINGING:
            # Until (unless) ringing arrives, the call began at the earliest moment known.
            call.started_at = call.answered_at or occurred_at
            changed.append("started_at")
        elif event == CallState.RINGING and call.started_at and occurred_at < call.started_at:
            call.started_at = occurred_at
            changed.append("started_at")
        if call.team_id is None:
            call.team = phone_team(agent=call.agent)
            changed.append("team")
        if call.customer_id is None and call.customer_number:
            call.customer = customer_for_number(number=call.customer_number, name=caller_name)
            changed.append("customer")
        if _STATE_RANK[CallState(event)] > _STATE_RANK[CallState(call.state)]:
            call.state = event
            changed.append("state")
        if changed:
            call.save(update_fields=sorted(set(changed)) + ["updated_at"])
        completed = False
        if call.state in FINAL_CALL_STATES:
            if not was_final:
                _complete(call, caller_name=caller_name)
                completed = True
            elif changed:
                _refresh_entry(call)
                if previous_state == CallState.ENDED and call.state in (CallState.MISSED, CallState.VOICEMAIL):
                    _became_callback(call)
        elif event == CallState.RINGING:
            realtime.broadcast_after_commit(screen_pop_groups(call), screen_pop_event(call))
        if call.state != previous_state and call.state != CallState.RINGING:
            realtime.broadcast_after_commit(call_update_groups(call), call_update_event(call))
    return CallEventOutcome(call=call, event=event, is_duplicate=False, completed=completed)


def call_record_completed(
    *,
    provider: str,
    call_id: str,
    direction: str,
    from_number: str,
    to_number: str,
    caller_name: str,
    started_at: datetime | None,
    answered_at: datetime | None,
    ended_at: datetime | None,
    duration_seconds: int | None,
    answered: bool,
    agent: User | None = None,
    team: Team | None = None,
) -> Call | None:
    """Record a whole finished call at once (a call-detail record, a webhook's final event); None
    when (provider, call id) is recorded already.

    An answered call becomes a call message on a new phone ticket; an unanswered inbound call a
    callback ticket; an unanswered outbound call (nobody picked up where we called) only the record.
    """
    from_e164, to_e164 = normalize_number(from_number), normalize_number(to_number)
    state = CallState.ENDED if answered else CallState.MISSED
    with transaction.atomic():
        try:
            with transaction.atomic():
                call = Call.objects.create(
                    provider=provider, call_id=call_id, direction=direction, from_raw=(from_number or "")[:64],
                    to_raw=(to_number or "")[:64], from_number=from_e164, to_number=to_e164, agent=agent,
                    team=team or phone_team(agent=agent), state=state, started_at=started_at or answered_at or ended_at,
                    answered_at=answered_at if answered else None, ended_at=ended_at,
                    duration_seconds=duration_seconds,
                )
        except IntegrityError:
            return None
        if call.customer_number:
            call.customer = customer_for_number(number=call.customer_number, name=caller_name)
            Call.objects.filter(pk=call.pk).update(customer=call.customer)
        if answered or direction == CallDirection.INBOUND:
            _complete(call, caller_name=caller_name)
    return call


# --- agents' call logs ----------------------------------------------------------------------------


def call_log(
    *,
    actor: User,
    ticket: Ticket | None,
    direction: str,
    number: str,
    duration_seconds: int | None,
    notes: str,
    disposition: str,
    call: Call | None = None,
    started_at: datetime | None = None,
) -> Message:
    """Log a call with a customer: on `ticket` (an internal call entry by the agent) or, without a
    ticket, as a new phone ticket; `call` is a call the telephony reported (the screen-pop's form).

    A reported call that is on a ticket already (it ended before the agent logged it) keeps its one
    entry: the notes are added to it, and if the agent picks another ticket, the ticket the call
    opened (holding only this call) is merged into the one picked.
    """
    if not permissions.is_staff_member(actor):
        raise PermissionDenied(_("Only staff can log calls."))
    if ticket is not None and not permissions.can_view_ticket(actor, ticket):
        raise PermissionDenied(_("You cannot see this ticket."))
    if direction not in CallDirection.values:
        raise ValidationError({"direction": _("Choose inbound or outbound.")})
    if disposition not in CallDisposition.values:
        raise ValidationError({"disposition": _("Choose a disposition from the list.")})
    if duration_seconds is not None and duration_seconds < 0:
        raise ValidationError({"duration_seconds": _("The duration cannot be negative.")})
    normalized = normalize_number(number)
    if number.strip() and not normalized:
        raise ValidationError({"number": _("Enter a phone number, e.g. +86 138 1234 5678.")})
    if ticket is None and call is None and not normalized:
        raise ValidationError({"number": _("Enter the customer's phone number.")})
    with transaction.atomic():
        if call is None:
            now = timezone.now()
            started = started_at or (now - timedelta(seconds=duration_seconds or 0))
            customer_number = normalized
            call = Call.objects.create(
                provider=CallProvider.MANUAL, call_id=uuid.uuid4().hex, direction=direction,
                from_number=customer_number if direction == CallDirection.INBOUND else "",
                to_number=customer_number if direction == CallDirection.OUTBOUND else "",
                from_raw=number.strip()[:64] if direction == CallDirection.INBOUND else "",
                to_raw=number.strip()[:64] if direction == CallDirection.OUTBOUND else "",
                customer=ticket.requester if ticket is not None and not customer_number else None,
                agent=actor, team=ticket.team if ticket is not None else phone_team(agent=actor),
                state=CallState.ENDED, started_at=started, answered_at=started, ended_at=now,
                duration_seconds=duration_seconds, notes=notes.strip(), disposition=disposition,
            )
        else:
            call = Call.objects.select_for_update().get(pk=call.pk)
            call.notes = "\n\n".join(part for part in (call.notes, notes.strip()) if part)
            call.disposition = disposition or call.disposition
            if call.agent_id is None:
                call.agent = actor
            if call.duration_seconds is None and duration_seconds is not None:
                call.duration_seconds = duration_seconds
            call.save(update_fields=["notes", "disposition", "agent", "duration_seconds", "updated_at"])
        if call.message_id is not None:
            on_ticket = Ticket.objects.get(pk=call.ticket_id) if call.ticket_id else None
            if ticket is not None and on_ticket is not None and ticket.pk != on_ticket.pk:
                if on_ticket.message_count > 1:
                    raise ValidationError(
                        _("This call is on ticket #%(number)s already.") % {"number": on_ticket.number}
                    )
                ticket_merge(source=on_ticket, target=ticket, actor=actor, via="phone")
                Call.objects.filter(pk=call.pk).update(ticket=ticket)
                call.ticket = ticket
            _refresh_entry(call)
            return Message.objects.get(pk=call.message_id)
        if ticket is None:
            if call.customer_id is None:
                call.customer = customer_for_number(number=call.customer_number)
            message = _ticket_from_call(call)
            if permissions.can_assign_to(actor, message.ticket, actor):
                # The agent who logs the call as a new ticket has the conversation.
                ticket_update(ticket=message.ticket, actor=actor, assignee=actor, via="phone")
        else:
            text = call_summary(call, with_notes=True)
            message = ticket_add_note(ticket=ticket, actor=actor, body_text=text, via="phone")
            # A note is written on the web; this one is the record of a phone conversation.
            Message.objects.filter(pk=message.pk).update(channel=Channel.PHONE)
            message.channel = Channel.PHONE
            if call.customer_id is None:
                call.customer = ticket.requester
        _link(call, message)
    return message
