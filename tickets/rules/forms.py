"""The rule and webhook forms. Nobody edits JSON: the rule form is rows of selects and inputs.

A rule form posts its rows as flat fields — `all-<n>-field`, `all-<n>-operator`, `all-<n>-value`
(repeated for lists), the same for `any-<n>-…`, and `action-<n>-type`, `action-<n>-<parameter>` —
which `conditions_from_post` / `actions_from_post` turn into the stored shapes. The page's script
(static/js/agent/rules-form.js) draws the rows from `rule_form_schema` (every field with its kind,
operators and choices; every action with its parameters' widgets) and the rows to start with, so
a form sent back with errors shows exactly what was typed.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from tickets.macros.placeholders import PLACEHOLDERS
from tickets.models import (
    STAFF_ROLES,
    Channel,
    Customer,
    CustomFieldDefinition,
    Macro,
    Organization,
    Priority,
    Status,
    Team,
    TicketType,
    TriggerEvent,
    User,
    Webhook,
)
from tickets.rules import vocabulary

# Organizations offered in a condition's list; beyond this many the list would be unusable anyway.
ORGANIZATIONS_LISTED = 500
_ROW = re.compile(r"^(all|any|action)-(\d{1,3})-([a-z_]+)$")

SLA_STATE_LABELS = {
    "none": _("No SLA"),
    "running": _("Running"),
    "paused": _("Paused"),
    "breached": _("Breached"),
    "met": _("Met"),
}


def _pairs(choices: Any) -> list[list[str]]:
    return [[str(value), str(label)] for value, label in choices]


def _choice_sources() -> tuple[dict[str, list[list[str]]], list[CustomFieldDefinition]]:
    """Every list a condition value or an action parameter may be chosen from, read now, and the
    ticket custom fields."""
    teams = _pairs(Team.objects.order_by("name").values_list("pk", "name"))
    agents = [
        [str(user.pk), user.name]
        for user in User.objects.filter(is_active=True, role__in=STAFF_ROLES)
        .only("pk", "display_name", "username", "first_name", "last_name").order_by("display_name", "username")
    ]
    custom_fields = list(CustomFieldDefinition.objects.filter(applies_to=CustomFieldDefinition.AppliesTo.TICKET)
                         .order_by("position", "key"))
    sources: dict[str, list[list[str]]] = {
        "status": _pairs(Status.choices),
        "priority": _pairs(Priority.choices),
        "type": _pairs(TicketType.choices),
        "channel": _pairs(Channel.choices),
        "tier": _pairs(Customer.Tier.choices),
        "language": _pairs(settings.LANGUAGES),
        "sla_state": _pairs(SLA_STATE_LABELS.items()),
        "team": [["", str(_("No team"))], *teams],
        "agent": [["", str(_("Nobody"))], *agents],
        "organization": [["", str(_("No organization"))], *_pairs(
            Organization.objects.order_by("name").values_list("pk", "name")[:ORGANIZATIONS_LISTED])],
        "assignee": [["", str(_("Nobody (unassign)"))], ["routing", str(_("The team's routing"))], *agents],
        "agent_or_assignee": [["assignee", str(_("The ticket's assignee"))], *agents],
        "webhook": _pairs(Webhook.objects.order_by("name").values_list("pk", "name")),
        "shared_macro": _pairs(Macro.objects.filter(owner__isnull=True, is_active=True).order_by("title")
                               .values_list("pk", "title")),
        "custom_field": [[definition.key, definition.label] for definition in custom_fields],
    }
    for definition in custom_fields:
        if definition.choices:
            sources[f"custom_field:{definition.key}"] = [[choice, choice] for choice in definition.choices]
    return sources, custom_fields


def rule_form_schema() -> dict[str, Any]:
    """What the form's script needs to draw rows: fields, operators, actions and their choices."""
    sources, custom_fields = _choice_sources()
    fields = [
        {"key": field.key, "label": str(field.label), "kind": field.kind, "choices": field.choices,
         "time": field.is_time}
        for field in vocabulary.CONDITION_FIELDS
    ]
    kinds = {"number": vocabulary.NUMBER, "decimal": vocabulary.NUMBER, "checkbox": vocabulary.BOOLEAN,
             "select": vocabulary.CHOICE}
    for definition in custom_fields:
        # The same kinds as vocabulary.condition_field, without a query per field.
        kind = kinds.get(definition.field_type, vocabulary.TEXT)
        source = f"custom_field:{definition.key}"
        if kind == vocabulary.CHOICE and source not in sources:
            kind = vocabulary.TEXT
        fields.append({"key": vocabulary.CUSTOM_FIELD_PREFIX + definition.key,
                       "label": str(_("Custom field: %(label)s") % {"label": definition.label}),
                       "kind": kind, "choices": source if kind == vocabulary.CHOICE else "", "time": False})
    return {
        "fields": fields,
        "operators": {kind: list(operators) for kind, operators in vocabulary.OPERATORS.items()},
        "operatorLabels": {key: str(label) for key, label in vocabulary.OPERATOR_LABELS.items()},
        "valueless": sorted(vocabulary.VALUELESS_OPERATORS),
        "listOperators": sorted(vocabulary.LIST_OPERATORS),
        "changeOperators": sorted(vocabulary.CHANGE_OPERATORS),
        "actions": [
            {"key": action.key, "label": str(action.label),
             "params": [{"name": name, "kind": kind, "label": str(PARAMETER_LABELS.get(name, name))}
                        for name, kind in action.params]}
            for action in vocabulary.ACTION_TYPES
        ],
        "choices": sources,
        "placeholders": [f"{{{{ {name} }}}}" for name in PLACEHOLDERS],
        "texts": {
            "field": str(_("Field")),
            "operator": str(_("Comparison")),
            "value": str(_("Value")),
            "action": str(_("Action")),
            "remove": str(_("Remove")),
            "tagsHint": str(_("Separate tags with commas or spaces")),
            "hours": str(_("hours")),
            "placeholders": str(_("Placeholders you can use:")),
            "choose": str(_("Choose…")),
        },
    }


