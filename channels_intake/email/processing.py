"""Processing one stored mail: parse, screen (duplicates, loops, bounces, then the team's rules in
`channels_intake.email.screening`), thread, ingest, acknowledge a new ticket.

`raw_inbound_process` is what the `email_in` Celery task runs. It is idempotent: it takes the
row's lock and only works on a row still `received`; its outcome (processed, failed, suspended,
duplicate) is written on the row in the same transaction as the ticket changes, so a crash
leaves either both or neither.
"""

from __future__ import annotations

import enum
import logging
import traceback
from dataclasses import replace

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from channels_intake.email.acknowledgements import acknowledge_new_ticket
from channels_intake.email.bounces import message_mark_bounced, outbound_message_for
from channels_intake.email.mailboxes import Mailboxes
from channels_intake.email.parser import ParsedEmail, UnparseableEmail, parse_email, to_inbound_message
from channels_intake.email.screening import Suspension, default_team_id, screen, team_email_settings
from channels_intake.email.side_conversations import (
    side_conversation_bounce,
    side_conversation_for,
    side_conversation_reply_receive,
)
from channels_intake.email.threads import ThreadMatch, find_thread, reference_keys
from channels_intake.models import RawInbound, RawInboundState, SuspensionReason
from channels_intake.services import ingest
from tickets.models import Channel, Message, Ticket
from tickets.services.customers import customer_by_email

logger = logging.getLogger(__name__)

# A reply whose parent is stored but not processed yet waits (a few seconds each time) this many
# attempts before it is processed on its own: a reply must not beat its parent to a new ticket.
MAX_PARENT_WAITS = 5
PARENT_WAIT_SECONDS = 2.0
_EMPTY_BODY = "(no text)"
# What processing records on the row; the delivery (raw bytes, envelope) stays as it was stored.
_PROCESSING_FIELDS = [
    "state", "processed_at", "attempts", "header_message_id", "external_id", "from_address", "subject", "cc",
    "is_auto_submitted", "error", "note", "ticket", "message", "duplicate_of", "suspension_reason", "auto_reply",
]


class Outcome(enum.Enum):
    PROCESSED = RawInboundState.PROCESSED
    FAILED = RawInboundState.FAILED
    SUSPENDED = RawInboundState.SUSPENDED
    DUPLICATE = RawInboundState.DUPLICATE
    WAITING_FOR_PARENT = "waiting"  # still `received`: process again after PARENT_WAIT_SECONDS
    NOTHING_TO_DO = "nothing"  # not `received` (done before), or gone


def _describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(str(message) for message in error.messages)
    return str(error) or type(error).__name__


