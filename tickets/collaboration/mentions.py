"""@mentions in internal notes: `@username` of a colleague who may see the ticket tells them about it
(an audit event, the mention mail, and a toast in their workspace).

A mention of someone who may not open the ticket (another team's agent) notifies nobody: the mail
and the toast would point them at a ticket they cannot read, and its subject alone could leak. The
author is told who was left out instead (`MentionOutcome.unreachable`). Words after @ that are not
a staff username (an @home, an email address) are plain text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models.functions import Lower

from helpdesk import permissions, realtime
from tickets import events
from tickets.models import STAFF_ROLES, Message, Ticket, User
from tickets.services.common import ticket_summary

# Django usernames are letters, digits and @.+-_; the @ is left out so an address (ana@example.com)
# never reads as a mention, and a mention must not follow a letter or another @.
MENTION_PATTERN = re.compile(r"(?<![\w@])@([\w.+-]*\w)")
# More would be a broadcast, not a mention; the rest are not looked up.
MAX_MENTIONS = 20
REALTIME_TYPE = "ticket.mentioned"


@dataclass
class MentionOutcome:
    """What a note's mentions did: who was told, and who could not be (they may not see the ticket)."""

    notified: list[User] = field(default_factory=list)
    unreachable: list[User] = field(default_factory=list)


def mentioned_usernames(text: str) -> list[str]:
    """The usernames `text` mentions, lowercased, each once, in order of first mention."""
    names: dict[str, None] = {}
    for match in MENTION_PATTERN.finditer(text or ""):
        names.setdefault(match.group(1).lower(), None)
        if len(names) >= MAX_MENTIONS:
            break
    return list(names)


def mentioned_staff(text: str) -> list[User]:
    """Active staff whose usernames `text` mentions (case-insensitive), in order of mention."""
    usernames = mentioned_usernames(text)
    if not usernames:
        return []
    found = {user.username.lower(): user
             for user in User.objects.annotate(username_lower=Lower("username"))
             .filter(username_lower__in=usernames, is_active=True, role__in=STAFF_ROLES)}
    return [found[name] for name in usernames if name in found]


def mentions_notify(*, ticket: Ticket, message: Message, actor: User, via: str) -> MentionOutcome:
    """Record and announce the mentions of an internal note, inside the note's transaction.

    Each colleague who may see the ticket gets a `mentioned` event (its mail is queued on commit by
    tickets.notifications) and a `ticket.mentioned` realtime event to their own sockets. Mentioning
    oneself does nothing.
    """
    outcome = MentionOutcome()
    for user in mentioned_staff(message.body_text):
        if user.pk == actor.pk:
            continue
        if not permissions.can_view_ticket(user, ticket):
            outcome.unreachable.append(user)
            continue
        events.ticket_mentioned(ticket=ticket, actor=actor, via=via, mentioned=user, message_id=message.pk)
        outcome.notified.append(user)
    if outcome.notified:
        # The socket checks the ticket summary against the listener's access again; the browser
        # shows its own translated words and only uses the number and the message id.
        event = {"type": REALTIME_TYPE, "ticket": ticket_summary(ticket), "message": message.pk,
                 "by": actor.pk}
        realtime.broadcast_after_commit([realtime.user_group(user.pk) for user in outcome.notified], event)
    return outcome
