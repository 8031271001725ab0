"""Which ticket a mail continues, in the order of issue 3.

1. `In-Reply-To` / `References` against the Message-IDs we stored (inbound and outbound messages of
   the email channel; `tickets.Message.external_id`, one indexed query for all ids);
2. the ticket number tag in the subject (`[#10023]`, the tag prefix is HELPDESK_EMAIL_TICKET_TAG),
   wherever reply prefixes (Re:, AW:, SV:, 回复：, 回覆：, 答复：…) put it, and only for the
   ticket's own requester, because a number is easy to guess;
3. a signed reply token in a recipient address (`support+<token>@…`).

A Message-ID of the thread or a valid token shows that the sender was sent the ticket's mail, so
such a match continues the ticket whoever the sender is (a colleague in CC replying, say); a
subject tag only continues the requester's own ticket. Merged tickets lead to the ticket they
were merged into.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from channels_intake.email.parser import ParsedEmail, message_id_key
from channels_intake.email.tokens import ticket_id_from_address
from tickets.models import Channel, Customer, Message, Ticket

_MAX_REFERENCES = 100  # the newest ids of a long References header are the ones that can match
_MAX_MERGE_HOPS = 10


class ThreadMethod:
    REFERENCES = "references"
    SUBJECT = "subject"
    REPLY_TOKEN = "reply_token"  # noqa: S105 - a method name, no secret


@dataclass(frozen=True)
class ThreadMatch:
    ticket: Ticket
    method: str


@lru_cache(maxsize=8)
def _tag_pattern(tag: str) -> re.Pattern[str]:
    tag = unicodedata.normalize("NFKC", tag).strip()
    return re.compile(r"[\[【]\s*" + re.escape(tag) + r"\s*(\d{1,18})\s*[\]】]", re.IGNORECASE)


def ticket_number_in_subject(subject: str) -> int | None:
    """The ticket number of the first `[#<number>]` tag in the subject, if any.

    NFKC first, so full-width ＃ and digits from Chinese input methods read as ASCII; 【#123】 counts too.
    """
    text = unicodedata.normalize("NFKC", subject or "")
    match = _tag_pattern(settings.HELPDESK_EMAIL_TICKET_TAG).search(text)
    return int(match.group(1)) if match else None


def reference_keys(parsed: ParsedEmail) -> list[str]:
    """The Message-IDs a reply points at, most specific first: In-Reply-To, then References newest first."""
    ids = [parsed.in_reply_to, *reversed(parsed.references[-_MAX_REFERENCES:])]
    return list(dict.fromkeys(message_id_key(value) for value in ids if value))


def _follow_merges(ticket: Ticket | None) -> Ticket | None:
    for _ in range(_MAX_MERGE_HOPS):
        if ticket is None or ticket.merged_into_id is None:
            return ticket
        ticket = Ticket.objects.filter(pk=ticket.merged_into_id).first()
    return ticket


def _by_references(keys: Sequence[str]) -> Ticket | None:
    if not keys:
        return None
    # One query: the messages with their tickets (not the messages' bodies).
    tickets = {
        message.external_id: message.ticket
        for message in Message.objects.filter(channel=Channel.EMAIL, external_id__in=keys)
        .exclude(external_id="")  # lets PostgreSQL use the partial unique index on (channel, external_id)
        .select_related("ticket")
        .only("external_id", "ticket")
    }
    return next((tickets[key] for key in keys if key in tickets), None)


def find_thread(
    parsed: ParsedEmail, *, recipients: Iterable[str], sender: Customer | None
) -> ThreadMatch | None:
    """The ticket this mail continues, or None when it starts a new conversation."""
    ticket = _follow_merges(_by_references(reference_keys(parsed)))
    if ticket is not None:
        return ThreadMatch(ticket=ticket, method=ThreadMethod.REFERENCES)
    number = ticket_number_in_subject(parsed.subject)
    if number is not None and sender is not None:
        # The requester is checked on the tagged ticket: a merge may have moved them to another requester's.
        ticket = _follow_merges(Ticket.objects.filter(number=number, requester=sender).first())
        if ticket is not None:
            return ThreadMatch(ticket=ticket, method=ThreadMethod.SUBJECT)
    for address in recipients:
        ticket_id = ticket_id_from_address(address)
        if ticket_id is not None:
            ticket = _follow_merges(Ticket.objects.filter(pk=ticket_id).first())
            if ticket is not None:
                return ThreadMatch(ticket=ticket, method=ThreadMethod.REPLY_TOKEN)
    return None