def _lock_external_id(external_id: str) -> None:
    """Serialise the processing of one message delivered twice (SMTP and HTTP, say) until commit."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7123))", [f"email:{external_id}"])


def _record_parsed(row: RawInbound, parsed: ParsedEmail) -> None:
    row.external_id = parsed.external_id
    row.from_address = parsed.from_address[:998]
    row.subject = parsed.subject[:998]
    row.cc = [{"address": item.address, "name": item.name} for item in parsed.cc]
    row.is_auto_submitted = parsed.is_auto_submitted
    if not row.header_message_id and parsed.message_id:
        row.header_message_id = parsed.external_id


def _as_duplicate(row: RawInbound, parsed: ParsedEmail) -> bool:
    """Mark `row` a duplicate when the same message was handled before, through any door."""
    message = (
        Message.objects.filter(channel=Channel.EMAIL, external_id=parsed.external_id)
        .exclude(external_id="")
        .only("pk", "ticket_id")
        .first()
    )
    earlier = (
        RawInbound.objects.filter(
            external_id=parsed.external_id,
            state__in=(RawInboundState.PROCESSED, RawInboundState.SUSPENDED),
        )
        .exclude(pk=row.pk)
        .only("pk", "ticket_id", "message_id")
        .order_by("pk")
        .first()
    )
    if message is None and earlier is None:
        return False
    row.state = RawInboundState.DUPLICATE
    row.duplicate_of = earlier
    if message is not None:
        row.ticket_id, row.message_id = message.ticket_id, message.pk
    elif earlier is not None:
        row.ticket_id, row.message_id = earlier.ticket_id, earlier.message_id
    row.note = "Delivered before" + (f" (inbound message #{earlier.pk})" if earlier else "")
    return True


def _handle_delivery_report(row: RawInbound, parsed: ParsedEmail) -> None:
    report = parsed.delivery_report
    assert report is not None
    target = outbound_message_for(report)
    row.state = RawInboundState.PROCESSED
    if target is None:
        row.note = side_conversation_bounce(report, is_bounce=parsed.is_bounce) or (
            "Delivery report about a message we do not know; no ticket opened."
        )
        return
    row.ticket_id, row.message_id = target.ticket_id, target.pk
    if parsed.is_bounce:
        changed = message_mark_bounced(message=target, report=report)
        row.note = f"Bounce: message #{target.pk} on ticket #{target.ticket.number} marked bounced" + (
            "" if changed else " (it already was)"
        )
    else:
        actions = ", ".join(sorted({r.action for r in report.recipients if r.action})) or "no action"
        row.note = f"Delivery report ({actions}) for message #{target.pk} on ticket #{target.ticket.number}."


def _parent_is_waiting(row: RawInbound, parsed: ParsedEmail) -> bool:
    keys = reference_keys(parsed)
    if not keys or row.attempts > MAX_PARENT_WAITS:
        return False
    return (
        RawInbound.objects.filter(header_message_id__in=keys, state=RawInboundState.RECEIVED).exclude(pk=row.pk).exists()
    )


def _suspend(row: RawInbound, suspension: Suspension) -> Outcome:
    row.state = RawInboundState.SUSPENDED
    row.suspension_reason = suspension.reason
    row.note = f"{suspension.note} Not ticketed, not answered; an admin may release it."
    return Outcome.SUSPENDED


def _screening_team_id(match: ThreadMatch | None, mailboxes: Mailboxes, recipients: list[str]) -> int | None:
    """The team whose rules apply: the thread's team, else the recipient's, else the default team."""
    if match is not None:
        return match.ticket.team_id
    for address in recipients:
        team_id = mailboxes.team_id_for(address)
        if team_id is not None:
            return team_id
    return default_team_id()


def _acknowledge(row: RawInbound, parsed: ParsedEmail, ticket: Ticket, mailboxes: Mailboxes) -> str:
    """Acknowledge a ticket this mail opened; a fault there never costs the customer their ticket."""
    team_settings = team_email_settings(ticket.team_id)
    if team_settings is None or not team_settings.acknowledgement_enabled:
        return ""  # most mail: one query, no savepoint
    try:
        with transaction.atomic():
            message, note = acknowledge_new_ticket(
                row=row, parsed=parsed, ticket=ticket, mailboxes=mailboxes, team_settings=team_settings
            )
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:  # noqa: BLE001 - the ticket stands; the admin sees why no acknowledgement went
        logger.exception("Acknowledging ticket #%s failed", ticket.number)
        return f"No acknowledgement: {type(error).__name__}: {error}"
    row.auto_reply = message
    return note


def _process(row: RawInbound) -> Outcome:
    parsed = parse_email(bytes(row.raw))
    _record_parsed(row, parsed)
    _lock_external_id(parsed.external_id)
    if _as_duplicate(row, parsed):
        return Outcome.DUPLICATE
    # An admin released this mail: they judged it, so no screening rule suspends it again.
    is_released = row.released_at is not None
    mailboxes = Mailboxes.load()
    if mailboxes.is_own(parsed.from_address) and not is_released:
        return _suspend(row, Suspension(
            SuspensionReason.LOOP, f"From our own address {parsed.from_address}: a mail loop?"
        ))
    if parsed.delivery_report is not None:
        _handle_delivery_report(row, parsed)
        return Outcome.PROCESSED

    recipients = [
        *row.envelope_recipients,
        *(item.address for item in parsed.to),
        *(item.address for item in parsed.cc),
        *(parsed.header(name) for name in ("Delivered-To", "X-Original-To") if parsed.header(name)),
    ]
    conversation = side_conversation_for(parsed, recipients=recipients)
    if conversation is not None:
        # A participant answering an agent's side conversation: it stays in the conversation, never
        # in the requester's thread (no ticket, no status change, no mail to the requester). The
        # Message-ID or the random token shows the sender got our mail, so no screening rule applies.
        row.note = side_conversation_reply_receive(parsed=parsed, conversation=conversation)
        row.ticket_id, row.state = conversation.ticket_id, RawInboundState.PROCESSED
        return Outcome.PROCESSED
    match = find_thread(parsed, recipients=recipients, sender=customer_by_email(parsed.from_address))
    if not is_released:
        suspension = screen(row=row, parsed=parsed, team_id=_screening_team_id(match, mailboxes, recipients))
        if suspension is not None:
            return _suspend(row, suspension)
    if match is None and _parent_is_waiting(row, parsed):
        return Outcome.WAITING_FOR_PARENT
    inbound = to_inbound_message(
        parsed, team_slug=mailboxes.team_slug_for(recipients) if match is None else "", full_body=match is None
    )
    body_text, body_html = inbound.body_text, inbound.body_html
    if not (body_text or "").strip() and match is not None:
        # Nothing but quoted history (or a signature): keep the whole mail rather than nothing.
        body_text, body_html = parsed.body_text, parsed.body_html
    if not (body_text or "").strip() and not inbound.files:
        body_text, body_html = _EMPTY_BODY, None
    inbound = replace(
        inbound,
        body_text=body_text,
        body_html=body_html,
        # The door held the whole mail to HELPDESK_EMAIL_MAX_BYTES; its files are not held to the
        # (smaller) web upload limit again, or a mail we accepted could fail over its attachment.
        files=tuple(replace(file, max_size=int(settings.HELPDESK_EMAIL_MAX_BYTES)) for file in inbound.files),
        ticket_number=match.ticket.number if match else None,
        ticket_number_confirmed=match is not None,
    )
    # _as_duplicate looked the message up above, under the advisory lock of its id.
    result = ingest(inbound, duplicate_checked=True)
    row.ticket_id, row.message_id = result.ticket.pk, result.message.pk
    if result.is_duplicate:
        row.state = RawInboundState.DUPLICATE
        row.note = "Delivered before"
        return Outcome.DUPLICATE
    row.state = RawInboundState.PROCESSED
    if match is None:
        row.note = f"Opened ticket #{result.ticket.number}."
    elif result.created_ticket:
        row.note = f"Ticket #{match.ticket.number} is closed: opened follow-up #{result.ticket.number}."
    else:
        row.note = f"Added to ticket #{result.ticket.number} (matched by {match.method.replace('_', ' ')})."
    if is_released:
        row.note = f"Released from suspension. {row.note}"
    if result.created_ticket:
        acknowledgement_note = _acknowledge(row, parsed, result.ticket, mailboxes)
        if acknowledgement_note:
            row.note = f"{row.note} {acknowledgement_note}"
    return Outcome.PROCESSED


def raw_inbound_process(*, raw_inbound_id: int) -> Outcome:
    """Process one stored mail, once. Database outages propagate (the task retries); anything else
    that goes wrong leaves the message `failed` with the reason, for the failed-mail inbox."""
    with transaction.atomic():
        row = RawInbound.objects.select_for_update().filter(pk=raw_inbound_id).first()
        if row is None or row.state != RawInboundState.RECEIVED:
            return Outcome.NOTHING_TO_DO
        row.attempts += 1
        row.error = ""
        try:
            with transaction.atomic():
                outcome = _process(row)
        except (OperationalError, InterfaceError):
            raise
        except (UnparseableEmail, ValidationError, PermissionDenied) as error:
            outcome = Outcome.FAILED
            row.state, row.error = RawInboundState.FAILED, _describe(error)
        except Exception as error:  # noqa: BLE001 - a bug (or a DataError) must not lose the mail
            logger.exception("Processing inbound message %s failed", raw_inbound_id)
            outcome = Outcome.FAILED
            row.state = RawInboundState.FAILED
            row.error = f"Internal error: {type(error).__name__}: {error}\n\n" + "".join(
                traceback.format_exception(error)[-6:]
            )
        if outcome is not Outcome.WAITING_FOR_PARENT:
            row.processed_at = timezone.now()
        row.save(update_fields=_PROCESSING_FIELDS)  # never rewrite the raw bytes
        return outcome
