"""Running a rule's actions on a ticket, in order, through the ordinary services.

Changes are made as the automation (actor None, actor kind "automation", via "rule:<id>"), so the
audit trail and the timeline name the rule. Consecutive field actions are one `ticket_update`
(one set of events, like a person saving the sidebar); the others call their own service.

Nothing leaves the building inside the transaction: the requester's mail is a queued automatic
reply (the outbound task sends it), agents' and teams' mails are written into the rule's audit
event and sent by `rule_emails_send` after commit (one NotificationDelivery per recipient, so a
retried task mails nobody twice), and a webhook call is a stored WebhookDelivery sent by its task.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets.macros.placeholders import render_placeholders
from tickets.models import (
    STAFF_ROLES,
    ActorKind,
    Event,
    Macro,
    NotificationDelivery,
    NotificationState,
    Priority,
    Status,
    Team,
    Ticket,
    TicketType,
    User,
    Webhook,
)
from tickets.rules.field_actions import FIELD_ACTION_TYPES, ROUTING, field_actions_to_update
from tickets.rules.vocabulary import ACTIONS_BY_KEY

if TYPE_CHECKING:
    from tickets.rules.engine import CompiledRule

logger = logging.getLogger(__name__)

RULE_EMAIL = "rule_email"  # NotificationDelivery.kind of agents' and teams' rule mails


def _is_field_action(action: dict[str, Any]) -> bool:
    return action.get("type") in FIELD_ACTION_TYPES and not (action.get("type") == "assign"
                                                             and action.get("value") == ROUTING)


# Actions that read or change the ticket through the database (so staged field changes must be
# saved before them); notes, mails and webhooks only read our copy, which already holds them.
_NEEDS_SAVED_TICKET = frozenset({"apply_macro", "escalate"})


def needs_saved_ticket(actions: Sequence[dict[str, Any]]) -> bool:
    """Whether running these actions needs the pass's staged field changes saved first."""
    return any(_is_field_action(action) or action.get("type") in _NEEDS_SAVED_TICKET
               or (action.get("type") == "assign" and action.get("value") == ROUTING) for action in actions)


# Actions that change no field of the ticket (a note, a mail, a webhook call): a new ticket's
# triggers can run them after its INSERT without later triggers' conditions seeing a difference.
_LEAVES_FIELDS_ALONE = frozenset({"add_note", "email_requester", "email_agent", "email_team", "webhook"})


def leaves_fields_alone(actions: Sequence[dict[str, Any]]) -> bool:
    """Whether no action changes a field of the ticket (so the rule can wait until it is saved)."""
    return bool(actions) and all(action.get("type") in _LEAVES_FIELDS_ALONE for action in actions)


def is_field_only(actions: Sequence[dict[str, Any]]) -> bool:
    """Whether every action is a field change `ticket_update` makes (the engine can then stage it)."""
    return bool(actions) and all(_is_field_action(action) for action in actions)


def simulate_field_actions(actions: Sequence[dict[str, Any]], *, ticket: Ticket, changes: dict[str, Any],
                           now: datetime) -> None:
    """Apply field actions to our copy of the ticket (not saved) as `ticket_update` would, and note
    them in `changes`; raises what `ticket_update` would raise for a change it refuses (a status it
    cannot reach, an unknown value, an agent who may not hold it, a team or agent that is gone)."""
    from tickets.custom_fields import validate_custom_fields
    from tickets.services.ticket_create import normalize_tags
    from tickets.transitions import check_transition

    update = field_actions_to_update(actions, ticket=ticket)
    if "priority" in update and update["priority"] != ticket.priority:
        if update["priority"] not in Priority.values:
            raise ValidationError(_("Unknown priority."))
        ticket.priority = changes["priority"] = update["priority"]
    if "ticket_type" in update and update["ticket_type"] != ticket.type:
        if update["ticket_type"] not in TicketType.values:
            raise ValidationError(_("Unknown type."))
        ticket.type = changes["type"] = update["ticket_type"]
    if "team" in update and update["team"].pk != ticket.team_id:
        ticket.team = update["team"]
        changes["team"] = ticket.team_id
    status = update.get("status")
    if "assignee" in update:
        assignee = update["assignee"]
        if (assignee.pk if assignee else None) != ticket.assignee_id:
            if assignee is not None and not permissions.can_hold(ticket, assignee):
                raise PermissionDenied(_("You cannot assign this ticket to that person."))
            ticket.assignee = assignee
            changes["assignee"] = ticket.assignee_id
            if assignee is not None and ticket.status == Status.NEW and status is None:
                status = Status.OPEN
    if update.get("add_tags") or update.get("remove_tags"):
        removed = set(normalize_tags(update.get("remove_tags")))
        tags = [tag for tag in ticket.tags or [] if tag not in removed]
        tags += [tag for tag in normalize_tags(update.get("add_tags")) if tag not in tags]
        if tags != list(ticket.tags or []):
            ticket.tags = tags
            changes["tags"] = list(tags)
    if "custom_fields" in update:
        cleaned = validate_custom_fields(update["custom_fields"], existing=ticket.custom_fields,
                                         enforce_required=False)
        if cleaned != ticket.custom_fields:
            ticket.custom_fields = cleaned
            changes["custom_fields"] = dict(cleaned)
    if status is not None and status != ticket.status:
        if status not in Status.values:
            raise ValidationError(_("Unknown status."))
        check_transition(ticket.status, status)
        ticket.status = changes["status"] = status
        ticket.status_changed_at = now


