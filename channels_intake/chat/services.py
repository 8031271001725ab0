"""Live chat's actions. Every chat is a ticket (channel `chat`) whose thread is the transcript:
a chat starts through the intake (`channels_intake.services.ingest`), the visitor's further messages
go to `ticket_reply` as the intake's continuation does (see chat_visitor_message), agents' through
the ticket services (`ticket_reply`, `ticket_add_note`); status and assignment changes through
`ticket_update`, so the audit trail, SLA timers and the agents' realtime notices work as for any
ticket. Chat events (channels_intake.chat.events) go out after commit.

Routing (offers, accept, decline, expiry) is in channels_intake.chat.routing.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_intake.base import InboundMessage
from channels_intake.chat import events, limits, presence, routing
from channels_intake.chat import files as chat_files
from channels_intake.chat.models import (
    OPEN_CHAT_STATES,
    WAITING_CHAT_STATES,
    Chat,
    ChatEndReason,
    ChatOffer,
    ChatOfferState,
    ChatState,
    ChatWidget,
)
from channels_intake.services import ingest
from helpdesk import permissions, realtime
from tickets.models import (
    STAFF_ROLES,
    ActorKind,
    AuthorKind,
    Channel,
    Customer,
    Event,
    Message,
    Status,
    Team,
    TeamMembership,
    User,
)
from tickets.services import IncomingFile, ticket_add_note, ticket_reply, ticket_update
from tickets.services.customers import customer_create, normalize_email
from tickets.services.ticket_create import existing_message
from tickets.sla.calendar import is_open

# Re-exported: the console and the sockets import every chat action from here.
chat_accept = routing.chat_accept
chat_decline = routing.chat_decline
chat_offer_next = routing.chat_offer_next
chat_offers_expire = routing.chat_offers_expire
ChatUnavailable = routing.ChatUnavailable
chat_queue_position = routing.chat_queue_position

logger = logging.getLogger(__name__)
OFFLINE_TAG = "chat-offline"
# A queued chat nobody accepted within this long ends (chats_end_unanswered).
DEFAULT_QUEUE_MAX_WAIT_MINUTES = 20
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SUBJECT_CHARS = 80
# The longest answer to a custom pre-chat question (a rule's max_length may only lower it).
CUSTOM_ANSWER_MAX_CHARS = 500


class ChatEnded(ValidationError):
    """The chat has ended: no more messages on it."""


class ChatRateLimited(ValidationError):
    """The visitor sent more messages a minute than HELPDESK_CHAT_MESSAGES_PER_MINUTE."""


class ChatMessageTooLong(ValidationError):
    """Longer than HELPDESK_CHAT_MAX_MESSAGE_CHARS."""


def _language(language: str) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    language = (language or "").strip().lower()
    if language in codes:
        return language
    # Browsers say zh-CN, zh-TW, zh-HK: the script follows from the region.
    if language.startswith("zh"):
        return "zh-hant" if any(part in language for part in ("tw", "hk", "mo", "hant")) else "zh-hans"
    return "en" if language.startswith("en") or not language else settings.LANGUAGE_CODE


def _chat_event(
    *, chat: Chat, kind: str, actor: User | None, to_value: dict[str, Any], actor_kind: str | None = None
) -> Event:
    """An audit entry on the chat's ticket for what the ticket's own fields do not show (end, transfer, rating)."""
    return Event.objects.create(
        ticket_id=chat.ticket_id, kind=kind, actor_user=actor, via="chat", to_value=to_value,
        actor_kind=actor_kind or (ActorKind.AGENT if actor is not None else ActorKind.CUSTOMER),
    )


def _check_body(body: str) -> str:
    if not isinstance(body, str):
        raise ValidationError(_("Write a message or attach a file."), code="empty")
    if not limits.message_size_allowed(body):
        raise ChatMessageTooLong(
            _("The message is too long (at most %(limit)s characters).") % {"limit": limits.max_message_chars()},
            code="too_long",
        )
    return body


def _visitor_customer(*, visitor_id: uuid.UUID, name: str, language: str) -> Customer:
    """The customer record of a visitor who gave no address: the one of their earlier chats, else a new one.

    It has no email, so nothing can be mailed to it and no other customer can be matched to it.
    """
    earlier = (
        Chat.objects.filter(visitor_id=visitor_id, visitor_email="", ticket__requester__email="")
        .select_related("ticket__requester").order_by("-pk").first()
    )
    if earlier is not None:
        return earlier.ticket.requester
    return customer_create(name=name or _("Visitor"), language=language)


# --- starting ----------------------------------------------------------------------------------


def prechat_validate(*, widget: ChatWidget, name: str, email: str, question: str) -> dict[str, str]:
    """The errors of a pre-chat form under the widget's field rules, by field ({} when it is fine)."""
    rules = widget.prechat_fields if isinstance(widget.prechat_fields, dict) else {}
    errors: dict[str, str] = {}
    for field, value in (("name", name), ("email", email), ("question", question)):
        rule = rules.get(field) or {}
        if rule.get("shown", True) and rule.get("required", False) and not value.strip():
            errors[field] = _("This field is required.")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = _("Enter a valid email address.")
    return errors


