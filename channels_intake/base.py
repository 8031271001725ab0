"""What every channel adapter produces (`InboundMessage`) and the small protocol adapters follow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tickets.services.attachments import IncomingFile


@dataclass(frozen=True)
class InboundMessage:
    """One message from outside, in the same shape whatever the channel.

    `external_id` is the channel's own id (Message-ID, chat client id, call id, webhook id): intake
    is idempotent on (channel, external_id).
    """

    channel: str
    sender_email: str = ""
    sender_name: str = ""
    sender_phone: str = ""
    subject: str = ""
    body_text: str | None = None
    body_html: str | None = None
    external_id: str = ""
    # Which ticket this continues, if the adapter already knows (number from a subject, reply token...).
    ticket_number: int | None = None
    # The adapter checked that this sender may continue ticket_number (a Message-ID of its thread, a
    # signed reply token, the requester's own ticket): ingest then skips its own check that the
    # sender is the ticket's requester. Leave False for a number that was merely quoted.
    ticket_number_confirmed: bool = False
    team_slug: str = ""
    priority: str = ""
    tags: Sequence[str] = ()
    custom_fields: dict[str, Any] = field(default_factory=dict)
    files: Sequence[IncomingFile] = ()
    language: str = ""


class ChannelAdapter(Protocol):
    """Turns what a channel delivers (a MIME message, a webhook body, a CSV row...) into InboundMessages."""

    channel: str

    def parse(self, payload: Any) -> Sequence[InboundMessage]: ...