PARAMETER_LABELS = {
    "value": _("Value"),
    "key": _("Custom field"),
    "body": _("Text"),
    "subject": _("Subject"),
    "recipient": _("Recipient"),
    "team": _("Team"),
    "webhook": _("Webhook"),
    "macro": _("Macro"),
}


def _rows(data: QueryDict, prefix: str) -> list[tuple[int, dict[str, list[str]]]]:
    """The rows posted under `prefix` in the order of their numbers: (n, {name: [values]})."""
    rows: dict[int, dict[str, list[str]]] = {}
    for key in data:
        match = _ROW.match(key)
        if match and match.group(1) == prefix:
            rows.setdefault(int(match.group(2)), {})[match.group(3)] = [
                value for value in data.getlist(key) if value is not None]
    return sorted(rows.items())


def conditions_from_post(data: QueryDict) -> dict[str, list[dict[str, Any]]]:
    """The conditions as posted (not validated; rows without a field are skipped)."""
    conditions: dict[str, list[dict[str, Any]]] = {"all": [], "any": []}
    for group in ("all", "any"):
        for _n, row in _rows(data, group):
            field = (row.get("field") or [""])[0]
            if not field:
                continue
            operator = (row.get("operator") or [""])[0]
            value: Any
            if operator in vocabulary.LIST_OPERATORS:
                # A multiple select posts "values"; a text input (tags) posts "value", comma-separated.
                if "values" in row:
                    value = [part for part in row["values"] if part != ""]
                else:
                    value = [part.strip() for part in (row.get("value") or [""])[0].split(",") if part.strip()]
            else:
                value = (row.get("value") or [""])[0]
            conditions[group].append({"field": field, "operator": operator, "value": value})
    return conditions