def _custom_prechat_rules(widget: ChatWidget) -> dict[str, dict[str, Any]]:
    rules = widget.prechat_fields if isinstance(widget.prechat_fields, dict) else {}
    custom = rules.get("custom")
    if not isinstance(custom, list):
        return {}
    return {
        str(rule["key"]): rule for rule in custom
        if isinstance(rule, dict) and isinstance(rule.get("key"), str) and rule["key"]
    }


def prechat_custom_values(
    *, widget: ChatWidget, values: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The custom pre-chat answers checked against the widget's `custom` rules: (ticket custom
    fields, answers kept on the chat, errors by key).

    Each answer is text of at most the rule's max_length (CUSTOM_ANSWER_MAX_CHARS by default); a
    required one must be there; a key the widget does not ask for is refused. An answer whose key is
    a ticket custom field's goes to the ticket, as that field's type (checked as for any ticket).
    """
    rules = _custom_prechat_rules(widget)
    values = values if isinstance(values, dict) else {}
    errors: dict[str, str] = {}
    answers: dict[str, str] = {}
    for key, raw in values.items():
        if key not in rules:
            errors[str(key)[:64]] = _("Unknown field.")
        elif raw is not None and not isinstance(raw, str | int | float | bool):
            errors[key] = _("Enter text.")
        elif raw is not None and str(raw).strip():
            answers[key] = str(raw).strip()
    for key, rule in rules.items():
        max_length = rule.get("max_length")
        limit = min(max_length, CUSTOM_ANSWER_MAX_CHARS) if isinstance(max_length, int) else CUSTOM_ANSWER_MAX_CHARS
        if key in errors:
            continue
        if key not in answers:
            if rule.get("required"):
                errors[key] = _("This field is required.")
        elif len(answers[key]) > limit:
            errors[key] = _("Enter at most %(limit)s characters.") % {"limit": limit}
    from tickets.custom_fields import validate_custom_fields
    from tickets.models import CustomFieldDefinition

    ticket_keys = set(CustomFieldDefinition.objects.filter(key__in=list(answers), applies_to=CustomFieldDefinition.AppliesTo.TICKET).values_list("key", flat=True))
    ticket_fields = {key: answers.pop(key) for key in list(answers) if key in ticket_keys}
    if ticket_fields:
        try:
            ticket_fields = validate_custom_fields(ticket_fields, enforce_required=False)
        except ValidationError as error:
            errors.update({key: " ".join(messages) for key, messages in error.message_dict.items()})
    return ticket_fields, answers, errors


def chat_team(*, widget: ChatWidget, slug: str = "") -> Team:
    """The team a page asks for (data-team): the widget's own or one of its `other_teams`; no slug,
    the widget's team. Any other team is refused (ValidationError on `team`)."""
    slug = (slug or "").strip()
    if not slug or slug == widget.team.slug:
        return widget.team
    team = widget.other_teams.filter(slug=slug).first()
    if team is None:
        raise ValidationError(
            {"team": _("This chat cannot be sent to the team “%(team)s”.") % {"team": slug[:64]}}, code="team"
        )
    return team


