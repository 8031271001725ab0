"""Django admin for tickets.customers: the customer form validates custom fields like the customer page."""

from __future__ import annotations

from typing import Any

from django import forms

from tickets.custom_fields import validate_custom_fields
from tickets.models import Customer, CustomFieldDefinition


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ("name", "email", "phone_numbers", "organization", "sees_organization_tickets", "user", "language",
                  "timezone", "tier", "notes", "custom_fields")

    def clean_custom_fields(self) -> dict[str, Any]:
        # Only the definitions that apply to customers; required ones are left to agents to fill.
        return validate_custom_fields(
            self.cleaned_data.get("custom_fields") or {}, applies_to=CustomFieldDefinition.AppliesTo.CUSTOMER,
            enforce_required=False,
        )
