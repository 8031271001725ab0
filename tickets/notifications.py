"""Agents' email notifications: a ticket was assigned to them, its customer wrote again, or an SLA
target is about to be missed or was missed.

Who gets mail (Zendesk's and Zammad's defaults):
- *assigned*: the new assignee, when someone else (another agent, routing, the system) assigned the
  ticket to them; assigning oneself mails nothing.
- *customer replied*: when the customer adds a public message (any channel), the assignee; on an
  unassigned ticket the members of its team (nobody when it has no team).
- *SLA warning* / *SLA breached* (the scan's `sla_warning` / `sla_breached` events): the assignee, on
  an unassigned ticket its team's members; on a breach also the policy's `escalate_notify` people
  (a manager). The same people get the in-app notice (tickets.sla.actions). A warning whose target
  was met or cancelled before the mail left is not sent: it would ask for what was already done.
- *mentioned*: the colleague an internal note @mentions (tickets.collaboration.mentions), always.
- *status changed*: a ticket's followers (tickets.collaboration), when someone else changed its status
  (a customer's reply that reopens it mails them as *customer replied* instead, and the automatic
  close of a solved ticket mails nobody). Followers also get the *customer replied* mail.
- *side conversation reply*: a third party answered a side conversation
  (tickets.collaboration.side_conversations): the assignee (on an unassigned ticket its team) and
  the agent who started the conversation.
Never the person who acted, never an inactive user, never anyone but staff who may see the ticket
(`helpdesk.permissions.can_view_ticket`), and nobody who switched that kind off
(`User.notify_on_assignment`, `User.notify_on_customer_reply`, `User.notify_on_sla`).

The trigger is the audit trail: `tickets.events` hands every event it records to
`notify_after_commit`, which queues `tickets.tasks.notify_agents` with the event's id once the
ticket's transaction commits (events are durable, so the task can always rebuild the mail). The
task sends one mail per recipient and records it in `NotificationDelivery` (unique per event and
recipient), so a retried or duplicated task never mails anyone twice. Nothing is sent inside a
request or a ticket transaction.
"""

from __future__ import annotations

import logging
import smtplib
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets.models import (
    STAFF_ROLES,
    ActorKind,
    AuthorKind,
    Event,
    Message,
    Metric,
    NotificationDelivery,
    NotificationState,
    SlaPolicy,
    SlaTimer,
    Status,
    Ticket,
    TimerState,
    User,
    Visibility,
)

logger = logging.getLogger(__name__)

ASSIGNED = "assigned"
CUSTOMER_REPLIED = "customer_replied"
SLA_WARNING = "sla_warning"
SLA_BREACHED = "sla_breached"
SLA_KINDS = (SLA_WARNING, SLA_BREACHED)
MENTIONED = "mentioned"
STATUS_CHANGED = "status_changed"
COLLABORATION_KINDS = (MENTIONED, STATUS_CHANGED)
# A participant answered a side conversation (tickets.collaboration.side_conversations).
SIDE_CONVERSATION_REPLIED = "side_conversation_reply"
# The user field that switches each kind on or off. SLA mails have none: missing a target is what
# the people responsible must hear about (the in-app notice says it too).
PREFERENCE_FIELDS = {ASSIGNED: "notify_on_assignment", CUSTOMER_REPLIED: "notify_on_customer_reply"}
EXCERPT_CHARS = 500


def _assignee_of(event: Event) -> int | None:
    """The user an assignment event gave the ticket to (None for an unassignment or another event).

    A ticket created assigned (an agent logging a call for a colleague) counts as assigned: its
    `created` event does not name the assignee, the ticket does.
    """
    if event.kind == "assignee_changed":
        return event.to_value if isinstance(event.to_value, int) else None
    if event.kind == "created":
        return event.ticket.assignee_id
    return None