def _allowed_team(widget: ChatWidget, team: Team | None) -> Team:
    if team is not None and team.pk != widget.team_id and not widget.other_teams.filter(pk=team.pk).exists():
        raise ValidationError({"team": _("This chat cannot be sent to that team.")}, code="team")
    return team or widget.team


def chat_start(
    *,
    widget: ChatWidget,
    visitor_id: uuid.UUID | str,
    name: str,
    email: str,
    question: str,
    language: str,
    origin: str,
    files: Sequence[IncomingFile] = (),
    deflect: bool | None = None,
    team: Team | None = None,
    fields: dict[str, Any] | None = None,
) -> Chat:
    """Open a chat: its ticket (channel chat, the widget's team or `team`) with the question as first message.

    `deflecting` when the widget suggests articles first (and the visitor's widget asked for it),
    else `queued` and offered to an agent at once when one is available.
    team: one the widget allows (`chat_team`); fields: the custom pre-chat answers
    (`prechat_custom_values`): ticket custom fields go to the ticket, the rest to the chat.
    """
    if not widget.is_active:
        raise ValidationError(_("This chat is not available."), code="inactive")
    team = _allowed_team(widget, team)
    name = " ".join((name or "").split())[:200]
    email = normalize_email(email)
    question = (question or "").strip()
    _check_body(question)
    errors = prechat_validate(widget=widget, name=name, email=email, question=question)
    ticket_fields, answers, field_errors = prechat_custom_values(widget=widget, values=fields)
    errors.update(field_errors)
    if errors:
        raise ValidationError(errors)
    visitor_id = uuid.UUID(str(visitor_id))
    language = _language(language)
    deflecting = widget.deflection_enabled and bool(question) and (deflect is None or deflect)
    first_line = " ".join(question.split())
    subject = (first_line[:SUBJECT_CHARS] + ("…" if len(first_line) > SUBJECT_CHARS else "")) if first_line else (
        _("Chat with %(name)s") % {"name": name or email or _("a visitor")}
    )
    with transaction.atomic():
        customer = None if email else _visitor_customer(visitor_id=visitor_id, name=name, language=language)
        result = ingest(
            InboundMessage(
                channel=Channel.CHAT, sender_email=email, sender_name=name, subject=subject,
                body_text=question or subject, team_slug=team.slug, language=language, files=files,
                custom_fields=ticket_fields,
            ),
            customer=customer,
        )
        now = timezone.now()
        chat = Chat.objects.create(
            widget=widget, ticket=result.ticket, visitor_id=visitor_id, visitor_name=name or result.ticket.requester.name,
            visitor_email=email, language=language, origin=(origin or "")[:255], prechat_values=answers,
            state=ChatState.DEFLECTING if deflecting else ChatState.QUEUED, queued_at=None if deflecting else now,
        )
        if deflecting:
            from knowledgebase.deflection import deflection_record_shown
            from knowledgebase.models import Deflection

            deflection_record_shown(session_key=_deflection_session(chat), source=Deflection.Source.CHAT_WIDGET,
                                    query=question, language=language)
        else:
            _queued(chat, now=now)
    return chat


def _deflection_session(chat: Chat) -> str:
    return f"chat:{chat.pk}"


def _queued(chat: Chat, *, now: datetime) -> None:
    """The chat just joined its team's queue: offer it, and tell the team and the visitor."""
    routing.chat_offer_next(chat=chat, now=now)
    if chat.state == ChatState.QUEUED:
        position, wait = chat_queue_position(chat=chat)
        events.state_after_commit(chat=chat, position=position, estimated_wait=wait)
    events.queue_after_commit(chat=chat, waiting=routing.waiting_count(team_id=chat.ticket.team_id))