@dataclass
class ActionsOutcome:
    """What a firing leaves to do once it is logged: the mails to agents and teams (written into
    its audit event, sent after commit)."""

    emails: list[dict[str, Any]] = field(default_factory=list)

    def event_details(self) -> dict[str, Any]:
        return {"emails": self.emails} if self.emails else {}

    def after_logged(self, *, event: Event) -> None:
        if not self.emails:
            return
        event_id = event.pk

        def enqueue() -> None:
            from tickets.rules.tasks import rule_emails_send

            rule_emails_send.delay(event_id)

        # robust: a broker outage must not fail the ticket change; the mails are in the event.
        transaction.on_commit(enqueue, robust=True)


def actions_run(*, rule: CompiledRule, ticket: Ticket, event: str, results: list[dict[str, Any]]) -> ActionsOutcome:
    """Run the rule's actions on `ticket` in order; appends one {"type", "result"} per action to
    `results` as it goes (so a failure shows how far it got). Raises on a failing action (the
    caller's savepoint undoes the firing). `ticket` is refreshed after each change."""
    from tickets.rules.engine import adopt
    from tickets.services import ticket_update

    via = f"rule:{rule.id}"
    outcome = ActionsOutcome()
    fields: list[dict[str, Any]] = []

    def apply_fields() -> None:
        if not fields:
            return
        update = field_actions_to_update(fields, ticket=ticket)
        if update:
            adopt(ticket, ticket_update(ticket=ticket, actor=None, actor_kind=ActorKind.AUTOMATION, via=via,
                                        **update))
        results.extend({"type": action["type"], "result": "done"} for action in fields)
        fields.clear()

    for action in rule.actions:
        if _is_field_action(action):
            fields.append(action)
            continue
        apply_fields()
        results.append({"type": action.get("type"), "result": _run_one(action, rule=rule, ticket=ticket,
                                                                         event=event, via=via, outcome=outcome)})
    apply_fields()
    return outcome


