"""The email channel's pure parsing layer: raw MIME bytes to `ParsedEmail` and `InboundMessage`.

Transports (SMTP listener, IMAP poller, HTTP relay endpoint) store the raw message first, then call
`parse_email`; see `channels_intake.email.parser` for the contract.
"""

from channels_intake.email.classify import DeliveryRecipient, DeliveryReport
from channels_intake.email.parser import (
    EmailAddress,
    EmailAttachment,
    ForwardedMessage,
    ParsedEmail,
    UnparseableEmail,
    message_id_key,
    normalise_message_id,
    parse_email,
    to_inbound_message,
)

__all__ = [
    "DeliveryRecipient",
    "DeliveryReport",
    "EmailAddress",
    "EmailAttachment",
    "ForwardedMessage",
    "ParsedEmail",
    "UnparseableEmail",
    "message_id_key",
    "normalise_message_id",
    "parse_email",
    "to_inbound_message",
]
