"""Adding to a ticket's thread: public replies (agents and customers), internal notes, automatic replies."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import permissions, realtime
from tickets import events, notifications
from tickets.models import (
    ActorKind,
    AuthorKind,
    Channel,
    Customer,
    DeliveryState,
    Event,
    Message,
    Status,
    Ticket,
    User,
    Visibility,
)
from tickets.services.attachments import IncomingFile, attachment_store
from tickets.services.common import emit_ticket_event, lock_ticket, sync_sla, ticket_event_deliveries, via_for
from tickets.services.ticket_create import existing_message, message_bodies, ticket_create
from tickets.services.ticket_fields import apply_status
from tickets.transitions import check_transition

# A customer writing again on these statuses means the ticket needs support again.
REOPENING_STATUSES = frozenset({Status.PENDING, Status.ON_HOLD, Status.SOLVED})


class TicketClosed(ValidationError):
    pass


def _require_body(text: str, files: Sequence[IncomingFile]) -> None:
    if not text.strip() and not files:
        raise ValidationError(_("Write a message or attach a file."), code="empty")


def ticket_reply(
    *,
    ticket: Ticket,
    actor: User | None,
    body_html: str | None = None,
    body_text: str | None = None,
    author_customer: Customer | None = None,
    files: Sequence[IncomingFile] = (),
    status: str | None = None,
    channel: str | None = None,
    external_id: str = "",
    via: str | None = None,
) -> Message:
    """A public reply. From staff it may set the status; from the customer it reopens the ticket.

    A customer message on a closed ticket becomes a new follow-up ticket (returned message is there).
    """
    channel = channel or Channel.WEB
    duplicate = existing_message(channel, external_id)
    if duplicate is not None:
        return duplicate
    is_agent = actor is not None and actor.is_staff_member
    if not is_agent:
        author_customer = author_customer or (getattr(actor, "customer", None) if actor else None)
        if author_customer is None or (actor is not None and not permissions.can_view_ticket(actor, ticket)):
            raise PermissionDenied(_("Only the requester or staff can reply."))
    safe_html, text = message_bodies(body_html=body_html, body_text=body_text)
    _require_body(text, files)
    via = via_for(actor, via or channel)

    try:
        with transaction.atomic():
            ticket = lock_ticket(ticket)
            if ticket.status == Status.CLOSED:
                if is_agent:
                    raise TicketClosed(_("This ticket is closed; open a follow-up ticket instead."), code="closed")
                follow_up = ticket_create(
                    requester=ticket.requester, subject=ticket.subject, body_html=safe_html, body_text=text,
                    channel=channel, actor=actor, team=ticket.team, priority=ticket.priority,
                    ticket_type=ticket.type, files=files, external_id=external_id, via=via, follow_up_of=ticket,
                )
                return follow_up.messages.order_by("id").first()
            if status is not None and not is_agent:
                raise PermissionDenied(_("Customers cannot set the status while replying."))
            now = timezone.now()
            # An agent's reply that the requester gets by mail is stored `queued`, with its Message-ID;
            # the mail itself goes out from a task after commit (channels_intake.email.outbound).
            from channels_intake.email.outbound import enqueue_delivery, queued_reply_fields

            mail_fields = queued_reply_fields(ticket=ticket, channel=channel, external_id=external_id) if is_agent else {}
            message = Message.objects.create(
                ticket=ticket,
                author_kind=AuthorKind.AGENT if is_agent else AuthorKind.CUSTOMER,
                author_user=actor,
                author_customer=None if is_agent else author_customer,
                visibility=Visibility.PUBLIC,
                body_html=safe_html,
                body_text=text,
                channel=mail_fields.get("channel", channel),
                external_id=mail_fields.get("external_id", external_id[:512]),
                delivery_state=mail_fields.get("delivery_state", ""),
            )
            if mail_fields:
                # robust: a broker outage must not fail the agent's reply; the message stays `queued`.
                message_pk = message.pk
                transaction.on_commit(lambda: enqueue_delivery(message_pk), robust=True)
            for incoming in files:
                attachment_store(ticket=ticket, message=message, incoming=incoming)
            actor_kind = ActorKind.AGENT if is_agent else ActorKind.CUSTOMER
            events.message_added(
                ticket=ticket, actor=actor, via=via, message_id=message.pk, visibility=Visibility.PUBLIC,
                actor_kind=actor_kind,
            )
            update_fields = ["message_count", "updated_at"]
            ticket.message_count += 1
            changes: dict[str, object] = {}
            if is_agent:
                ticket.last_agent_reply_at = now
                update_fields.append("last_agent_reply_at")
                if ticket.first_responded_at is None:
                    ticket.first_responded_at = now
                    update_fields.append("first_responded_at")
                target = status or (Status.OPEN if ticket.status == Status.NEW else None)
                if target and target != ticket.status:
                    check_transition(ticket.status, target)
                    changes["status"] = target
                    update_fields += apply_status(ticket=ticket, status=target, actor=actor, via=via)
            else:
                ticket.last_customer_message_at = now
                update_fields.append("last_customer_message_at")
                if ticket.status in REOPENING_STATUSES:
                    changes["status"] = Status.OPEN
                    update_fields += apply_status(
                        ticket=ticket, status=Status.OPEN, actor=actor, via=via, actor_kind=ActorKind.CUSTOMER
                    )
            ticket.save(update_fields=sorted(set(update_fields)))
            sync_sla(ticket, reason="agent_reply" if is_agent else "customer_message")
            emit_ticket_event(
                ticket, "ticket.message_added", changes=changes,
                extra={"message": {"id": message.pk, "visibility": Visibility.PUBLIC, "author_kind": message.author_kind}},
            )
    except IntegrityError:
        duplicate = existing_message(channel, external_id)
        if duplicate is None:
            raise
        return duplicate
    return message


@dataclass(frozen=True)
class CustomerLine:
    """A short text message from a ticket's requester continuing it: a live chat line."""

    ticket_id: int
    customer_id: int
    body_text: str
    external_id: str  # the channel's id of the line; required, lines are stored once


