"""Changes to customers: agents' notes and custom fields, and merging duplicate customers."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets.custom_fields import validate_custom_fields
from tickets.models import Customer, CustomerEmail, CustomFieldDefinition, HealthSnapshot, Ticket, User
from tickets.services.common import emit_ticket_event

NOTES_MAX_CHARS = 10_000


def customer_update(
    *, customer: Customer, actor: User, notes: str | None = None, custom_fields: dict[str, Any] | None = None,
) -> Customer:
    """Change what agents record about a customer: the notes and the customer custom fields.

    None leaves a part as it is. Custom fields are validated against the definitions that apply to
    customers (an empty value removes a field); staff only.
    """
    if not permissions.is_staff_member(actor):
        raise PermissionDenied(_("Only staff can edit customers."))
    fields: list[str] = []
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if notes is not None:
            notes = notes.strip()
            if len(notes) > NOTES_MAX_CHARS:
                raise ValidationError({"notes": _("Enter at most %(limit)s characters.") % {"limit": NOTES_MAX_CHARS}})
            if notes != customer.notes:
                customer.notes = notes
                fields.append("notes")
        if custom_fields is not None:
            cleaned = validate_custom_fields(
                custom_fields, existing=customer.custom_fields, applies_to=CustomFieldDefinition.AppliesTo.CUSTOMER,
            )
            if cleaned != customer.custom_fields:
                customer.custom_fields = cleaned
                fields.append("custom_fields")
        if fields:
            customer.save(update_fields=fields)
    return customer


def customer_merge_into(*, source: Customer, target: Customer, actor: User) -> Customer:
    """Merge a customer record (a duplicate, or one a phone call created) into another: everything
    that points at `source` (tickets, messages, calls, other addresses…) moves to `target`, its phone
    numbers and address join the target's, its notes and the custom fields the target lacks too,
    then `source` is deleted.

    Each ticket whose requester changes gets an audit event and a realtime update.
    """
    if not permissions.is_staff_member(actor):
        raise PermissionDenied(_("Only staff can merge customers."))
    if source.pk == target.pk:
        raise ValidationError(_("A customer cannot be merged into itself."))
    from tickets import events

    with transaction.atomic():
        locked = {
            customer.pk: customer
            for customer in Customer.objects.select_for_update().filter(pk__in=[source.pk, target.pk]).order_by("pk")
        }
        if len(locked) != 2:
            raise ValidationError(_("This customer no longer exists."))
        source, target = locked[source.pk], locked[target.pk]
        if source.user_id and target.user_id:
            raise ValidationError(_("Both customers have a portal login; they cannot be merged."))
        tickets = list(Ticket.objects.select_for_update(of=("self",)).filter(requester=source).order_by("pk"))
        # The source's daily scores would collide with the target's (one per day); the target's
        # history stays and the next snapshot counts the moved tickets.
        HealthSnapshot.objects.filter(customer=source).delete()
        # An address of the source the target already has as another address would collide too.
        if target.email:
            CustomerEmail.objects.filter(customer=source, email__iexact=target.email).delete()
        # Every reference, including those of apps added later (a model pointing at customers
        # would otherwise keep the deleted one, or block the delete).
        for relation in Customer._meta.related_objects:
            if relation.one_to_many:
                relation.related_model._default_manager.filter(**{relation.field.name: source}).update(
                    **{relation.field.name: target}
                )
        fields = ["phone_numbers"]
        target.phone_numbers = list(dict.fromkeys([*target.phone_numbers, *source.phone_numbers]))
        source_email = source.email
        if source_email or source.user_id:
            # Freed first: the address and the login are unique among customers.
            source.email, user_id, source.user_id = "", source.user_id, None
            source.save(update_fields=["email", "user"])
            if user_id and not target.user_id:
                target.user_id = user_id
                fields.append("user")
        if source_email and source_email.lower() != (target.email or "").lower():
            if target.email:
                if not CustomerEmail.objects.filter(email__iexact=source_email).exists():
                    CustomerEmail.objects.create(customer=target, email=source_email)
            else:
                target.email = source_email
                fields.append("email")
        if target.organization_id is None and source.organization_id:
            target.organization_id = source.organization_id
            fields.append("organization")
        if source.notes and source.notes not in target.notes:
            target.notes = f"{target.notes}\n\n{source.notes}".strip()
            fields.append("notes")
        missing_fields = {key: value for key, value in (source.custom_fields or {}).items()
                          if key not in (target.custom_fields or {})}
        if missing_fields:
            target.custom_fields = {**(target.custom_fields or {}), **missing_fields}
            fields.append("custom_fields")
        target.save(update_fields=fields)
        source.delete()
        for ticket in tickets:
            events.field_changed(ticket=ticket, actor=actor, via="web", field="requester",
                                 from_value=source.name, to_value=target.name)
            ticket.requester = target
            emit_ticket_event(ticket, "ticket.updated", changes={"requester": target.pk})
    return target