def chat_request_human(*, chat: Chat) -> Chat:
    """"Talk to a person": a deflecting chat joins the queue (the suggestions did not answer it)."""
    with transaction.atomic():
        locked = Chat.objects.select_for_update(of=("self",)).select_related("ticket", "widget").get(pk=chat.pk)
        if locked.state != ChatState.DEFLECTING:
            return locked
        now = timezone.now()
        locked.state = ChatState.QUEUED
        locked.queued_at = now
        locked.save(update_fields=["state", "queued_at"])
        from knowledgebase.deflection import deflection_record_submitted
        from knowledgebase.models import Deflection

        deflection_record_submitted(session_key=_deflection_session(locked), ticket=locked.ticket, deflection_id=None,
                                    source=Deflection.Source.CHAT_WIDGET)
        _queued(locked, now=now)
    return locked


def chat_mark_deflected(*, chat: Chat) -> Chat:
    """"This answered my question": the chat ends as deflected and its ticket is solved; the
    knowledge base's deflection counts it (source chat_widget)."""
    with transaction.atomic():
        locked = Chat.objects.select_for_update(of=("self",)).select_related("ticket", "widget").get(pk=chat.pk)
        if locked.state != ChatState.DEFLECTING:
            raise ChatUnavailable(_("A person has been asked already."), code="not_deflecting")
        from knowledgebase.models import Deflection, DeflectionOutcome

        now = timezone.now()
        # The visitor said so: no need to wait out the deflection window as for a web form.
        Deflection.objects.filter(
            session_key=_deflection_session(locked), source=Deflection.Source.CHAT_WIDGET,
            outcome=DeflectionOutcome.PENDING,
        ).update(outcome=DeflectionOutcome.DEFLECTED, ticket=locked.ticket, decided_at=now)
        _end(locked, actor=None, reason=ChatEndReason.DEFLECTED, solve=True, now=now)
    return locked


# --- messages ----------------------------------------------------------------------------------


def chat_visitor_message(
    *, chat: Chat, client_id: str, body: str, files: Sequence[IncomingFile] = ()
) -> tuple[Message, bool]:
    """Store a visitor's message (acknowledge it only once this returns: it is committed).

    Idempotent on client_id: a resend after a reconnect returns the stored message and False,
    whatever the chat's state or the visitor's rate now. Refused on an ended chat, past the
    per-minute limit or past the size limit. A message without files is a chat line, stored as the
    socket's lines are (channels_intake.chat.lines); one with files goes through `ticket_reply`.
    """
    if not files:
        from channels_intake.chat.lines import VisitorLine, chat_visitor_lines_store

        [outcome] = chat_visitor_lines_store(lines=[VisitorLine(chat_id=chat.pk, client_id=client_id, body=body)])
        if isinstance(outcome, Exception):
            raise outcome
        return Message.objects.select_related("ticket").get(pk=outcome.message_id), outcome.is_new
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        raise ValidationError(_("Invalid message id."), code="bad_client_id")
    body = _check_body(body)
    external_id = f"chat:{chat.pk}:{client_id}"
    refusal: ValidationError | None = None
    if not body.strip() and not files:
        refusal = ValidationError(_("Write a message or attach a file."), code="empty")
    elif chat.state == ChatState.ENDED:
        refusal = ChatEnded(_("This chat has ended."), code="ended")
    elif not limits.visitor_message_allowed(visitor_key=str(chat.visitor_id)):
        refusal = ChatRateLimited(_("You are sending messages too fast. Wait a moment."), code="rate_limited")
    if refusal is not None:
        duplicate = existing_message(Channel.CHAT, external_id)
        if duplicate is not None:
            return duplicate, False
        raise refusal
    ticket = chat.ticket
    started = timezone.now()
    with transaction.atomic():
        # Not through `ingest` as the first message was: the chat already names the ticket and the
        # token proved the visitor, so what the intake adds for a continuation (the ticket looked
        # up by number, the message id checked again, a savepoint) is skipped. The message goes
        # through ticket_reply, the very service the intake calls to continue a ticket: same
        # events, SLA timers and idempotency (it looks the client id up first, once). Measured:
        # 20 ms of CPU a message instead of 26, most of the rest in the SLA timers' sync.
        message = ticket_reply(
            ticket=ticket, actor=None, author_customer=ticket.requester, body_text=body, files=files,
            channel=Channel.CHAT, external_id=external_id, via=Channel.CHAT,
        )
        if message.created_at < started:
            # Stored by an earlier delivery of the same message (a resend after a reconnect).
            return message, False
        events.message_after_commit(chat=chat, message=message, client_id=client_id)
    return message, True


