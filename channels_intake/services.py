"""The intake's actions: store what arrived (`raw_inbound_store`), retry it (failed) or release it
(suspended), and `ingest`, the single path from any channel into tickets."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from channels_intake.base import InboundMessage
from channels_intake.email.parser import message_id_key, normalise_message_id
from channels_intake.models import Door, RawInbound, RawInboundState
from tickets.models import Attachment, Customer, Message, Team, Ticket, User
from tickets.services import ticket_reply
from tickets.services.customers import customer_find_or_create
from tickets.services.ticket_create import existing_message, ticket_create_with_message

logger = logging.getLogger(__name__)

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MAX_HEADER_PEEK = 1024 * 1024
# Sanitised HTML always double-quotes attributes; the parser limits content ids to characters that
# need no quoting (channels_intake.email.parser.normalise_content_id).
_CID_SOURCE = re.compile(r'(\ssrc=")cid:([^"]+)(")')


# --- storing what arrived ---------------------------------------------------------------------


def peek_message_id(raw: bytes) -> str:
    """The Message-ID key of a raw mail from its header block alone, "" when there is none.

    Never raises: storing comes first, whatever the bytes are; the parser judges them later.
    """
    try:
        end = _HEADER_END.search(raw, 0, _MAX_HEADER_PEEK)
        head = raw[: end.start()] if end else raw[:_MAX_HEADER_PEEK]
        value = BytesHeaderParser(policy=compat32).parsebytes(head).get("Message-ID")
        message_id = normalise_message_id(str(value)) if value is not None else ""
        return message_id_key(message_id) if message_id else ""
    except Exception:  # noqa: BLE001 - a header we cannot read is the parser's business later
        return ""


def _enqueue_processing(raw_inbound_id: int) -> None:
    from channels_intake.tasks import process_raw_inbound

    process_raw_inbound.delay(raw_inbound_id)


def raw_inbound_store(
    *,
    raw: bytes,
    door: str,
    envelope_sender: str = "",
    envelope_recipients: Sequence[str] = (),
    remote_addr: str | None = None,
) -> RawInbound:
    """Store one delivery durably; its processing is queued once the row is committed.

    When this returns (outside any caller's transaction), the message is on disk in the database:
    only then may a door acknowledge it (SMTP 250, HTTP 202, IMAP flag or move). If the queue is
    unreachable at that moment the row stays `received` and the periodic sweep queues it later.
    """
    if door not in Door.values:
        raise ValueError(f"unknown door {door!r}")
    raw = bytes(raw)
    row = RawInbound(
        door=door,
        raw=raw,
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        header_message_id=peek_message_id(raw),
        envelope_sender=(envelope_sender or "")[:998],
        envelope_recipients=[recipient[:998] for recipient in envelope_recipients],
        remote_addr=remote_addr or None,
    )
    with transaction.atomic():
        row.save(force_insert=True)
        # robust: a broker that is down must not turn a stored message into an error for the sender.
        transaction.on_commit(lambda: _enqueue_processing(row.pk), robust=True)
    return row


def raw_inbound_retry(*, raw_inbound_id: int) -> bool:
    """Put a failed (or stuck) message back in the queue, e.g. after a fix; False if it is done already.

    Processed, duplicate and suspended messages stay as they are: a retry would only repeat the
    same outcome (suspension rules included); suspended mail is released instead (`raw_inbound_release`).
    """
    with transaction.atomic():
        locked = RawInbound.objects.select_for_update().only("pk", "state").filter(pk=raw_inbound_id).first()
        if locked is None or locked.state not in (RawInboundState.FAILED, RawInboundState.RECEIVED):
            return False
        RawInbound.objects.filter(pk=locked.pk).update(state=RawInboundState.RECEIVED, error="", processed_at=None)
        transaction.on_commit(lambda: _enqueue_processing(locked.pk), robust=True)
    return True


def raw_inbound_release(*, raw_inbound_id: int, actor: User | None) -> bool:
    """Release a suspended message: queue it to be processed as normal mail, without the screening
    that suspended it (loop, blocked sender, spam, sender rate); False if it is not suspended.

    Duplicates are still recognised (a copy ticketed meanwhile is not ticketed twice), and who
    released it and when stay on the row, with the reason it had been suspended for.
    """
    with transaction.atomic():
        locked = RawInbound.objects.select_for_update().only("pk", "state").filter(pk=raw_inbound_id).first()
        if locked is None or locked.state != RawInboundState.SUSPENDED:
            return False
        RawInbound.objects.filter(pk=locked.pk).update(
            state=RawInboundState.RECEIVED, error="", processed_at=None, released_at=timezone.now(), released_by=actor
        )
        transaction.on_commit(lambda: _enqueue_processing(locked.pk), robust=True)
    return True


# --- into tickets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    ticket: Ticket
    message: Message
    created_ticket: bool
    # The same (channel, external_id) was ingested before: nothing was added this time.
    is_duplicate: bool = False


def _link_inline_images(message: Message) -> None:
    """Point `cid:` images of the HTML at the stored attachments (served by the attachment view)."""
    if "cid:" not in (message.body_html or ""):
        return
    urls = {
        content_id: reverse("attachment_download", args=[attachment_id])
        for attachment_id, content_id in Attachment.objects.filter(message=message)
        .exclude(content_id="")
        .order_by("pk")
        .values_list("pk", "content_id")
    }
    if not urls:
        return

    def replace(match: re.Match[str]) -> str:
        url = urls.get(match.group(2))
        return f"{match.group(1)}{url}{match.group(3)}" if url else match.group(0)

    linked = _CID_SOURCE.sub(replace, message.body_html)
    if linked != message.body_html:
        Message.objects.filter(pk=message.pk).update(body_html=linked)
        message.body_html = linked


def ingest(inbound: InboundMessage, *, duplicate_checked: bool = False, customer: Customer | None = None) -> IngestResult:
    """Find or create the customer, continue their ticket or open one, append the message.

    Idempotent on (channel, external_id): delivering the same message again returns the first result.
    duplicate_checked: the caller looked the message up under a lock in this transaction already
    (the email processing does); a delivery racing it is still caught by the unique index.
    customer: the channel identified the sender itself (a chat visitor who gave no address is
    known by their visitor id, not by an email); else the customer is found by sender_email.
    """
    duplicate = None if duplicate_checked else existing_message(inbound.channel, inbound.external_id)
    if duplicate is not None:
        return IngestResult(ticket=duplicate.ticket, message=duplicate, created_ticket=False, is_duplicate=True)
    # No savepoint of its own: when a caller's transaction is open (the email processing opens one,
    # with its own savepoint around this call), a failure here rolls back with the caller's block;
    # called on its own, this is the transaction.
    with transaction.atomic(savepoint=False):
        if customer is None:
            customer = customer_find_or_create(
                email=inbound.sender_email, name=inbound.sender_name, language=inbound.language
            )
        existing = None
        if inbound.ticket_number is not None:
            tickets = Ticket.objects.filter(number=inbound.ticket_number)
            if not inbound.ticket_number_confirmed:
                tickets = tickets.filter(requester=customer)
            existing = tickets.first()
        if existing is not None:
            message = ticket_reply(
                ticket=existing, actor=None, author_customer=customer, body_html=inbound.body_html,
                body_text=inbound.body_text, files=inbound.files, channel=inbound.channel,
                external_id=inbound.external_id,
            )
            result = IngestResult(
                ticket=message.ticket, message=message, created_ticket=message.ticket.pk != existing.pk
            )
        else:
            team = Team.objects.filter(slug=inbound.team_slug).first() if inbound.team_slug else None
            # After a lost race the message returned is the winner's, looked up by its id: the
            # winner's ticket need not start with this message (the winner may have been a reply).
            ticket, message = ticket_create_with_message(
                requester=customer, subject=inbound.subject, body_html=inbound.body_html,
                body_text=inbound.body_text, channel=inbound.channel, team=team,
                priority=inbound.priority or "normal", tags=inbound.tags, custom_fields=inbound.custom_fields,
                files=inbound.files, external_id=inbound.external_id, duplicate_checked=True,
            )
            result = IngestResult(ticket=ticket, message=message, created_ticket=True)
        _link_inline_images(result.message)
        return result