def _run_one(action: dict[str, Any], *, rule: CompiledRule, ticket: Ticket, event: str, via: str,
             outcome: ActionsOutcome) -> str:
    from tickets.assignment.services import ticket_assign_by_routing, ticket_escalate
    from tickets.macros.services import macro_apply
    from tickets.rules.engine import adopt
    from tickets.rules.webhooks import webhook_delivery_create
    from tickets.services.ticket_messages import ticket_add_automatic_note, ticket_add_automatic_reply

    kind = action.get("type")
    if kind == "assign":  # by routing
        agent = ticket_assign_by_routing(ticket=ticket, via=via)  # brings our copy up to date itself
        return f"assigned to {agent.pk}" if agent is not None else "nobody available"
    if kind == "add_note":
        message = ticket_add_automatic_note(ticket=ticket, body_text=render_placeholders(action.get("body", ""),
                                                                                           ticket=ticket), via=via)
        return f"note {message.pk}"
    if kind == "email_requester":
        from channels_intake.email.outbound import rule_mail_source

        body = render_placeholders(action.get("body", ""), ticket=ticket)
        subject = render_placeholders(action.get("subject", ""), ticket=ticket)
        message = ticket_add_automatic_reply(ticket=ticket, body_text=body, source=rule_mail_source(via, subject))
        return f"message {message.pk}"
    if kind in ("email_agent", "email_team"):
        recipients = _mail_recipient_ids(action, ticket=ticket)
        if not recipients:
            return "no recipient"
        outcome.emails.append({
            "recipients": recipients,
            "subject": render_placeholders(action.get("subject", ""), ticket=ticket),
            "body": render_placeholders(action.get("body", ""), ticket=ticket),
        })
        return f"mail to {len(recipients)}"
    if kind == "webhook":
        webhook_id = _id_of(action.get("webhook"))
        webhook = Webhook.objects.filter(pk=webhook_id).first() if webhook_id is not None else None
        if webhook is None:
            raise ValidationError(_("The webhook of this action no longer exists."))
        if not webhook.is_active:
            return "webhook inactive"
        delivery = webhook_delivery_create(webhook=webhook, ticket=ticket, rule=rule, event=event)
        return f"delivery {delivery.pk}"
    if kind == "apply_macro":
        macro_id = _id_of(action.get("macro"))
        macro = Macro.objects.filter(pk=macro_id, is_active=True).first() if macro_id is not None else None
        if macro is None:
            raise ValidationError(_("The macro of this action no longer exists."))
        adopt(ticket, macro_apply(macro=macro, ticket=ticket, actor=None, via=via))
        return "applied"
    if kind == "escalate":
        adopt(ticket, ticket_escalate(ticket=ticket, actor=None, via=via))
        return f"level {ticket.escalation_level}"
    raise ValidationError(_("Unknown action."))


def _id_of(value: Any) -> int | None:
    return int(value) if str(value).isdigit() else None


def _mail_recipient_ids(action: dict[str, Any], *, ticket: Ticket) -> list[int]:
    """The staff an agent or team mail goes to (who may read the ticket is checked when sending)."""
    if action.get("type") == "email_agent":
        recipient = str(action.get("recipient", ""))
        if recipient == "assignee":
            return [ticket.assignee_id] if ticket.assignee_id else []
        agent = User.objects.filter(pk=recipient, is_active=True, role__in=STAFF_ROLES).first() \
            if recipient.isdigit() else None
        if agent is None:
            raise ValidationError(_("The agent of this action no longer exists."))
        return [agent.pk]
    team_id = _id_of(action.get("team"))
    team = Team.objects.filter(pk=team_id).first() if team_id is not None else None
    if team is None:
        raise ValidationError(_("The team of this action no longer exists."))
    return list(User.objects.filter(team_memberships__team=team, is_active=True, role__in=STAFF_ROLES)
                .order_by("pk").values_list("pk", flat=True))


# -- Agents' and teams' mails (after commit) ----------------------------------------------------


def _rule_mail(*, ticket: Ticket, subject: str, body: str, recipient: User) -> EmailMultiAlternatives:
    from channels_intake.email.outbound import encoded_subject
    from tickets.notifications import ticket_link
    from tickets.sanitize import text_to_html

    text = f"{body.strip()}\n\n{ticket_link(ticket.number)}\n"
    mail = EmailMultiAlternatives(
        subject=encoded_subject(subject or ticket.subject), body=text, from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        # RFC 3834: machine-made, so autoresponders (out-of-office) stay silent.
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
    )
    mail.attach_alternative(text_to_html(text), "text/html")
    return mail


def rule_emails_deliver(*, event_id: int) -> int:
    """Send the agent and team mails a rule's firing wrote into its audit event, each recipient
    once (their NotificationDelivery row is locked while sending); returns how many were sent now.

    Recipients who no longer may read the ticket, are inactive or have no address get nothing.
    Raises TemporaryDeliveryError when the mail server says "later" (the task retries)."""
    from channels_intake.email.outbound import TemporaryDeliveryError, is_permanent_refusal

    event = Event.objects.select_related("ticket").filter(pk=event_id, kind="rule_applied").first()
    emails = (event.to_value or {}).get("emails") if event is not None and isinstance(event.to_value, dict) else None
    if not emails:
        return 0
    assert event is not None
    ticket = event.ticket
    per_recipient: dict[int, list[dict[str, Any]]] = {}
    for email in emails:
        for recipient_id in email.get("recipients") or []:
            per_recipient.setdefault(int(recipient_id), []).append(email)
    recipients = User.objects.filter(pk__in=per_recipient, is_active=True, role__in=STAFF_ROLES).exclude(email="")
    sent = 0
    for recipient in recipients.order_by("pk"):
        if not permissions.can_view_ticket(recipient, ticket):
            continue
        with transaction.atomic():
            row, _created = NotificationDelivery.objects.get_or_create(event=event, recipient=recipient,
                                                                       defaults={"kind": RULE_EMAIL})
            row = NotificationDelivery.objects.select_for_update().get(pk=row.pk)
            if row.state != NotificationState.PENDING:
                continue
            mails = [_rule_mail(ticket=ticket, subject=email.get("subject", ""), body=email.get("body", ""),
                                recipient=recipient) for email in per_recipient[recipient.pk]]
            try:
                with get_connection(fail_silently=False) as connection:
                    connection.send_messages(mails)
            except (smtplib.SMTPException, OSError) as error:
                if not is_permanent_refusal(error):
                    raise TemporaryDeliveryError(f"{type(error).__name__}: {error}") from error
                row.state, row.error = NotificationState.FAILED, f"{type(error).__name__}: {error}"[:2000]
                row.save(update_fields=["state", "error"])
                continue
            row.state, row.sent_at = NotificationState.SENT, timezone.now()
            row.save(update_fields=["state", "sent_at"])
            sent += 1
    return sent