@dataclass(frozen=True)
class AppendedLine:
    message_id: int
    ticket_id: int
    created_at: datetime
    is_new: bool  # False: stored before under the same external id (a resend)


# The short path in one statement (one round trip, its own transaction when none is open): the
# lines of the quiet tickets (in the batch's order, so ids follow it; a line stored before, perhaps
# by a concurrent resend, is skipped and looked up afterwards), their audit events, and each
# ticket's counters; it returns the stored lines with their tickets as they now stand. The lines
# of other tickets come back neither stored nor found: they take `ticket_reply`.
_APPEND_LINES_SQL = """
    WITH line AS (
        SELECT * FROM unnest(%(ticket_ids)s::bigint[], %(customer_ids)s::bigint[], %(htmls)s::text[],
                             %(texts)s::text[], %(external_ids)s::text[])
             WITH ORDINALITY AS line(ticket_id, customer_id, body_html, body_text, external_id, position)
    ), quiet AS (
        -- The tickets these lines change nothing but the thread and counters of, locked (in id
        -- order, so two batches never deadlock; a ticket changed meanwhile is checked again as it
        -- now stands): every line from the requester, the ticket new or open (a line on a pending,
        -- on-hold or solved ticket reopens it), the requester already awaiting an answer (no agent
        -- reply yet, or the customer wrote last). Then no SLA timer starts, stops or moves.
        SELECT ticket.id FROM tickets_ticket AS ticket
        WHERE ticket.id IN (SELECT line.ticket_id FROM line)
          AND ticket.status IN ('new', 'open') AND ticket.merged_into_id IS NULL
          AND (ticket.last_agent_reply_at IS NULL OR ticket.last_customer_message_at > ticket.last_agent_reply_at)
          AND NOT EXISTS (SELECT 1 FROM line
                          WHERE line.ticket_id = ticket.id AND line.customer_id <> ticket.requester_id)
        ORDER BY ticket.id
        FOR UPDATE OF ticket
    ), added AS (
        INSERT INTO tickets_message (ticket_id, author_kind, author_customer_id, visibility, body_html, body_text,
                                     channel, external_id, delivery_state, raw_source, created_at)
        SELECT line.ticket_id, %(author_kind)s, line.customer_id, %(visibility)s, line.body_html, line.body_text,
               %(channel)s, line.external_id, '', '', %(now)s
        FROM line JOIN quiet ON quiet.id = line.ticket_id ORDER BY line.position
        ON CONFLICT DO NOTHING
        RETURNING id, ticket_id, external_id, created_at
    ), logged AS (
        INSERT INTO tickets_event (ticket_id, kind, actor_kind, actor_user_id, via, field, from_value, to_value,
                                   created_at)
        SELECT added.ticket_id, 'reply_added', %(actor_kind)s, NULL, %(via)s, '', NULL,
               jsonb_build_object('message', added.id), %(now)s
        FROM added ORDER BY added.id
    ), counted AS (
        UPDATE tickets_ticket AS ticket
        SET message_count = ticket.message_count + per_ticket.lines, updated_at = %(now)s,
            last_customer_message_at = %(now)s
        FROM (SELECT ticket_id, count(*) AS lines FROM added GROUP BY ticket_id) AS per_ticket
        WHERE ticket.id = per_ticket.ticket_id
        RETURNING ticket.id, ticket.number, ticket.status, ticket.priority, ticket.team_id, ticket.assignee_id,
                  ticket.requester_id, ticket.updated_at
    )
    SELECT added.id, added.ticket_id, added.external_id, added.created_at, counted.number, counted.status,
           counted.priority, counted.team_id, counted.assignee_id, counted.requester_id, counted.updated_at
    FROM added JOIN counted ON counted.id = added.ticket_id
    ORDER BY added.id
"""


