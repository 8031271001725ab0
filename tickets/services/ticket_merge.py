"""Merging a duplicate ticket into another: one conversation, one thread."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets import events
from tickets.models import Attachment, AuthorKind, Channel, Message, Status, Ticket, User, Visibility
from tickets.sanitize import text_to_html
from tickets.services.common import emit_ticket_event, sync_sla
from tickets.services.ticket_fields import apply_status
from tickets.transitions import is_allowed


def ticket_merge(*, source: Ticket, target: Ticket, actor: User, via: str | None = None) -> Ticket:
    """Move the source's messages and attachments to the target; close the source, pointing at the target."""
    if source.pk == target.pk:
        raise ValidationError(_("A ticket cannot be merged into itself."))
    if not permissions.can_merge(actor, source, target):
        raise PermissionDenied(_("You cannot merge these tickets."))
    via = via or "web"
    with transaction.atomic():
        # Lock in id order so two opposite merges cannot deadlock.
        locked = {
            t.pk: t
            for t in Ticket.objects.select_for_update(of=("self",)).filter(pk__in=[source.pk, target.pk]).order_by("pk")
        }
        source, target = locked[source.pk], locked[target.pk]
        if source.merged_into_id:
            raise ValidationError(_("This ticket was already merged."))
        if target.status == Status.CLOSED or target.merged_into_id:
            raise ValidationError(_("Tickets cannot be merged into a closed ticket."))
        moved = Message.objects.filter(ticket=source).update(ticket=target)
        Attachment.objects.filter(ticket=source).update(ticket=target)
        target.message_count += moved
        Message.objects.create(
            ticket=target, author_kind=AuthorKind.SYSTEM, author_user=actor, visibility=Visibility.INTERNAL,
            body_text=_("Ticket #%(number)s was merged into this ticket.") % {"number": source.number},
            body_html=text_to_html(_("Ticket #%(number)s was merged into this ticket.") % {"number": source.number}),
            channel=Channel.WEB,
        )
        target.message_count += 1
        if target.created_at > source.created_at and source.first_responded_at and not target.first_responded_at:
            target.first_responded_at = source.first_responded_at
        events.ticket_merged(source=source, target=target, actor=actor, via=via)
        source.merged_into = target
        fields = ["merged_into", "message_count", "updated_at"]
        source.message_count = 0
        # Closed is reached through solved so the audit trail shows the normal path.
        if source.status != Status.SOLVED and is_allowed(source.status, Status.SOLVED):
            fields += apply_status(ticket=source, status=Status.SOLVED, actor=actor, via=via)
        fields += apply_status(ticket=source, status=Status.CLOSED, actor=actor, via=via)
        source.save(update_fields=sorted(set(fields)))
        target.save(update_fields=["message_count", "first_responded_at", "updated_at"])
        sync_sla(source, reason="merged")
        sync_sla(target, reason="merged")
        emit_ticket_event(source, "ticket.merged", changes={"merged_into": target.number})
        emit_ticket_event(target, "ticket.updated", changes={"merged_from": source.number})
    return target