def chat_agent_message(
    *, chat: Chat, agent: User, body: str, is_internal: bool = False, client_id: str = "",
    files: Sequence[IncomingFile] = (),
) -> Message:
    """An agent's message in the chat: a public reply the visitor sees at once (the first one meets
    the first-response SLA like any reply), or an internal note only agents see."""
    ticket = chat.ticket
    if not permissions.can_work_ticket(agent, ticket):
        raise PermissionDenied(_("You cannot write in this chat."))
    body = _check_body(body)
    if client_id and not CLIENT_ID.match(client_id):
        raise ValidationError(_("Invalid message id."), code="bad_client_id")
    if not is_internal and chat.state == ChatState.ENDED:
        raise ChatEnded(_("This chat has ended; reply on the ticket instead."), code="ended")
    with transaction.atomic():
        if is_internal:
            message = ticket_add_note(ticket=ticket, actor=agent, body_text=body, files=files, via="chat")
        else:
            external_id = f"chat:{chat.pk}:agent-{client_id}" if client_id else ""
            duplicate = existing_message(Channel.CHAT, external_id)
            if duplicate is not None:
                return duplicate
            message = ticket_reply(ticket=ticket, actor=agent, body_text=body, files=files, channel=Channel.CHAT,
                                   external_id=external_id, via="chat")
        if files and not is_internal:
            # The visitor gets the files as signed download links (they have no account to open them with).
            realtime.broadcast_after_commit(
                [realtime.chat_group(chat.pk)],
                chat_files.message_payload(chat=chat, message=message, client_id=client_id),
            )
        else:
            events.message_after_commit(chat=chat, message=message, client_id=client_id)
    return message


# --- presence ----------------------------------------------------------------------------------


def agent_chat_presence_set(*, user: User, status: str) -> str:
    """Set (or refresh, as a heartbeat) the agent's chat presence; returns the status before.

    Coming online offers them the waiting chats of their teams; going away or offline passes their
    pending offers on to the next agents.
    """
    if not permissions.is_staff_member(user):
        raise PermissionDenied(_("Only staff take chats."))
    previous = presence.presence_write(user_id=user.pk, status=status)
    if status == presence.ONLINE and previous != presence.ONLINE:
        for team_id in TeamMembership.objects.filter(user_id=user.pk).values_list("team_id", flat=True):
            routing.chats_route_team(team_id=team_id)
    elif status != presence.ONLINE and previous == presence.ONLINE:
        routing.agent_offers_withdraw(user=user)
    return previous


def agent_chat_presence(*, user: User) -> str:
    return presence.presence_read(user_id=user.pk)


def widget_is_online(*, widget: ChatWidget, now: datetime | None = None, team: Team | None = None) -> bool:
    """Whether a visitor can reach a person now: inside the widget's business hours (if it has any)
    and an agent of its team (or of `team`, the one the page chose) online."""
    if not widget.is_active:
        return False
    hours = widget.business_hours if widget.business_hours_id is not None else None
    if hours is not None and not is_open(hours.to_calendar(), now or timezone.now()):
        return False
    member_ids = TeamMembership.objects.filter(
        team_id=team.pk if team is not None else widget.team_id, user__is_active=True, user__role__in=STAFF_ROLES
    ).values_list("user_id", flat=True)
    return presence.ONLINE in presence.presence_read_many(member_ids).values()


# --- transfer and end --------------------------------------------------------------------------