def ticket_customer_lines_append(
    *, lines: Sequence[CustomerLine], channel: str, via: str
) -> list[AppendedLine | ValidationError | PermissionDenied | ObjectDoesNotExist]:
    """Store many customers' text lines on their tickets at once; results in the order of `lines`.

    Each line gets what `ticket_reply` gives a customer's message (the message, a `reply_added`
    event, the ticket's counters and `updated_at`, `ticket.message_added` after commit), but a batch
    costs a few statements instead of a dozen per line: live chat's lines are the busiest writes of
    the product (issue 6: 200 a second). A line that would change more than the thread (its ticket
    reopens, or an SLA timer starts) takes `ticket_reply` itself, one by one; if one of those is
    refused, its place in the result holds the error and the others stand. Idempotent on
    (channel, external_id). On a database error it raises; what was stored stays, and a resend is
    acknowledged with its id.
    """
    if not lines:
        return []
    for line in lines:
        if not line.external_id:
            raise ValueError("a customer line needs its external id")
        _require_body(line.body_text, ())
    results: dict[int, AppendedLine | ValidationError | PermissionDenied | ObjectDoesNotExist] = {}
    # One statement, atomic by itself: no BEGIN and COMMIT round trips around it (the realtime
    # events registered after it are sent at once, or when the caller's transaction commits).
    with connection.cursor() as cursor:
        results.update(_append_short(cursor, list(enumerate(lines)), channel=channel, via=via, now=timezone.now()))
    for index, line in enumerate(lines):
        if index in results:
            continue
        try:
            with transaction.atomic():
                results[index] = _append_long(line, channel=channel, via=via)
        except (ValidationError, PermissionDenied, ObjectDoesNotExist) as error:
            # This line alone is refused (its ticket was deleted, it is empty...): the others stand.
            results[index] = error
    return [results[index] for index in range(len(lines))]


