"""Screening a mail before it becomes a ticket: blocked senders, the spam threshold, the sender rate.

A mail that fails screening is suspended, never dropped: the row keeps the raw message, the
reason (`RawInbound.suspension_reason`, a list filter in the admin) and a note for people; an
admin can release it (`channels_intake.services.raw_inbound_release`), and it is then processed
without screening. The own-address loop check and duplicates are handled by the processing
itself (`channels_intake.email.processing`): no list or release changes those.

Order of the rules, per team (the team of the thread the mail continues, else the team owning the
recipient, else the default team):
1. an allowed sender skips the spam threshold and the sender rate (and any blocked entry);
2. a blocked sender is suspended;
3. a spam score at or over the team's threshold (or the upstream filter's spam flag, when the team
   has a threshold) is suspended;
4. more than HELPDESK_EMAIL_SENDER_MAX_PER_MINUTE mails from one sender within a minute: the
   further ones are suspended.

The sender rate is counted by PostgreSQL over the stored rows (`RawInbound.from_address`, one
index range): the count is then the same for every worker, door and process, survives restarts,
needs no second store to keep in step (a Redis counter could be flushed or count mail whose
transaction rolled back), and it is the very record an admin looks at. Rows are counted once they
are processed (their sender is read from the headers then); the intake queue is worked in order,
so a burst is counted as it is processed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models.functions import Lower

from channels_intake.email.classify import matching_sender_entry
from channels_intake.email.parser import ParsedEmail
from channels_intake.models import RawInbound, RawInboundState, SuspensionReason, TeamEmailSettings
from tickets.models import Team

DEFAULT_SENDER_MAX_PER_MINUTE = 20
RATE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class Suspension:
    reason: SuspensionReason
    note: str


def team_email_settings(team_id: int | None) -> TeamEmailSettings | None:
    """The team's email settings, None when it has none (nothing to screen, no acknowledgement)."""
    if team_id is None:
        return None
    return TeamEmailSettings.objects.filter(team_id=team_id).first()


def default_team_id() -> int | None:
    """The team unrouted mail goes to (as `ticket_create` decides), for its screening rules."""
    return Team.objects.filter(slug=settings.HELPDESK_DEFAULT_TEAM).values_list("pk", flat=True).first()


def sender_max_per_minute() -> int:
    return int(getattr(settings, "HELPDESK_EMAIL_SENDER_MAX_PER_MINUTE", DEFAULT_SENDER_MAX_PER_MINUTE))


def _spam_suspension(parsed: ParsedEmail, threshold: Decimal | None) -> Suspension | None:
    if threshold is None:
        return None
    score = parsed.spam_score
    if score is not None and Decimal(str(score)) >= threshold:
        return Suspension(
            SuspensionReason.SPAM, f"Spam score {score:g} is at or over the team's threshold {threshold:g}."
        )
    if parsed.is_spam_flagged:
        return Suspension(SuspensionReason.SPAM, "Flagged as spam by the filter upstream (X-Spam-Flag / X-Spam-Status).")
    return None


def _sender_rate_suspension(row: RawInbound, address: str) -> Suspension | None:
    limit = sender_max_per_minute()
    if not address or limit <= 0:
        return None
    received_at = row.received_at
    earlier = (
        RawInbound.objects.alias(sender=Lower("from_address"))
        .filter(sender=address, received_at__gt=received_at - RATE_WINDOW, received_at__lte=received_at)
        .exclude(from_address="")
        .exclude(pk=row.pk)
        .exclude(state=RawInboundState.DUPLICATE)  # one mail delivered through two doors is one mail
        .count()
    )
    if earlier < limit:
        return None
    return Suspension(
        SuspensionReason.SENDER_RATE,
        f"{earlier + 1} mails from {address} within a minute (the limit is {limit}): suspended until the sender "
        "slows down.",
    )


def screen(*, row: RawInbound, parsed: ParsedEmail, team_id: int | None) -> Suspension | None:
    """Why this mail must be suspended for the team `team_id`, None when it may be processed."""
    address = (parsed.from_address or "").strip().lower()
    team_settings = team_email_settings(team_id)
    if team_settings is not None:
        allowed = matching_sender_entry(address, team_settings.allowed_senders)
        if allowed:
            return None
        blocked = matching_sender_entry(address, team_settings.blocked_senders)
        if blocked:
            return Suspension(
                SuspensionReason.BLOCKED, f"Sender {address} is blocked for team {team_settings.team} ({blocked})."
            )
        spam = _spam_suspension(parsed, team_settings.spam_score_threshold)
        if spam is not None:
            return spam
    return _sender_rate_suspension(row, address)