def chat_transfer(
    *, chat: Chat, actor: User, to_agent: User | None = None, to_team: Team | None = None, note: str = ""
) -> Chat:
    """Hand the chat to another agent (offered to them) or another team (its queue), with an
    internal note for whoever takes it. The ticket is unassigned (and moved) until they accept."""
    if (to_agent is None) == (to_team is None):
        raise ValidationError(_("Choose an agent or a team to transfer to."), code="target")
    with transaction.atomic():
        locked = Chat.objects.select_for_update(of=("self",)).select_related("ticket", "widget").get(pk=chat.pk)
        ticket = locked.ticket
        if not permissions.can_work_ticket(actor, ticket):
            raise PermissionDenied(_("You cannot transfer this chat."))
        if locked.state == ChatState.ENDED:
            raise ChatEnded(_("This chat has ended."), code="ended")
        team = to_team if to_team is not None else ticket.team
        if to_agent is not None and not (
            to_agent.is_active and to_agent.is_staff_member
            and to_agent.team_memberships.filter(team_id=ticket.team_id).exists()
        ):
            raise ValidationError(_("That agent is not in this chat's team."), code="target")
        previous_agent_id = locked.agent_id
        for offer in ChatOffer.objects.select_for_update().select_related("chat__ticket").filter(
            chat=locked, state=ChatOfferState.PENDING
        ):
            routing._withdraw(offer, state=ChatOfferState.EXPIRED)
        if note.strip():
            ticket_add_note(ticket=ticket, actor=actor, body_text=note, via="chat")
        # Unassigned first, while the actor still works the ticket's team; then moved.
        ticket = ticket_update(ticket=ticket, actor=actor, assignee=None, via="chat")
        if team is not None and team.pk != ticket.team_id:
            ticket = ticket_update(ticket=ticket, actor=actor, team=team, via="chat")
        locked.ticket = ticket
        _chat_event(chat=locked, kind="chat_transferred", actor=actor, to_value={
            "from_agent": previous_agent_id, "to_agent": to_agent.pk if to_agent else None,
            "to_team": team.pk if team else None,
        })
        now = timezone.now()
        locked.state = ChatState.QUEUED
        locked.agent = None
        locked.queued_at = now
        locked.save(update_fields=["state", "agent", "queued_at"])
        if to_agent is not None:
            routing.chat_offer_next(chat=locked, now=now, to_agent=to_agent)
            events.state_after_commit(chat=locked)
        else:
            _queued(locked, now=now)
        if previous_agent_id is not None:
            _route_freed_seat(team_id=ticket.team_id)
    return locked


def _route_freed_seat(*, team_id: int | None) -> None:
    """An agent has room again: offer the team's waiting chats, once the change is committed."""
    transaction.on_commit(lambda: routing.chats_route_team(team_id=team_id), robust=True)


def _end(locked: Chat, *, actor: User | None, reason: str, solve: bool, now: datetime) -> None:
    was_waiting = locked.state in WAITING_CHAT_STATES
    had_agent = locked.state == ChatState.ACTIVE
    for offer in ChatOffer.objects.select_for_update().select_related("chat__ticket").filter(
        chat=locked, state=ChatOfferState.PENDING
    ):
        routing._withdraw(offer, state=ChatOfferState.EXPIRED)
    locked.state = ChatState.ENDED
    locked.ended_at = now
    locked.end_reason = reason
    locked.save(update_fields=["state", "ended_at", "end_reason"])
    # Timeouts are the sweeps' doing, not the visitor's.
    by_system = actor is None and reason in (ChatEndReason.TIMEOUT, ChatEndReason.OFFLINE)
    _chat_event(chat=locked, kind="chat_ended", actor=actor, to_value={"reason": reason, "solved": solve},
                actor_kind=ActorKind.SYSTEM if by_system else None)
    if solve and locked.ticket.status not in (Status.SOLVED, Status.CLOSED):
        locked.ticket = ticket_update(
            ticket=locked.ticket, actor=actor, status=Status.SOLVED, via="chat",
            actor_kind=None if actor is not None else ActorKind.SYSTEM,
        )
    events.ended_after_commit(chat=locked)
    events.state_after_commit(chat=locked)
    if was_waiting:
        events.queue_after_commit(chat=locked, waiting=routing.waiting_count(team_id=locked.ticket.team_id))
        routing.queue_positions_after_commit(team_id=locked.ticket.team_id)
    if had_agent:
        _route_freed_seat(team_id=locked.ticket.team_id)


