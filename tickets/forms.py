"""Forms of the agent workspace. They parse and validate input; the services decide and change."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tickets.models import (
    CustomFieldDefinition,
    Priority,
    Status,
    Team,
    Ticket,
    TicketType,
    User,
    Visibility,
)
from tickets.services.attachments import max_upload_bytes
from tickets.services.ticket_create import normalize_tags
from tickets.transitions import next_statuses

BULK_MAX_TICKETS = 200
NO_CHANGE = ""
NONE_VALUE = "none"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of uploaded files, each within HELPDESK_MAX_UPLOAD_BYTES (read at validation time)."""

    widget = MultipleFileInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        cleaned = [super(MultipleFileField, self).clean(f, initial) for f in files]
        limit = max_upload_bytes()
        too_large = [f for f in cleaned if f.size > limit]
        if too_large:
            raise ValidationError(
                _("“%(name)s” is too large (%(size)s MB); the limit is %(limit)s MB per file.")
                % {
                    "name": too_large[0].name,
                    "size": round(too_large[0].size / 1_048_576, 1),
                    "limit": round(limit / 1_048_576, 1),
                },
                code="file_too_large",
            )
        return cleaned


def agent_label(user: User) -> str:
    return user.name


class ReplyForm(forms.Form):
    """A public reply or an internal note, with attachments and (for replies) the status to set."""

    body = forms.CharField(
        label=_("Message"), required=False, max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": _("Write your reply…")}),
    )
    visibility = forms.ChoiceField(
        label=_("Reply or note"), choices=Visibility.choices, initial=Visibility.PUBLIC, widget=forms.RadioSelect
    )
    status = forms.ChoiceField(label=_("Submit as"), required=False)
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(NO_CHANGE, _("Keep status (%(status)s)") % {"status": ticket.get_status_display()})] + [
            (value, _("Submit as %(status)s") % {"status": Status(value).label}) for value in next_statuses(ticket.status)
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        is_empty = not (cleaned.get("body") or "").strip() and not cleaned.get("attachments")
        if is_empty and not self.has_error("attachments"):
            raise ValidationError(_("Write a message or attach a file."), code="empty")
        return cleaned

    @property
    def is_note(self) -> bool:
        return self.cleaned_data.get("visibility") == Visibility.INTERNAL


class TicketFieldsForm(forms.Form):
    """The ticket's fields sidebar. `changes()` gives ticket_update's keyword arguments."""

    status = forms.ChoiceField(label=_("Status"))
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    type = forms.ChoiceField(label=_("Type"), choices=TicketType.choices)
    team = forms.ChoiceField(label=_("Team"), required=False)
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    tags = forms.CharField(
        label=_("Tags"), required=False, max_length=1000,
        help_text=_("Separate tags with commas."),
    )

    def __init__(
        self, *args: Any, ticket: Ticket, teams: list[Team], agents: list[User],
        definitions: list[CustomFieldDefinition], **kwargs: Any,
    ) -> None:
        kwargs.setdefault("initial", {
            "status": ticket.status,
            "priority": ticket.priority,
            "type": ticket.type,
            "team": str(ticket.team_id or ""),
            "assignee": str(ticket.assignee_id or ""),
            "tags": ", ".join(ticket.tags),
        })
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        self.teams = {str(t.pk): t for t in teams}
        if ticket.team_id and str(ticket.team_id) not in self.teams and ticket.team is not None:
            self.teams[str(ticket.team_id)] = ticket.team
        self.agents = {str(a.pk): a for a in agents}
        if ticket.assignee_id and str(ticket.assignee_id) not in self.agents and ticket.assignee is not None:
            self.agents[str(ticket.assignee_id)] = ticket.assignee
        self.fields["status"].choices = [(ticket.status, ticket.get_status_display())] + [
            (value, Status(value).label) for value in next_statuses(ticket.status)
        ]
        self.fields["team"].choices = [("", _("— No team —"))] + [(k, t.name) for k, t in self.teams.items()]
        self.fields["assignee"].choices = [("", _("— Unassigned —"))] + [
            (k, agent_label(a)) for k, a in self.agents.items()
        ]
        self.definitions = definitions
        for definition in definitions:
            self.fields[f"cf_{definition.key}"] = self._custom_field(definition, ticket.custom_fields.get(definition.key))

    @staticmethod
    def _custom_field(definition: CustomFieldDefinition, value: Any) -> forms.Field:
        kind = CustomFieldDefinition.FieldType
        common = {"label": definition.label, "required": False, "initial": value}
        if definition.field_type == kind.CHECKBOX:
            return forms.BooleanField(**common)
        if definition.field_type == kind.SELECT:
            return forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in definition.choices], **common)
        if definition.field_type == kind.DATE:
            return forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        if definition.field_type in (kind.NUMBER, kind.DECIMAL):
            return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common)
        return forms.CharField(max_length=2000, **common)

    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[f"cf_{d.key}"] for d in self.definitions]

    def clean_team(self) -> Team | None:
        value = self.cleaned_data.get("team") or ""
        if value and value not in self.teams:
            raise ValidationError(_("Choose one of your teams."))
        return self.teams.get(value)

    def clean_assignee(self) -> User | None:
        value = self.cleaned_data.get("assignee") or ""
        if value and value not in self.agents:
            raise ValidationError(_("Choose an agent of the ticket's team."))
        return self.agents.get(value)

    def clean_tags(self) -> list[str]:
        return normalize_tags((self.cleaned_data.get("tags") or "").split(","))

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        changes: dict[str, Any] = {
            "status": data["status"],
            "priority": data["priority"],
            "ticket_type": data["type"],
            "team": data["team"],
            "assignee": data["assignee"],
            "tags": data["tags"],
        }
        if self.definitions:
            changes["custom_fields"] = {d.key: data.get(f"cf_{d.key}") for d in self.definitions}
            for definition in self.definitions:
                # An unticked checkbox means "no value", not False, unless it was set before.
                if definition.field_type == CustomFieldDefinition.FieldType.CHECKBOX and not changes["custom_fields"][definition.key]:
                    changes["custom_fields"][definition.key] = False if definition.key in self.ticket.custom_fields else None
        return changes


