"""Opening a ticket, from any channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets import events
from tickets.custom_fields import validate_custom_fields
from tickets.models import (
    ActorKind,
    AuthorKind,
    Channel,
    Customer,
    Message,
    Priority,
    Status,
    Team,
    Ticket,
    TicketType,
    User,
    Visibility,
)
from tickets.sanitize import html_to_text, sanitize_html, text_to_html
from tickets.services.attachments import IncomingFile, attachment_store
from tickets.services.common import emit_ticket_event, sync_sla, via_for


def normalize_tags(tags: Sequence[str] | None) -> list[str]:
    cleaned: list[str] = []
    for tag in tags or []:
        value = "-".join(str(tag).strip().lower().split())[:64]
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned


def message_bodies(*, body_html: str | None, body_text: str | None) -> tuple[str, str]:
    """(safe HTML, plain text) from whichever form the channel delivered."""
    if body_html:
        safe_html = sanitize_html(body_html)
        return safe_html, (body_text if body_text is not None else html_to_text(safe_html))
    text = body_text or ""
    return text_to_html(text), text


def default_team() -> Team | None:
    """The team that receives tickets nobody routed (settings.HELPDESK_DEFAULT_TEAM, by slug)."""
    return Team.objects.filter(slug=settings.HELPDESK_DEFAULT_TEAM).first()


def existing_message(channel: str, external_id: str) -> Message | None:
    """The message stored under (channel, external_id) with its ticket, None when there is none (or no id)."""
    if not external_id:
        return None
    # Almost always there is none: a bare key look-up costs a third of the Python of building the
    # message and its ticket from a joined row, which is done only when there is one.
    found = Message.objects.filter(channel=channel, external_id=external_id).values_list("pk", flat=True)[:1]
    if not found:
        return None
    return Message.objects.select_related("ticket").get(pk=found[0])


def ticket_create(
    *,
    requester: Customer,
    subject: str,
    body_html: str | None = None,
    body_text: str | None = None,
    channel: str = Channel.WEB,
    actor: User | None = None,
    team: Team | None = None,
    assignee: User | None = None,
    priority: str = Priority.NORMAL,
    ticket_type: str = TicketType.QUESTION,
    tags: Sequence[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    customer_fields_only: bool = False,
    files: Sequence[IncomingFile] = (),
    external_id: str = "",
    via: str | None = None,
    follow_up_of: Ticket | None = None,
) -> Ticket:
    """Create a ticket whose first message is the requester's description.

    Idempotent on (channel, external_id): the same inbound message creates one ticket.
    """
    ticket, _message = ticket_create_with_message(
        requester=requester, subject=subject, body_html=body_html, body_text=body_text, channel=channel, actor=actor,
        team=team, assignee=assignee, priority=priority, ticket_type=ticket_type, tags=tags,
        custom_fields=custom_fields, customer_fields_only=customer_fields_only, files=files,
        external_id=external_id, via=via, follow_up_of=follow_up_of,
    )
    return ticket


def ticket_create_with_message(
    *,
    requester: Customer,
    subject: str,
    body_html: str | None = None,
    body_text: str | None = None,
    channel: str = Channel.WEB,
    actor: User | None = None,
    team: Team | None = None,
    assignee: User | None = None,
    priority: str = Priority.NORMAL,
    ticket_type: str = TicketType.QUESTION,
    tags: Sequence[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    customer_fields_only: bool = False,
    files: Sequence[IncomingFile] = (),
    external_id: str = "",
    via: str | None = None,
    follow_up_of: Ticket | None = None,
    duplicate_checked: bool = False,
) -> tuple[Ticket, Message]:
    """`ticket_create`, also returning the message stored under (channel, external_id): the new
    ticket's first message, or the one an earlier (or concurrent) delivery of the same message made.

    duplicate_checked: the caller looked for (channel, external_id) in this transaction already
    (the intake does, under its lock), so the look-up is not repeated; a delivery that still races
    this one is caught by the unique index below all the same.
    """
    if not duplicate_checked:
        duplicate = existing_message(channel, external_id)
        if duplicate is not None:
            return duplicate.ticket, duplicate
    if team is None:
        team = default_team()
    cleaned_fields = validate_custom_fields(custom_fields, customer_only=customer_fields_only)
    subject = " ".join((subject or "").split())[:255] or "(no subject)"
    safe_html, text = message_bodies(body_html=body_html, body_text=body_text)
    via = via_for(actor, via or channel)
    from tickets.rules.engine import PRESTAGED_ATTRIBUTE, triggers_prestage

    try:
        # A savepoint (two round trips inside a caller's transaction) only for what can fail here and
        # leave the caller's transaction usable: the duplicate-delivery race below and a refused file.
        with transaction.atomic(savepoint=bool(external_id or files)):
            now = timezone.now()
            ticket = Ticket(
                subject=subject,
                status=Status.OPEN if assignee else Status.NEW,
                priority=priority,
                type=ticket_type,
                channel=channel,
                requester=requester,
                organization_id=requester.organization_id,
                team=team,
                assignee=assignee,
                tags=normalize_tags(tags),
                custom_fields=cleaned_fields,
                message_count=1,
                last_customer_message_at=now,
                follow_up_of=follow_up_of,
            )
            # The "created" triggers run on the ticket before its INSERT (tickets.rules.engine): it
            # is inserted with their field changes, so the SLA sync and the realtime event happen
            # once, for the ticket as it ends up, instead of again in a second update.
            prestaged = triggers_prestage(ticket=ticket, message_text=text, now=now)
            ticket.save(force_insert=True)
            # The number comes from the database sequence (db_default) in the INSERT's RETURNING.
            message = Message.objects.create(
                ticket=ticket,
                author_kind=AuthorKind.CUSTOMER,
                author_customer=requester,
                visibility=Visibility.PUBLIC,
                body_html=safe_html,
                body_text=text,
                channel=channel,
                external_id=external_id[:512],
            )
            for incoming in files:
                attachment_store(ticket=ticket, message=message, incoming=incoming)
            actor_kind = ActorKind.CUSTOMER if actor is None or not actor.is_staff_member else ActorKind.AGENT
            created = events.ticket_created_event(ticket=prestaged.initial_view(ticket) if prestaged.firings else ticket,
                                                  actor=actor, via=via, actor_kind=actor_kind)
            if follow_up_of is not None:
                events.record_many([created])
                events.follow_up_created(
                    ticket=ticket, closed_ticket=follow_up_of, actor=actor, via=via, actor_kind=actor_kind
                )
            # The trail reads as before: created as submitted, then the triggers' changes (one
            # statement for all of them: this is every new ticket's path).
            prestaged.write_events(ticket, leading=[] if follow_up_of is not None else [created])
            setattr(ticket, PRESTAGED_ATTRIBUTE, prestaged)
            sync_sla(ticket, reason="created")
            emit_ticket_event(ticket, "ticket.created")
    except IntegrityError:
        # Two deliveries of one message raced; the other one won and holds the ticket.
        duplicate = existing_message(channel, external_id)
        if duplicate is None:
            raise
        return duplicate.ticket, duplicate
    return ticket, message