def rule_emails_give_up(*, event_id: int, error: str) -> int:
    """Mark the mails of a firing not sent yet as failed (the task's retries are spent)."""
    updated = NotificationDelivery.objects.filter(event_id=event_id, kind=RULE_EMAIL,
                                                  state=NotificationState.PENDING).update(
        state=NotificationState.FAILED, error=error[:2000])
    logger.warning("Rule mails of event %s given up: %s", event_id, error)
    return updated


# -- Previews -----------------------------------------------------------------------------------


def _name(model: Any, pk: Any) -> str | None:
    instance = model.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if instance is None:
        return None
    return str(getattr(instance, "name", None) or getattr(instance, "title", None) or instance)


def _choice_label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def describe_actions(actions: Sequence[dict[str, Any]], *, ticket: Ticket) -> list[str]:
    """One line per action saying what it would do to this ticket (the rule preview); reads only."""
    missing = _("(no longer exists)")
    lines = []
    for action in actions or []:
        kind = action.get("type")
        label = str(ACTIONS_BY_KEY[kind].label) if kind in ACTIONS_BY_KEY else str(kind)
        value = action.get("value")
        if kind == "set_status":
            detail = _choice_label(Status, value)
        elif kind == "set_priority":
            detail = _choice_label(Priority, value)
        elif kind == "set_type":
            detail = _choice_label(TicketType, value)
        elif kind == "set_team":
            detail = _name(Team, value) or missing
        elif kind == "assign":
            if value == ROUTING:
                detail = _("the team's routing")
            elif value in (None, ""):
                detail = _("nobody (unassign)")
            else:
                detail = _name(User, value) or missing
        elif kind in ("add_tags", "remove_tags"):
            detail = ", ".join(str(tag) for tag in value or [])
        elif kind == "set_custom_field":
            detail = f"{action.get('key')} = {value}"
        elif kind == "add_note":
            detail = render_placeholders(str(action.get("body", "")), ticket=ticket)[:120]
        elif kind == "email_requester":
            detail = _("%(email)s: %(subject)s") % {
                "email": ticket.requester.email or ticket.requester.name,
                "subject": render_placeholders(str(action.get("subject", "")), ticket=ticket)}
        elif kind == "email_agent":
            recipient = str(action.get("recipient", ""))
            if recipient == "assignee":
                who = ticket.assignee.name if ticket.assignee is not None else _("the assignee (nobody now)")
            else:
                who = _name(User, recipient) or missing
            detail = _("%(who)s: %(subject)s") % {
                "who": who, "subject": render_placeholders(str(action.get("subject", "")), ticket=ticket)}
        elif kind == "email_team":
            detail = _("%(who)s: %(subject)s") % {
                "who": _name(Team, action.get("team")) or missing,
                "subject": render_placeholders(str(action.get("subject", "")), ticket=ticket)}
        elif kind == "webhook":
            detail = _name(Webhook, action.get("webhook")) or missing
        elif kind == "apply_macro":
            detail = _name(Macro, action.get("macro")) or missing
        elif kind == "escalate":
            team = ticket.team.escalates_to if ticket.team_id and ticket.team else None
            detail = team.name if team is not None else _("no next level for this ticket's team")
        else:
            detail = ""
        lines.append(f"{label}: {detail}" if detail else label)
    return lines