def notification_kind(event: Event) -> str | None:
    """Which notification an event calls for, if any. Needs no query (runs for every event)."""
    assignee_id = _assignee_of(event)
    if assignee_id is not None:
        return ASSIGNED if assignee_id != event.actor_user_id else None
    # A live chat's lines reach the agents in the chat console as they are typed; a mail for each
    # would be noise (and a task per chat line).
    if event.kind == "reply_added" and event.actor_kind == ActorKind.CUSTOMER and event.via != "chat":
        return CUSTOMER_REPLIED
    if event.kind in SLA_KINDS:  # the scan's events carry the same names
        return event.kind
    if event.kind == "mentioned":
        return MENTIONED
    if event.kind == SIDE_CONVERSATION_REPLIED:
        return SIDE_CONVERSATION_REPLIED
    if event.kind == "status_changed" and _status_change_tells_followers(event):
        return STATUS_CHANGED
    return None


def _status_change_tells_followers(event: Event) -> bool:
    # The customer's reply that reopened the ticket has its own mail; closing a solved ticket is
    # bookkeeping (the solve was the news).
    if event.actor_kind == ActorKind.CUSTOMER and event.to_value == "open":
        return False
    return not (event.from_value == "solved" and event.to_value == "closed")


def notifications_enabled() -> bool:
    # Read at use time so tests and imports can switch it. History imports and the demo seed turn
    # off mail with HELPDESK_EMAIL_REPLIES=False; agents should not get a mail per replayed event either.
    return bool(getattr(settings, "HELPDESK_AGENT_NOTIFICATIONS", True)) and bool(
        getattr(settings, "HELPDESK_EMAIL_REPLIES", True)
    )


def enqueue_notifications(event_id: int) -> None:
    from tickets.tasks import notify_agents

    notify_agents.delay(event_id)


def notify_after_commit(event: Event) -> None:
    """Queue the notification task for `event` once the current transaction commits (if it calls for one)."""
    if notification_kind(event) is None or not notifications_enabled():
        return
    event_id = event.pk
    if notification_kind(event) == STATUS_CHANGED:
        # Most tickets have no followers: look (after the commit, outside the change's statements)
        # before queueing a task for every status change.
        ticket_id = event.ticket_id
        transaction.on_commit(lambda: _enqueue_if_followed(event_id, ticket_id), robust=True)
        return
    # robust: a broker outage must not fail the ticket change that was just committed.
    transaction.on_commit(lambda: enqueue_notifications(event_id), robust=True)


def _enqueue_if_followed(event_id: int, ticket_id: int) -> None:
    from tickets.models import TicketFollower

    if TicketFollower.objects.filter(ticket_id=ticket_id).exists():
        enqueue_notifications(event_id)


# --- who ------------------------------------------------------------------------------------------


def sla_recipients(*, ticket: Ticket, policy: SlaPolicy | None, is_breach: bool) -> list[User]:
    """Who hears about an SLA warning or breach on `ticket`, as it stands now: its assignee (else its
    team's members), and on a breach the policy's escalation contacts. Active staff who may see the
    ticket, with an email address or not (the in-app notice needs none)."""
    if ticket.assignee_id is not None:
        responsible = Q(pk=ticket.assignee_id)
    elif ticket.team_id is not None:
        responsible = Q(team_memberships__team_id=ticket.team_id)
    else:
        responsible = Q(pk__in=[])
    if is_breach and policy is not None:
        responsible |= Q(pk__in=policy.escalate_notify.values("pk"))
    candidates = User.objects.filter(responsible, is_active=True, role__in=STAFF_ROLES).distinct().order_by("pk")
    return [user for user in candidates if permissions.can_view_ticket(user, ticket)]


def _sla_timer_of(event: Event) -> SlaTimer | None:
    timer_id = event.to_value.get("timer") if isinstance(event.to_value, dict) else None
    if not isinstance(timer_id, int):
        return None
    return SlaTimer.objects.select_related("policy").filter(pk=timer_id).first()



