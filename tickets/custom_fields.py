"""Validation of custom field values against the admin-defined CustomFieldDefinition rows.

A definition applies either to tickets (Ticket.custom_fields) or to customers (Customer.custom_fields,
edited by agents on the customer page); each kind of record is validated only against its own.
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from tickets.models import CustomFieldDefinition

FieldType = CustomFieldDefinition.FieldType


def _coerce(definition: CustomFieldDefinition, value: Any) -> Any:
    if value in (None, ""):
        return None
    kind = definition.field_type
    if kind == FieldType.TEXT:
        if not isinstance(value, str | int | float):
            raise ValueError
        text = str(value).strip()
        if len(text) > 2000:
            raise ValueError
        return text
    if kind == FieldType.NUMBER:
        if isinstance(value, bool):
            raise ValueError
        number = int(str(value))
        return number
    if kind == FieldType.DECIMAL:
        try:
            return str(Decimal(str(value)))
        except InvalidOperation:
            raise ValueError from None
    if kind == FieldType.DATE:
        return datetime.date.fromisoformat(str(value)).isoformat()
    if kind == FieldType.CHECKBOX:
        if isinstance(value, bool):
            return value
        if str(value).lower() in {"true", "1", "on", "yes"}:
            return True
        if str(value).lower() in {"false", "0", "off", "no"}:
            return False
        raise ValueError
    if kind == FieldType.SELECT:
        if str(value) not in definition.choices:
            raise ValueError
        return str(value)
    raise ValueError


def validate_custom_fields(
    values: dict[str, Any] | None, *, existing: dict[str, Any] | None = None, customer_only: bool = False,
    enforce_required: bool = True, applies_to: str = CustomFieldDefinition.AppliesTo.TICKET,
) -> dict[str, Any]:
    """Return the cleaned custom fields (existing values updated with `values`) or raise ValidationError.

    Only the definitions that apply to `applies_to` (tickets by default) count: a customer field's key
    is unknown on a ticket and the other way round. Unknown keys are refused; customers may only set
    fields marked customer-visible.
    """
    values = values or {}
    if not isinstance(values, dict):
        raise ValidationError(_("Custom fields must be an object."))
    definitions = {d.key: d for d in CustomFieldDefinition.objects.filter(applies_to=applies_to)}
    cleaned = dict(existing or {})
    errors: dict[str, str] = {}
    for key, raw in values.items():
        definition = definitions.get(key)
        if definition is None or (customer_only and not definition.is_customer_visible):
            errors[key] = _("Unknown field.")
            continue
        try:
            value = _coerce(definition, raw)
        except (ValueError, TypeError):
            errors[key] = _("Not a valid value for %(label)s.") % {"label": definition.label}
            continue
        if value is None:
            cleaned.pop(key, None)
        else:
            cleaned[key] = value
    for key, definition in definitions.items():
        if enforce_required and definition.is_required and key not in cleaned and (not customer_only or definition.is_customer_visible):
            errors.setdefault(key, _("This field is required."))
    if errors:
        raise ValidationError(errors)
    return cleaned