def _append_short(cursor, short: list[tuple[int, CustomerLine]], *, channel: str, via: str,
                  now: datetime) -> dict[int, AppendedLine]:
    bodies = [message_bodies(body_html=None, body_text=line.body_text) for _, line in short]
    cursor.execute(_APPEND_LINES_SQL, {
        "ticket_ids": [line.ticket_id for _, line in short], "customer_ids": [line.customer_id for _, line in short],
        "htmls": [html for html, _text in bodies], "texts": [text for _html, text in bodies],
        "external_ids": [line.external_id[:512] for _, line in short],
        "author_kind": AuthorKind.CUSTOMER, "visibility": Visibility.PUBLIC, "channel": channel, "now": now,
        "actor_kind": ActorKind.CUSTOMER, "via": via,
    })
    inserted: dict[str, tuple[int, int, datetime]] = {}
    tickets: dict[int, Ticket] = {}
    for message_id, ticket_id, external_id, created_at, *ticket in cursor.fetchall():
        inserted[external_id] = (message_id, ticket_id, created_at)
        number, status, priority, team_id, assignee_id, requester_id, updated_at = ticket
        tickets[ticket_id] = Ticket(pk=ticket_id, number=number, status=status, priority=priority, team_id=team_id,
                                    assignee_id=assignee_id, requester_id=requester_id, updated_at=updated_at)
    stored_before = [line.external_id[:512] for _, line in short if line.external_id[:512] not in inserted]
    earlier: dict[str, tuple[int, int, datetime]] = {}
    if stored_before:
        earlier = {external_id: (message_id, ticket_id, created_at) for message_id, ticket_id, external_id, created_at
                   in Message.objects.filter(channel=channel, external_id__in=stored_before)
                   .values_list("pk", "ticket_id", "external_id", "created_at")}
    results: dict[int, AppendedLine] = {}
    seen: set[str] = set()
    for index, line in short:
        key = line.external_id[:512]
        # The same line twice in one batch (sent again before its acknowledgement came) is new once.
        is_new = key in inserted and key not in seen
        seen.add(key)
        stored = inserted.get(key) or earlier.get(key)
        if stored is None:
            continue  # its ticket is not quiet: ticket_reply's turn
        message_id, ticket_id, created_at = stored
        results[index] = AppendedLine(message_id=message_id, ticket_id=ticket_id, created_at=created_at,
                                      is_new=is_new)
    new = sorted((result for result in results.values() if result.is_new), key=lambda result: result.message_id)
    if not new:
        return results
    if notifications.notification_kind(Event(kind="reply_added", actor_kind=ActorKind.CUSTOMER, via=via)):
        # Not for chat lines (agents see them live); a channel whose lines call for agent mail gets it.
        for event in Event.objects.filter(kind="reply_added", ticket_id__in=tickets,
                                          to_value__message__in=[result.message_id for result in new]):
            notifications.notify_after_commit(event)
    # All the batch's events in one trip to Redis after the commit, not a trip per line.
    realtime.broadcast_many_after_commit([
        delivery
        for result in new
        for delivery in ticket_event_deliveries(
            tickets[result.ticket_id], "ticket.message_added", changes={},
            extra={"message": {"id": result.message_id, "visibility": Visibility.PUBLIC,
                               "author_kind": AuthorKind.CUSTOMER}},
        )
    ])
    return results


def _append_long(line: CustomerLine, *, channel: str, via: str) -> AppendedLine:
    started = timezone.now()
    ticket = Ticket.objects.select_related("requester").get(pk=line.ticket_id)
    if ticket.requester_id != line.customer_id:
        raise PermissionDenied(_("Only the requester or staff can reply."))
    message = ticket_reply(ticket=ticket, actor=None, author_customer=ticket.requester, body_text=line.body_text,
                           channel=channel, external_id=line.external_id, via=via)
    return AppendedLine(message_id=message.pk, ticket_id=message.ticket_id, created_at=message.created_at,
                        is_new=message.created_at >= started)


def ticket_add_note(
    *, ticket: Ticket, actor: User, body_html: str | None = None, body_text: str | None = None,
    files: Sequence[IncomingFile] = (), via: str | None = None,
) -> Message:
    """An internal note: staff only, never shown or sent to customers.

    Its @mentions notify the colleagues who may see the ticket (tickets.collaboration.mentions);
    `message.mention_outcome` says who was told and who could not be.
    """
    if not actor.is_staff_member:
        raise PermissionDenied(_("Only staff can add internal notes."))
    safe_html, text = message_bodies(body_html=body_html, body_text=body_text)
    _require_body(text, files)
    via = via_for(actor, via)
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        message = Message.objects.create(
            ticket=ticket,
            author_kind=AuthorKind.AGENT,
            author_user=actor,
            visibility=Visibility.INTERNAL,
            body_html=safe_html,
            body_text=text,
            channel=Channel.WEB if via == "web" else Channel.API if via == "api" else Channel.WEB,
        )
        for incoming in files:
            attachment_store(ticket=ticket, message=message, incoming=incoming)
        events.message_added(ticket=ticket, actor=actor, via=via, message_id=message.pk,
                             visibility=Visibility.INTERNAL)
        # @mentions tell colleagues who may see the ticket; the caller reads who could not be told.
        from tickets.collaboration.mentions import mentions_notify

        outcome = mentions_notify(ticket=ticket, message=message, actor=actor, via=via)
        message.mention_outcome = outcome  # type: ignore[attr-defined]
        ticket.message_count += 1
        ticket.save(update_fields=["message_count", "updated_at"])
        emit_ticket_event(
            ticket, "ticket.message_added", is_public=False,
            extra={"message": {"id": message.pk, "visibility": Visibility.INTERNAL, "author_kind": AuthorKind.AGENT}},
        )
    return message