def notification_recipients(event: Event, kind: str) -> list[User]:
    """The staff users who get `kind` mail about `event`, as the ticket stands now."""
    ticket = event.ticket
    if kind == ASSIGNED:
        assignee_id = _assignee_of(event)
        # Reassigned (or unassigned) again before the mail left: the mail would point them at a ticket
        # that is no longer theirs.
        if assignee_id is None or ticket.assignee_id != assignee_id:
            return []
        if event.kind == "created" and Event.objects.filter(ticket_id=ticket.pk, kind="assignee_changed").exists():
            return []  # assigned again since: that event's mail is the one that counts
        candidates = User.objects.filter(pk=assignee_id)
    elif kind == CUSTOMER_REPLIED:
        if ticket.assignee_id is not None:
            candidates = User.objects.filter(pk=ticket.assignee_id)
        elif ticket.team_id is not None:
            candidates = User.objects.filter(team_memberships__team_id=ticket.team_id)
        else:
            candidates = User.objects.none()
        # Followers hear what the assignee hears (under the same preference).
        candidates = User.objects.filter(Q(pk__in=candidates.values("pk")) | Q(followed_tickets__ticket_id=ticket.pk))
    elif kind == MENTIONED:
        user_id = event.to_value.get("user") if isinstance(event.to_value, dict) else None
        if not isinstance(user_id, int):
            return []
        candidates = User.objects.filter(pk=user_id)
    elif kind == STATUS_CHANGED:
        candidates = User.objects.filter(followed_tickets__ticket_id=ticket.pk)
    elif kind == SIDE_CONVERSATION_REPLIED:
        from tickets.collaboration.side_conversations import reply_notice_candidates

        candidates = reply_notice_candidates(event)
    elif kind in SLA_KINDS:
        timer = _sla_timer_of(event)
        if kind == SLA_WARNING and (timer is None or timer.state != TimerState.RUNNING):
            return []
        users = sla_recipients(ticket=ticket, policy=timer.policy if timer else None, is_breach=kind == SLA_BREACHED)
        # The in-app notice still reaches everyone responsible; only the mail follows the preference.
        return [user for user in users if user.email and user.notify_on_sla]
    else:
        return []
    preference = {PREFERENCE_FIELDS[kind]: True} if kind in PREFERENCE_FIELDS else {}
    candidates = (
        candidates.filter(is_active=True, role__in=STAFF_ROLES, **preference)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )
    if event.actor_user_id is not None:
        candidates = candidates.exclude(pk=event.actor_user_id)
    # The one access policy has the last word: only people who may open the ticket read about it.
    return [user for user in candidates if permissions.can_view_ticket(user, ticket)]


# --- what -------------------------------------------------------------------------------------------


def _customer_message(event: Event, kind: str) -> Message | None:
    """The customer's words the mail quotes: the reply itself, or (on assignment) their latest public message."""
    messages = Message.objects.filter(ticket_id=event.ticket_id, visibility=Visibility.PUBLIC,
                                      author_kind=AuthorKind.CUSTOMER).select_related("author_customer", "author_user")
    if kind == CUSTOMER_REPLIED:
        message_id = event.to_value.get("message") if isinstance(event.to_value, dict) else None
        return messages.filter(pk=message_id).first() if isinstance(message_id, int) else None
    return messages.order_by("-pk").first()


def _reader_timezone(name: str) -> Any:
    try:
        return zoneinfo.ZoneInfo(name) if name else timezone.get_default_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def ticket_link(number: int) -> str:
    return str(settings.HELPDESK_SITE_URL).rstrip("/") + reverse("agent:ticket", args=[number])


