"""The macro form: title, reply, sharing, translations, and the field actions as rows (no JSON).

Action rows are posted as `actions-<n>-type` plus the value widget that type uses
(`actions-<n>-status`, `-priority`, `-ticket_type`, `-team`, `-assignee`, `-tags`, `-field_key` and
`-field_value`); every row carries all of them and static/js/agent/macros.js shows the one its type
needs, so the page also works without scripts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from tickets.macros import selectors
from tickets.macros.placeholders import unknown_placeholders
from tickets.models import STAFF_ROLES, CustomFieldDefinition, Macro, Priority, Status, Team, TicketType, User
from tickets.rules.field_actions import ROUTING
from tickets.rules.vocabulary import ACTION_TYPES

MACRO_ACTION_TYPES = [action for action in ACTION_TYPES if action.in_macros]
# The widget of a row that holds each action type's value.
VALUE_WIDGET = {
    "set_status": "status", "set_priority": "priority", "set_type": "ticket_type", "set_team": "team",
    "assign": "assignee", "add_tags": "tags", "remove_tags": "tags", "set_custom_field": "field_value",
}
_ROW_TYPE = re.compile(r"^actions-(\d+)-type$")
# Blank rows offered after the macro's own (more can be added with the "Add an action" button).
BLANK_ROWS = 1


def translation_languages() -> list[tuple[str, Any]]:
    return list(settings.LANGUAGES)


@dataclass
class ActionRow:
    index: int
    type: str = ""
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionChoices:
    """The option lists of the action rows' widgets."""

    types: list[tuple[str, str]]
    status: list[tuple[str, str]]
    priority: list[tuple[str, str]]
    ticket_type: list[tuple[str, str]]
    team: list[tuple[str, str]]
    assignee: list[tuple[str, str]]
    field_key: list[tuple[str, str]]


def action_choices() -> ActionChoices:
    agents = (User.objects.filter(is_active=True, role__in=STAFF_ROLES)
              .only("id", "display_name", "first_name", "last_name", "username").order_by("display_name", "username"))
    return ActionChoices(
        types=[(action.key, str(action.label)) for action in MACRO_ACTION_TYPES],
        status=[(value, str(label)) for value, label in Status.choices],
        priority=[(value, str(label)) for value, label in Priority.choices],
        ticket_type=[(value, str(label)) for value, label in TicketType.choices],
        team=[(str(team.pk), team.name) for team in Team.objects.order_by("name")],
        assignee=[("", str(_("Nobody (unassign)"))), (ROUTING, str(_("The team's routing")))]
        + [(str(agent.pk), agent.name) for agent in agents],
        field_key=[(definition.key, definition.label) for definition in CustomFieldDefinition.objects.filter(
            applies_to=CustomFieldDefinition.AppliesTo.TICKET).order_by("position", "label")],
    )


def rows_from_actions(actions: list[dict[str, Any]]) -> list[ActionRow]:
    rows = []
    for index, action in enumerate(actions):
        kind = action.get("type", "")
        widget = VALUE_WIDGET.get(kind)
        value = action.get("value")
        values: dict[str, Any] = {}
        if widget == "tags":
            values["tags"] = ", ".join(value or [])
        elif widget == "field_value":
            values["field_key"], values["field_value"] = action.get("key", ""), value or ""
        elif widget:
            values[widget] = "" if value is None else str(value)
        rows.append(ActionRow(index=index, type=kind, values=values))
    return rows


def rows_from_post(data: QueryDict) -> list[ActionRow]:
    indexes = sorted(int(match.group(1)) for key in data if (match := _ROW_TYPE.match(key)))
    rows = []
    for index in indexes:
        kind = data.get(f"actions-{index}-type", "")
        values = {name: data.get(f"actions-{index}-{name}", "") for name in
                  ("status", "priority", "ticket_type", "team", "assignee", "tags", "field_key", "field_value")}
        rows.append(ActionRow(index=index, type=kind, values=values))
    return rows


def actions_from_rows(rows: list[ActionRow]) -> list[dict[str, Any]]:
    """The rows as stored actions (validated by the service); rows with no type are skipped."""
    actions = []
    for row in rows:
        widget = VALUE_WIDGET.get(row.type)
        if widget is None:
            continue
        if row.type == "set_custom_field":
            actions.append({"type": row.type, "key": row.values.get("field_key", ""),
                            "value": row.values.get("field_value", "")})
        else:
            actions.append({"type": row.type, "value": row.values.get(widget, "")})
    return actions


def rows_with_blank(rows: list[ActionRow]) -> list[ActionRow]:
    start = max((row.index for row in rows), default=-1) + 1
    return [*rows, *(ActionRow(index=start + n) for n in range(BLANK_ROWS))]


class MacroForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=150)
    reply_text = forms.CharField(
        label=_("Reply"), required=False, max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 8, "data-macro-preview-source": ""}),
        help_text=_("Placeholders such as {{ requester.first_name }} are filled in for each ticket."),
    )
    reply_is_internal = forms.BooleanField(label=_("Add as an internal note (not a public reply)"), required=False)
    sharing = forms.ChoiceField(label=_("Who can use it"), widget=forms.RadioSelect)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False,
                                  empty_label=_("Choose a team"))
    is_active = forms.BooleanField(label=_("Active (offered in the reply box)"), required=False, initial=True)

    def __init__(self, *args: Any, user: User, macro: Macro | None = None, **kwargs: Any) -> None:
        if macro is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "title": macro.title, "reply_text": macro.reply_text, "reply_is_internal": macro.reply_is_internal,
                "sharing": selectors.sharing_of(macro), "team": macro.team_id, "is_active": macro.is_active,
                **{f"translation_title_{code}": item.title for item in macro.translations.all()
                   for code in [item.language.lower()]},
                **{f"translation_reply_{code}": item.reply_text for item in macro.translations.all()
                   for code in [item.language.lower()]},
            }
        super().__init__(*args, **kwargs)
        sharing = self.fields["sharing"]
        assert isinstance(sharing, forms.ChoiceField)  # noqa: S101 - narrows the type
        sharing.choices = selectors.sharing_choices(user)
        sharing.initial = selectors.PERSONAL
        team = self.fields["team"]
        assert isinstance(team, forms.ModelChoiceField)  # noqa: S101 - narrows the type
        team.queryset = selectors.teams_to_share_with(user)
        for code, label in translation_languages():
            self.fields[f"translation_title_{code}"] = forms.CharField(
                label=_("Title (%(language)s)") % {"language": label}, max_length=150, required=False)
            self.fields[f"translation_reply_{code}"] = forms.CharField(
                label=_("Reply (%(language)s)") % {"language": label}, required=False, max_length=100_000,
                widget=forms.Textarea(attrs={"rows": 5, "lang": code}))

    def translation_fields(self) -> list[tuple[str, Any, Any, Any]]:
        """(code, language name, title field, reply field) per language, for the template."""
        return [(code, label, self[f"translation_title_{code}"], self[f"translation_reply_{code}"])
                for code, label in translation_languages()]

    def clean_reply_text(self) -> str:
        text = self.cleaned_data.get("reply_text") or ""
        unknown = unknown_placeholders(text)
        if unknown:
            raise forms.ValidationError(_("Unknown placeholders: %(names)s.")
                                        % {"names": ", ".join("{{ " + name + " }}" for name in unknown)})
        return text

    def translations(self) -> dict[str, dict[str, str]]:
        return {code: {"title": self.cleaned_data.get(f"translation_title_{code}") or "",
                       "reply_text": self.cleaned_data.get(f"translation_reply_{code}") or ""}
                for code, _label in translation_languages()}