def chat_end(*, chat: Chat, actor: User | None = None, reason: str, solve: bool) -> Chat:
    """End the chat (the visitor left, the agent ended it...); `solve` solves its ticket, else it
    stays open for a follow-up by email. Ending an ended chat changes nothing."""
    if reason not in ChatEndReason.values:
        raise ValidationError(_("Unknown reason."), code="reason")
    with transaction.atomic():
        locked = Chat.objects.select_for_update(of=("self",)).select_related("ticket", "widget").get(pk=chat.pk)
        if actor is not None and not permissions.can_work_ticket(actor, locked.ticket):
            raise PermissionDenied(_("You cannot end this chat."))
        if locked.state == ChatState.ENDED:
            return locked
        _end(locked, actor=actor, reason=reason, solve=solve, now=timezone.now())
    return locked


def queue_max_wait_minutes() -> float:
    return float(getattr(settings, "HELPDESK_CHAT_QUEUE_MAX_WAIT_MINUTES", DEFAULT_QUEUE_MAX_WAIT_MINUTES))


def chats_end_idle(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """End the open chats whose visitor has gone quiet: no message from them and no widget of theirs
    connected for HELPDESK_CHAT_IDLE_END_MINUTES (0 turns this off). Reason `timeout`; the ticket
    stays open, so the team can still answer by email. Returns how many ended.

    "Connected" is the visitor's presence in Redis (channels_intake.chat.presence.visitor_seen,
    kept by the widget's pings): an open tab keeps its chat. If Redis cannot be read nothing is
    ended, since a chat must not end because we could not tell whether its visitor is there.
    """
    minutes = presence.idle_end_minutes()
    if minutes <= 0:
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=minutes)
    spoke_lately = Message.objects.filter(
        ticket_id=OuterRef("ticket_id"), author_kind=AuthorKind.CUSTOMER, created_at__gte=cutoff
    )
    candidates = list(
        Chat.objects.filter(state__in=OPEN_CHAT_STATES, created_at__lt=cutoff)
        .exclude(Exists(spoke_lately)).order_by("pk").values_list("pk", flat=True)[:batch_size]
    )
    try:
        present = presence.visitors_seen_lately(candidates)
    except Exception:
        logger.exception("chat idle sweep: visitor presence unreadable, nothing ended")
        return 0
    ended = 0
    for chat_id in candidates:
        if chat_id in present:
            continue
        chat = Chat.objects.filter(pk=chat_id).first()
        if chat is not None and chat.state != ChatState.ENDED:
            chat_end(chat=chat, actor=None, reason=ChatEndReason.TIMEOUT, solve=False)
            ended += 1
    return ended