def actions_from_post(data: QueryDict) -> list[dict[str, Any]]:
    """The actions as posted (not validated; rows without a type are skipped)."""
    actions: list[dict[str, Any]] = []
    for _n, row in _rows(data, "action"):
        action_type = (row.pop("type", None) or [""])[0]
        if not action_type:
            continue
        action: dict[str, Any] = {"type": action_type}
        for name, values in row.items():
            action[name] = values[0] if len(values) == 1 else values
        actions.append(action)
    return actions


class RuleForm(forms.Form):
    """The rule's own fields; its conditions and actions come from the rows (see the module doc)."""

    name = forms.CharField(label=_("Name"), max_length=150)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    events = forms.MultipleChoiceField(
        label=_("Run when"), choices=TriggerEvent.choices, required=False, widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        for name in ("name", "description"):
            self.fields[name].widget.attrs.setdefault("class", "input" if name == "name" else "textarea")
        self.conditions: dict[str, list[dict[str, Any]]] = {"all": [], "any": []}
        self.actions: list[dict[str, Any]] = []
        if self.is_bound:
            self.conditions = conditions_from_post(cast("QueryDict", self.data))
            self.actions = actions_from_post(cast("QueryDict", self.data))
        elif self.initial:
            self.conditions = self.initial.get("conditions") or {"all": [], "any": []}
            self.actions = self.initial.get("actions") or []

    def rows_initial(self) -> dict[str, Any]:
        """The rows the page starts with: the rule's, or exactly what was posted."""
        return {"all": self.conditions.get("all", []), "any": self.conditions.get("any", []),
                "actions": self.actions}

    def apply_errors(self, message_dict: dict[str, list[str]]) -> None:
        """Put a service's ValidationError on the form: its own fields, or the rows' sections."""
        for key, messages in message_dict.items():
            target = key if key in self.fields else None
            for message in messages:
                if key in ("conditions", "actions"):
                    self.section_errors.setdefault(key, []).append(message)
                else:
                    self.add_error(target, message)

    @property
    def section_errors(self) -> dict[str, list[str]]:
        if not hasattr(self, "_section_errors"):
            self._section_errors: dict[str, list[str]] = {}
        return self._section_errors


class PreviewForm(forms.Form):
    ticket_number = forms.IntegerField(label=_("Ticket number"), min_value=1)


class WebhookForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150, widget=forms.TextInput(attrs={"class": "input"}))
    url = forms.CharField(label=_("URL"), max_length=500, widget=forms.URLInput(attrs={"class": "input"}),
                          help_text=_("Called with a POST of the ticket as JSON."))
    secret = forms.CharField(
        label=_("Signing secret"), required=False, max_length=128,
        widget=forms.TextInput(attrs={"class": "input", "autocomplete": "off"}),
        help_text=_("The body is signed with HMAC-SHA256 in the X-Helpdesk-Signature header. "
                    "Leave empty to generate one (or to keep the current one)."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def apply_errors(self, message_dict: dict[str, list[str]]) -> None:
        for key, messages in message_dict.items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


def describe_condition(condition: dict[str, Any], schema: dict[str, Any]) -> str:
    """A condition as a person reads it: “Team is Billing”, “Subject contains refund”."""
    field = next((item for item in schema["fields"] if item["key"] == condition.get("field")), None)
    label = field["label"] if field else str(condition.get("field", ""))
    operator = schema["operatorLabels"].get(condition.get("operator", ""), condition.get("operator", ""))
    value = condition.get("value")
    if value is None:
        return f"{label} {operator}"
    names = dict(map(tuple, schema["choices"].get(field["choices"], []))) if field and field["choices"] else {}
    values = value if isinstance(value, list) else [value]
    # 96.0 hours reads as 96 hours.
    values = [int(item) if isinstance(item, float) and item.is_integer() else item for item in values]
    shown = ", ".join(str(names.get(str(item), item)) for item in values)
    if field and field["kind"] == vocabulary.HOURS:
        shown = f"{shown} {schema['texts']['hours']}"
    return f"{label} {operator} {shown}"
