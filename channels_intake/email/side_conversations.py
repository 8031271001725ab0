"""Answers to side conversations (tickets.collaboration.side_conversations), recognised before a
mail is threaded to a ticket.

A mail answers a side conversation when its In-Reply-To / References name one of the
conversation's stored Message-IDs (or carry one of our `sc-<token>.…` ids), or when it was sent to
the conversation's reply address (`support+sc-<token>@…`). Its text goes into the conversation and
nowhere else: no ticket is opened, the requester's thread and the ticket's status are untouched,
and nothing is mailed to the requester. A mail that matches nothing takes the usual path.
"""

from __future__ import annotations

from collections.abc import Iterable

from channels_intake.email.classify import DeliveryReport
from channels_intake.email.parser import ParsedEmail, message_id_key
from channels_intake.email.threads import reference_keys
from channels_intake.email.tokens import split_address
from tickets.collaboration.side_conversations import (
    side_conversation_message_bounced,
    side_conversation_message_receive,
    token_from_message_id,
    token_from_tag,
)
from tickets.models import SideConversation, SideConversationMessage

_EMPTY_BODY = "(no text)"


def side_conversation_for(parsed: ParsedEmail, *, recipients: Iterable[str]) -> SideConversation | None:
    """The side conversation this mail answers, or None."""
    keys = reference_keys(parsed)
    if keys:
        # One query: the stored messages the mail points at (both directions: a participant may
        # answer another participant's mail with us in copy).
        conversation_ids = dict(
            SideConversationMessage.objects.filter(message_id__in=keys).values_list("message_id", "conversation_id")
        )
        conversation_id = next((conversation_ids[key] for key in keys if key in conversation_ids), None)
        if conversation_id is not None:
            return SideConversation.objects.select_related("ticket").filter(pk=conversation_id).first()
    tokens = [token for token in (token_from_message_id(key) for key in keys) if token]
    tokens += [token for token in (token_from_tag(split_address(address)[1]) for address in recipients) if token]
    for token in dict.fromkeys(tokens):
        conversation = SideConversation.objects.select_related("ticket").filter(token=token).first()
        if conversation is not None:
            return conversation
    return None


def side_conversation_reply_receive(*, parsed: ParsedEmail, conversation: SideConversation) -> str:
    """Keep the mail in `conversation`; returns the note for the stored inbound row."""
    # What the participant wrote now; their client's quote of our own mail is history we keep already.
    body_text, body_html = parsed.new_text, parsed.new_html
    if not (body_text or "").strip():
        body_text, body_html = parsed.body_text, parsed.body_html
    if not (body_text or "").strip() and not (body_html or "").strip():
        body_text, body_html = _EMPTY_BODY, None
    message, created = side_conversation_message_receive(
        conversation=conversation, from_email=parsed.from_address, message_id=parsed.external_id,
        body_text=body_text, body_html=body_html,
    )
    ticket_number = conversation.ticket.number
    if not created:
        return f"Delivered before: side conversation #{conversation.pk} on ticket #{ticket_number}."
    files = f" ({len(parsed.attachments)} attachment(s) not kept)" if parsed.attachments else ""
    return f"Added to side conversation #{conversation.pk} on ticket #{ticket_number}{files}."


def side_conversation_bounce(report: DeliveryReport, *, is_bounce: bool) -> str | None:
    """The note for a delivery report about one of our side-conversation mails (a bounce marks it
    `bounced`), None when the report is about no side-conversation mail."""
    key = message_id_key(report.original_message_id) if report.original_message_id else ""
    if not key or token_from_message_id(key) is None:
        return None
    if not is_bounce:
        return f"Delivery report about side-conversation mail {key}; nothing to change."
    message = side_conversation_message_bounced(message_id=key)
    if message is None:
        return None
    return (f"Bounce: side-conversation message #{message.pk} on ticket #{message.conversation.ticket.number}"
            " marked bounced.")