def chats_end_unanswered(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """End the chats that waited in the queue longer than HELPDESK_CHAT_QUEUE_MAX_WAIT_MINUTES (0
    turns this off) without any agent accepting them: reason `offline` ("No agent available"), as
    if nobody had been online. The ticket stays open with the question on it, so the team answers
    by email (or the visitor leaves an address with the transcript form); the widget says so.
    A visitor is not kept waiting for a seat that is not coming. Returns how many ended."""
    minutes = queue_max_wait_minutes()
    if minutes <= 0:
        return 0
    now = now or timezone.now()
    waited_too_long = list(
        Chat.objects.filter(state__in=WAITING_CHAT_STATES, queued_at__lt=now - timedelta(minutes=minutes))
        .order_by("queued_at", "pk")[:batch_size]
    )
    for chat in waited_too_long:
        chat_end(chat=chat, actor=None, reason=ChatEndReason.OFFLINE, solve=False)
    return len(waited_too_long)


def chat_rate(*, chat: Chat, rating: int, comment: str = "") -> Chat:
    """The visitor's satisfaction (1-5) and comment; a later rating of the same chat replaces it."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError({"rating": _("Rate from 1 to 5.")})
    comment = (comment or "").strip()[:2000]
    with transaction.atomic():
        locked = Chat.objects.select_for_update(of=("self",)).get(pk=chat.pk)
        if locked.state in (ChatState.DEFLECTING, ChatState.QUEUED, ChatState.OFFERED):
            raise ValidationError(_("Rate the chat once you have talked to someone."), code="not_rated_yet")
        locked.rating = rating
        locked.rating_comment = comment
        locked.save(update_fields=["rating", "rating_comment"])
        _chat_event(chat=locked, kind="chat_rated", actor=None, to_value={"rating": rating})
        # The chat's rating is its ticket's CSAT answer too (one per ticket, changed with it).
        from metrics.models import SurveySource
        from metrics.surveys import survey_ticket_rate

        survey_ticket_rate(ticket=locked.ticket, customer=locked.ticket.requester, score=rating, comment=comment,
                           source=SurveySource.CHAT)
    return locked


# --- mail --------------------------------------------------------------------------------------


def chat_transcript_send(*, chat: Chat, email: str) -> None:
    """Mail the chat's public transcript to `email`, from a task (queued on commit)."""
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid email address.")}) from None
    from channels_intake.chat.tasks import send_chat_transcript

    with transaction.atomic():
        _chat_event(chat=chat, kind="chat_transcript_requested", actor=None, to_value={"email": email})
        chat_id = chat.pk
        transaction.on_commit(lambda: send_chat_transcript.delay(chat_id, email), robust=True)


def chat_offline_message(
    *, widget: ChatWidget, name: str, email: str, message: str, language: str, team: Team | None = None
) -> Message:
    """"Leave a message" while nobody is online: a ticket (channel chat, tag chat-offline) answered by
    email, in the widget's team or `team` (one the widget allows, see chat_team)."""
    if not widget.is_active:
        raise ValidationError(_("This chat is not available."), code="inactive")
    team = _allowed_team(widget, team)
    email = normalize_email(email)
    errors: dict[str, str] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = _("Enter a valid email address.")
    message = (message or "").strip()
    if not message:
        errors["message"] = _("This field is required.")
    elif not limits.message_size_allowed(message):
        errors["message"] = _("The message is too long (at most %(limit)s characters).") % {
            "limit": limits.max_message_chars()}
    if errors:
        raise ValidationError(errors)
    first_line = " ".join(message.split())
    subject = first_line[:SUBJECT_CHARS] + ("…" if len(first_line) > SUBJECT_CHARS else "")
    result = ingest(InboundMessage(
        channel=Channel.CHAT, sender_email=email, sender_name=" ".join((name or "").split())[:200], subject=subject,
        body_text=message, team_slug=team.slug, tags=(OFFLINE_TAG,), language=_language(language),
    ))
    return result.message


def chat_transcript_deliver(*, chat_id: int, email: str) -> bool:
    """Render and send the public transcript now (called by the task); False when there is no such chat.

    Raises TemporaryDeliveryError when the mail server may take it later (the task retries).
    """
    import smtplib

    from django.core.mail import send_mail
    from django.utils import translation

    from channels_intake.email.outbound import TemporaryDeliveryError, is_permanent_refusal
    from tickets.models import Visibility

    chat = Chat.objects.select_related("ticket").filter(pk=chat_id).first()
    if chat is None:
        return False
    messages = list(
        Message.objects.filter(ticket_id=chat.ticket_id, visibility=Visibility.PUBLIC)
        .select_related("author_user").order_by("created_at", "pk")
    )
    with translation.override(chat.language or settings.LANGUAGE_CODE):
        subject = _("Your chat transcript (#%(number)s)") % {"number": chat.ticket.number}
        lines = [subject, ""]
        for message in messages:
            payload = events.message_payload(chat=chat, message=message)
            who = payload["author_name"] or (_("You") if payload["author"] == "visitor" else _("Support"))
            when = timezone.localtime(message.created_at).strftime("%Y-%m-%d %H:%M")
            lines += [f"[{when}] {who}:", message.body_text, ""]
    try:
        send_mail(subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [email], fail_silently=False)
    except (smtplib.SMTPException, OSError) as error:
        if not is_permanent_refusal(error):
            raise TemporaryDeliveryError(f"{type(error).__name__}: {error}") from error
        return False
    return True