def _mail(*, subject: str, text: str, html: str, recipient: User) -> EmailMultiAlternatives:
    from channels_intake.email.outbound import encoded_subject

    mail = EmailMultiAlternatives(
        subject=encoded_subject(subject),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        headers={
            # RFC 3834: machine-made, so autoresponders (out-of-office) stay silent.
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )
    mail.attach_alternative(html, "text/html")
    return mail


def build_sla_email(*, event: Event, kind: str, recipient: User) -> EmailMultiAlternatives:
    """The SLA warning or breach mail for `recipient`, in their language and time zone."""
    from channels_intake.email.outbound import header_text

    ticket = event.ticket
    values = event.to_value if isinstance(event.to_value, dict) else {}
    metric = str(values.get("metric") or event.field)
    timer = _sla_timer_of(event)
    due_at = timer.due_at if timer is not None else parse_datetime(str(values.get("due_at") or ""))
    with translation.override(recipient.language or settings.LANGUAGE_CODE), \
            timezone.override(_reader_timezone(recipient.timezone)):
        metric_label = str(Metric(metric).label) if metric in Metric.values else metric
        context = {
            "kind": kind,
            "recipient": recipient,
            "ticket": ticket,
            "link": ticket_link(ticket.number),
            "metric": metric_label,
            "due_at": due_at,
            "policy": values.get("policy") or "",
        }
        subject_values = {"number": f"{header_text(settings.HELPDESK_EMAIL_TICKET_TAG)}{ticket.number}",
                          "subject": header_text(ticket.subject), "metric": metric_label}
        if kind == SLA_BREACHED:
            subject = _("[%(number)s] SLA breached (%(metric)s): %(subject)s") % subject_values
        else:
            subject = _("[%(number)s] SLA warning (%(metric)s): %(subject)s") % subject_values
        text = render_to_string("tickets/email/sla_notification.txt", context)
        html = render_to_string("tickets/email/sla_notification.html", context)
    return _mail(subject=subject, text=text, html=html, recipient=recipient)


def build_notification_email(*, event: Event, kind: str, recipient: User) -> EmailMultiAlternatives:
    """The mail telling `recipient` about `event`, in their language and time zone."""
    from channels_intake.email.outbound import header_text

    if kind in SLA_KINDS:
        return build_sla_email(event=event, kind=kind, recipient=recipient)
    if kind in COLLABORATION_KINDS:
        return build_collaboration_email(event=event, kind=kind, recipient=recipient)
    if kind == SIDE_CONVERSATION_REPLIED:
        from tickets.collaboration.side_conversations import build_reply_notification_email

        return build_reply_notification_email(event=event, recipient=recipient,
                                              site_link=ticket_link(event.ticket.number))
    ticket = event.ticket
    message = _customer_message(event, kind)
    excerpt = Truncator((message.body_text if message else "").strip()).chars(EXCERPT_CHARS)
    actor_name = event.actor_user.name if event.actor_user_id and event.actor_user else ""
    customer_name = message.author_name if message else ticket.requester.name
    context = {
        "kind": kind,
        "recipient": recipient,
        "ticket": ticket,
        "link": ticket_link(ticket.number),
        "actor_name": actor_name,
        "customer_name": customer_name,
        "excerpt": excerpt,
        "message_at": message.created_at if message else None,
        "event_at": event.created_at,
    }
    with translation.override(recipient.language or settings.LANGUAGE_CODE), \
            timezone.override(_reader_timezone(recipient.timezone)):
        values = {"number": f"{header_text(settings.HELPDESK_EMAIL_TICKET_TAG)}{ticket.number}",
                  "subject": header_text(ticket.subject), "customer": header_text(customer_name)}
        if kind == ASSIGNED:
            subject = _("[%(number)s] Assigned to you: %(subject)s") % values
        else:
            subject = _("[%(number)s] %(customer)s replied: %(subject)s") % values
        text = render_to_string("tickets/email/notification.txt", context)
        html = render_to_string("tickets/email/notification.html", context)
    return _mail(subject=subject, text=text, html=html, recipient=recipient)


def build_collaboration_email(*, event: Event, kind: str, recipient: User) -> EmailMultiAlternatives:
    """The mention mail (quoting the note) or a follower's status mail, in the recipient's language."""
    from channels_intake.email.outbound import header_text

    ticket = event.ticket
    actor_name = event.actor_user.name if event.actor_user_id and event.actor_user else ""
    excerpt = ""
    if kind == MENTIONED:
        message_id = event.to_value.get("message") if isinstance(event.to_value, dict) else None
        note = Message.objects.filter(pk=message_id, ticket_id=ticket.pk).first() if isinstance(message_id, int) else None
        excerpt = Truncator((note.body_text if note else "").strip()).chars(EXCERPT_CHARS)
    with translation.override(recipient.language or settings.LANGUAGE_CODE), \
            timezone.override(_reader_timezone(recipient.timezone)):
        statuses = {"old_status": "", "new_status": ""}
        if kind == STATUS_CHANGED:
            labels = dict(Status.choices)
            statuses = {"old_status": str(labels.get(str(event.from_value), event.from_value or "")),
                        "new_status": str(labels.get(str(event.to_value), event.to_value or ""))}
        context = {
            "kind": kind, "recipient": recipient, "ticket": ticket, "link": ticket_link(ticket.number),
            "actor_name": actor_name, "excerpt": excerpt, "event_at": event.created_at, **statuses,
        }
        values = {"number": f"{header_text(settings.HELPDESK_EMAIL_TICKET_TAG)}{ticket.number}",
                  "subject": header_text(ticket.subject), "actor": header_text(actor_name),
                  "status": header_text(statuses["new_status"])}
        if kind == MENTIONED:
            subject = _("[%(number)s] %(actor)s mentioned you: %(subject)s") % values
        else:
            subject = _("[%(number)s] Status changed to %(status)s: %(subject)s") % values
        text = render_to_string("tickets/email/collaboration_notification.txt", context)
        html = render_to_string("tickets/email/collaboration_notification.html", context)
    return _mail(subject=subject, text=text, html=html, recipient=recipient)


# --- sending ----------------------------------------------------------------------------------------


def _load_event(event_id: int) -> Event | None:
    return (
        Event.objects.select_related("ticket", "ticket__requester", "ticket__team", "actor_user")
        .filter(pk=event_id)
        .first()
    )


def event_notify(*, event_id: int) -> int:
    """Mail everyone `event_id` calls for who has not had this mail yet; returns how many were sent now.

    Each recipient's row is locked while their mail is sent, so two workers never both send it.
    Raises TemporaryDeliveryError when the mail server may take it later (the task retries; the
    recipients already mailed are skipped then). A permanent refusal is recorded as `failed`.
    """
    from channels_intake.email.outbound import TemporaryDeliveryError, is_permanent_refusal

    event = _load_event(event_id)
    kind = notification_kind(event) if event is not None else None
    if event is None or kind is None:
        return 0
    sent = 0
    for recipient in notification_recipients(event, kind):
        with transaction.atomic():
            row, _created = NotificationDelivery.objects.get_or_create(
                event=event, recipient=recipient, defaults={"kind": kind}
            )
            row = NotificationDelivery.objects.select_for_update().get(pk=row.pk)
            if row.state != NotificationState.PENDING:
                continue
            mail = build_notification_email(event=event, kind=kind, recipient=recipient)
            try:
                with get_connection(fail_silently=False) as connection:
                    connection.send_messages([mail])
            except (smtplib.SMTPException, OSError) as error:
                if not is_permanent_refusal(error):
                    raise TemporaryDeliveryError(f"{type(error).__name__}: {error}") from error
                logger.warning("Notification %s of event %s to user %s refused for good: %s",
                               kind, event_id, recipient.pk, error)
                row.state, row.error = NotificationState.FAILED, f"{type(error).__name__}: {error}"[:2000]
                row.save(update_fields=["state", "error"])
                continue
            row.state, row.sent_at = NotificationState.SENT, timezone.now()
            row.save(update_fields=["state", "sent_at"])
            sent += 1
    return sent


def event_notify_failed(*, event_id: int, error: str) -> int:
    """Give up on the recipients not mailed yet (the task's retries are spent); returns how many."""
    event = _load_event(event_id)
    kind = notification_kind(event) if event is not None else None
    if event is None or kind is None:
        return 0
    failed = 0
    for recipient in notification_recipients(event, kind):
        row, created = NotificationDelivery.objects.get_or_create(
            event=event, recipient=recipient,
            defaults={"kind": kind, "state": NotificationState.FAILED, "error": error[:2000]},
        )
        if not created and row.state == NotificationState.PENDING:
            NotificationDelivery.objects.filter(pk=row.pk, state=NotificationState.PENDING).update(
                state=NotificationState.FAILED, error=error[:2000]
            )
        failed += created or row.state == NotificationState.PENDING
    logger.warning("Notification of event %s given up for %s recipient(s): %s", event_id, failed, error)
    return failed
