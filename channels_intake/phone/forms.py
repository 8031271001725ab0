"""The phone forms of the agent workspace: log a call (on a ticket, from a screen-pop) and a new phone ticket."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels_intake.phone.models import CallDirection, CallDisposition
from channels_intake.phone.numbers import normalize_number
from tickets.models import Ticket

NEW_TICKET = "new"
MAX_DURATION_MINUTES = 24 * 60


class CallLogForm(forms.Form):
    direction = forms.ChoiceField(label=_("Direction"), choices=CallDirection.choices, initial=CallDirection.INBOUND)
    number = forms.CharField(
        label=_("Phone number"), max_length=64, required=False,
        widget=forms.TextInput(attrs={"type": "tel", "class": "input", "autocomplete": "off", "placeholder": "+86 138 1234 5678"}),
    )
    duration_minutes = forms.DecimalField(
        label=_("Duration (minutes)"), required=False, min_value=0, max_value=MAX_DURATION_MINUTES, decimal_places=1,
        widget=forms.NumberInput(attrs={"step": "0.5", "min": "0"}),
    )
    disposition = forms.ChoiceField(label=_("Disposition"), choices=CallDisposition.choices, required=False)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, number_required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["number"].required = number_required

    def clean_number(self) -> str:
        raw = self.cleaned_data.get("number", "").strip()
        if raw and not normalize_number(raw):
            raise forms.ValidationError(_("Enter a phone number, e.g. +86 138 1234 5678."))
        return raw

    @property
    def duration_seconds(self) -> int | None:
        minutes = self.cleaned_data.get("duration_minutes")
        return None if minutes is None else int(round(float(minutes) * 60))


class ScreenPopLogForm(CallLogForm):
    """The screen-pop's form: the call is known; the agent picks one of the caller's open tickets or a new one."""

    ticket = forms.ChoiceField(label=_("Put the call on"), required=True)

    def __init__(self, *args: Any, tickets: Sequence[Ticket] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, str]] = [(NEW_TICKET, str(_("A new phone ticket")))]
        choices += [(str(ticket.number), f"#{ticket.number} {ticket.subject}") for ticket in tickets]
        ticket_field = self.fields["ticket"]
        assert isinstance(ticket_field, forms.ChoiceField)
        ticket_field.choices = choices
        self.fields["ticket"].initial = NEW_TICKET
        for name in ("direction", "number"):
            self.fields[name].required = False
            self.fields[name].widget = forms.HiddenInput()