def ticket_add_automatic_reply(
    *, ticket: Ticket, body_text: str, body_html: str | None = None, source: str = ""
) -> Message:
    """A public message the helpdesk wrote by itself (a new ticket's acknowledgement, a rule's mail),
    mailed to the requester as automatic mail (`Auto-Submitted: auto-replied`) by the outbound
    delivery task.

    It is no agent's reply: the first response, the last agent reply and the status stay as they
    were (the SLA still waits for a person). `source` says what wrote it (kept in `raw_source`),
    so the outbound mail can be built for it.
    """
    from channels_intake.email.outbound import enqueue_delivery, new_message_id

    def mail_fields(locked: Ticket) -> dict[str, object]:
        return {"channel": Channel.EMAIL, "external_id": new_message_id(locked),
                "delivery_state": DeliveryState.QUEUED, "raw_source": source[:255]}

    message = _system_message_add(ticket=ticket, body_text=body_text, body_html=body_html,
                                  visibility=Visibility.PUBLIC, via="email", actor_kind=ActorKind.SYSTEM,
                                  fields=mail_fields)
    # robust: a broker outage leaves the message `queued` for the resend sweep, not an error here.
    transaction.on_commit(lambda: enqueue_delivery(message.pk), robust=True)
    return message


def ticket_add_automatic_note(*, ticket: Ticket, body_text: str, via: str, body_html: str | None = None) -> Message:
    """An internal note the helpdesk wrote by itself (a rule's "add internal note", a macro applied by
    a rule): no agent wrote it, so it counts as no response; agents only, like any note."""
    return _system_message_add(ticket=ticket, body_text=body_text, body_html=body_html,
                               visibility=Visibility.INTERNAL, via=via, actor_kind=ActorKind.AUTOMATION,
                               fields=lambda _locked: {"channel": Channel.WEB})


def _system_message_add(
    *, ticket: Ticket, body_text: str, body_html: str | None, visibility: str, via: str, actor_kind: str,
    fields: Callable[[Ticket], dict[str, object]],
) -> Message:
    """A message with no person as author, its event, the ticket's counter and the realtime event,
    in one transaction (the caller's, if any: no savepoint of its own, a failure fails the caller's
    block). `fields` gives the message's channel fields for the locked ticket."""
    from tickets.services.reactions import running_context

    safe_html, text = message_bodies(body_html=body_html, body_text=body_text)
    _require_body(text, ())
    with transaction.atomic(savepoint=False):
        if running_context(ticket.pk) is None:
            ticket = lock_ticket(ticket)
            ticket.message_count += 1
            ticket.save(update_fields=["message_count", "updated_at"])
        else:
            # Written by a rule reacting to a change of this ticket: that change holds the row lock
            # already (a rule's note is on the hot path of ticket creation), so no lock and re-read,
            # and the counter is added to in the row, whatever our copy says.
            Ticket.objects.filter(pk=ticket.pk).update(message_count=F("message_count") + 1,
                                                       updated_at=timezone.now())
        message = Message.objects.create(
            ticket=ticket, author_kind=AuthorKind.SYSTEM, visibility=visibility, body_html=safe_html,
            body_text=text, **fields(ticket),
        )
        events.message_added(ticket=ticket, actor=None, via=via, message_id=message.pk, visibility=visibility,
                             actor_kind=actor_kind)
        emit_ticket_event(
            ticket, "ticket.message_added", is_public=visibility == Visibility.PUBLIC,
            extra={"message": {"id": message.pk, "visibility": visibility, "author_kind": AuthorKind.SYSTEM}},
        )
    return message