class BulkActionForm(forms.Form):
    """The same change applied to the selected tickets of the queue; empty choices mean "no change"."""

    numbers = forms.CharField(widget=forms.MultipleHiddenInput, required=False)
    assignee = forms.ChoiceField(label=_("Assign to"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    priority = forms.ChoiceField(label=_("Priority"), required=False)
    team = forms.ChoiceField(label=_("Move to team"), required=False)
    add_tag = forms.CharField(label=_("Add tag"), required=False, max_length=64)

    def __init__(self, *args: Any, user: User, teams: list[Team], agents: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.teams = {str(t.pk): t for t in teams}
        self.agents = {str(a.pk): a for a in agents}
        self.fields["assignee"].choices = [
            (NO_CHANGE, _("Assign…")), ("me", _("Me")), (NONE_VALUE, _("Unassigned")),
        ] + [(k, agent_label(a)) for k, a in self.agents.items() if a.pk != user.pk]
        self.fields["status"].choices = [(NO_CHANGE, _("Status…"))] + list(Status.choices)
        self.fields["priority"].choices = [(NO_CHANGE, _("Priority…"))] + list(Priority.choices)
        self.fields["team"].choices = [(NO_CHANGE, _("Move to team…"))] + [(k, t.name) for k, t in self.teams.items()]

    def clean_numbers(self) -> list[int]:
        raw = self.data.getlist("numbers") if hasattr(self.data, "getlist") else self.data.get("numbers", [])
        numbers: list[int] = []
        for value in raw:
            try:
                numbers.append(int(value))
            except (TypeError, ValueError):
                raise ValidationError(_("Invalid ticket selection.")) from None
        numbers = list(dict.fromkeys(numbers))
        if not numbers:
            raise ValidationError(_("Select at least one ticket."))
        if len(numbers) > BULK_MAX_TICKETS:
            raise ValidationError(
                ngettext(
                    "Select at most %(count)s ticket at a time.",
                    "Select at most %(count)s tickets at a time.",
                    BULK_MAX_TICKETS,
                )
                % {"count": BULK_MAX_TICKETS}
            )
        return numbers

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.errors and not self.changes():
            raise ValidationError(_("Choose what to change."), code="no_change")
        return cleaned

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        assignee = data.get("assignee") or NO_CHANGE
        if assignee == "me":
            changes["assignee"] = self.user
        elif assignee == NONE_VALUE:
            changes["assignee"] = None
        elif assignee:
            changes["assignee"] = self.agents[assignee]
        if data.get("status"):
            changes["status"] = data["status"]
        if data.get("priority"):
            changes["priority"] = data["priority"]
        if data.get("team"):
            changes["team"] = self.teams[data["team"]]
        tag = normalize_tags([data.get("add_tag") or ""])
        if tag:
            changes["add_tags"] = tag
        return changes


class MergeForm(forms.Form):
    target_number = forms.IntegerField(
        label=_("Merge into ticket number"), min_value=1,
        widget=forms.NumberInput(attrs={"placeholder": _("e.g. 10234")}),
    )


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("View name"), max_length=100)
    team = forms.ChoiceField(label=_("Share with"), required=False)

    def __init__(self, *args: Any, shareable_teams: list[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shareable_teams = {str(t.pk): t for t in shareable_teams}
        self.fields["team"].choices = [("", _("Only me"))] + [
            (k, _("Team: %(name)s") % {"name": t.name}) for k, t in self.shareable_teams.items()
        ]

    def clean_team(self) -> Team | None:
        value = self.cleaned_data.get("team") or ""
        if value and value not in self.shareable_teams:
            raise ValidationError(_("You cannot share views with that team."))
        return self.shareable_teams.get(value)
