"""What rules can say: the condition fields with their operators, and the actions with their
parameters. The engine (tickets.rules.conditions / actions) evaluates exactly these; the admin form
(tickets.rules.forms) is built from them, so nobody edits JSON.

Stored shapes (Rule.conditions / Rule.actions, Macro.actions):

    conditions = {"all": [condition, …], "any": [condition, …]}
        a rule matches when every "all" condition holds and, if "any" is not empty, at least one
        "any" condition holds.
    condition  = {"field": "ticket.status", "operator": "is", "value": "new"}
        custom fields: "field": "ticket.custom_fields.<key>"
    actions    = [{"type": "add_tags", "value": ["vip"]}, {"type": "email_requester",
                   "subject": "…", "body": "…"}, …]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# -- Value kinds and their operators ------------------------------------------------------------

CHOICE, TEXT, TAGS, NUMBER, BOOLEAN, HOURS = "choice", "text", "tags", "number", "boolean", "hours"

# Operators whose condition compares with the change being processed (triggers only).
CHANGE_OPERATORS = frozenset({"changed", "changed_to", "changed_from", "not_changed"})

OPERATORS: dict[str, tuple[str, ...]] = {
    CHOICE: ("is", "is_not", "in", "not_in", "changed", "changed_to", "changed_from", "not_changed"),
    TEXT: ("is", "is_not", "contains", "not_contains", "matches", "is_empty", "is_not_empty"),
    TAGS: ("includes_any", "includes_all", "includes_none"),
    NUMBER: ("eq", "ne", "lt", "gt", "lte", "gte"),
    BOOLEAN: ("is_true", "is_false"),
    # "more than N hours ago" / "less than N hours ago"; never true when the moment is missing.
    HOURS: ("gt", "lt"),
}
# Operators that take no value.
VALUELESS_OPERATORS = frozenset({"changed", "not_changed", "is_empty", "is_not_empty", "is_true", "is_false"})
# Operators that take a list of values.
LIST_OPERATORS = frozenset({"in", "not_in", "includes_any", "includes_all", "includes_none"})

OPERATOR_LABELS = {
    "is": gettext_lazy("is"),
    "is_not": gettext_lazy("is not"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "changed": gettext_lazy("changed"),
    "changed_to": gettext_lazy("changed to"),
    "changed_from": gettext_lazy("changed from"),
    "not_changed": gettext_lazy("did not change"),
    "contains": gettext_lazy("contains"),
    "not_contains": gettext_lazy("does not contain"),
    "matches": gettext_lazy("matches the regular expression"),
    "is_empty": gettext_lazy("is empty"),
    "is_not_empty": gettext_lazy("is not empty"),
    "includes_any": gettext_lazy("include any of"),
    "includes_all": gettext_lazy("include all of"),
    "includes_none": gettext_lazy("include none of"),
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "gt": ">",
    "lte": "≤",
    "gte": "≥",
    "is_true": gettext_lazy("is yes"),
    "is_false": gettext_lazy("is no"),
}


@dataclass(frozen=True)
class ConditionField:
    key: str
    label: Any  # lazy translation
    kind: str
    # Where the value list comes from for choice fields: "status", "priority", "type", "channel",
    # "team", "agent", "organization", "tier", "language", "sla_state" (tickets.rules.forms
    # resolves them), or a custom field's own choices.
    choices: str = ""
    # Only meaningful for automations (time since …) — the form still offers them to triggers.
    is_time: bool = False


CONDITION_FIELDS: tuple[ConditionField, ...] = (
    ConditionField("ticket.status", gettext_lazy("Status"), CHOICE, "status"),
    ConditionField("ticket.priority", gettext_lazy("Priority"), CHOICE, "priority"),
    ConditionField("ticket.type", gettext_lazy("Type"), CHOICE, "type"),
    ConditionField("ticket.channel", gettext_lazy("Channel"), CHOICE, "channel"),
    # Team / assignee / organization values are ids as strings; "" means none.
    ConditionField("ticket.team", gettext_lazy("Team"), CHOICE, "team"),
    ConditionField("ticket.assignee", gettext_lazy("Assignee"), CHOICE, "agent"),
    ConditionField("ticket.organization", gettext_lazy("Organization"), CHOICE, "organization"),
    ConditionField("ticket.tags", gettext_lazy("Tags"), TAGS),
    ConditionField("ticket.subject", gettext_lazy("Subject"), TEXT),
    ConditionField("ticket.escalation_level", gettext_lazy("Escalation level"), NUMBER),
    ConditionField("ticket.reopen_count", gettext_lazy("Times reopened"), NUMBER),
    ConditionField("requester.email", gettext_lazy("Requester's email"), TEXT),
    ConditionField("requester.name", gettext_lazy("Requester's name"), TEXT),
    ConditionField("requester.language", gettext_lazy("Requester's language"), CHOICE, "language"),
    ConditionField("requester.tier", gettext_lazy("Requester's tier"), CHOICE, "tier"),
    # The message that caused the run (the new ticket's description, the reply); empty otherwise.
    ConditionField("message.text", gettext_lazy("Message text"), TEXT),
    # Now, in the business hours of the ticket's SLA calendar (or the default calendar).
    ConditionField("business_hours", gettext_lazy("Within business hours"), BOOLEAN),
    # "none", "running", "paused", "breached" (any running or finished target breached), "met".
    ConditionField("sla.state", gettext_lazy("SLA state"), CHOICE, "sla_state"),
    ConditionField("sla.hours_to_due", gettext_lazy("Hours until the next SLA target is due"), NUMBER),
    ConditionField("hours_since.created", gettext_lazy("Hours since created"), HOURS, is_time=True),
    ConditionField("hours_since.updated", gettext_lazy("Hours since updated"), HOURS, is_time=True),
    ConditionField("hours_since.status_changed", gettext_lazy("Hours since the status changed"), HOURS, is_time=True),
    ConditionField("hours_since.solved", gettext_lazy("Hours since solved"), HOURS, is_time=True),
    ConditionField("hours_since.last_customer_message", gettext_lazy("Hours since the customer last wrote"), HOURS,
                   is_time=True),
    ConditionField("hours_since.last_agent_reply", gettext_lazy("Hours since the last agent reply"), HOURS,
                   is_time=True),
)
CUSTOM_FIELD_PREFIX = "ticket.custom_fields."
SLA_STATES = ("none", "running", "paused", "breached", "met")

# -- Actions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionType:
    key: str
    label: Any
    # Parameter names → kind: "choice:<source>", "text", "longtext", "tags", "template"
    # ("template" = text with {{ placeholders }}, rendered by tickets.macros.placeholders).
    params: tuple[tuple[str, str], ...]
    # Allowed in macros as well as rules (field changes only).
    in_macros: bool = False


ACTION_TYPES: tuple[ActionType, ...] = (
    ActionType("set_status", gettext_lazy("Set status"), (("value", "choice:status"),), in_macros=True),
    ActionType("set_priority", gettext_lazy("Set priority"), (("value", "choice:priority"),), in_macros=True),
    ActionType("set_type", gettext_lazy("Set type"), (("value", "choice:type"),), in_macros=True),
    ActionType("set_team", gettext_lazy("Move to team"), (("value", "choice:team"),), in_macros=True),
    # value: a user id, "" to unassign, or "routing" to let the ticket's team routing pick an agent.
    ActionType("assign", gettext_lazy("Assign to"), (("value", "choice:assignee"),), in_macros=True),
    ActionType("add_tags", gettext_lazy("Add tags"), (("value", "tags"),), in_macros=True),
    ActionType("remove_tags", gettext_lazy("Remove tags"), (("value", "tags"),), in_macros=True),
    ActionType("set_custom_field", gettext_lazy("Set custom field"), (("key", "choice:custom_field"),
                                                                        ("value", "text")), in_macros=True),
    ActionType("add_note", gettext_lazy("Add internal note"), (("body", "template"),)),
    ActionType("email_requester", gettext_lazy("Email the requester"), (("subject", "template"),
                                                                         ("body", "template"))),
    # recipient: a user id or "assignee".
    ActionType("email_agent", gettext_lazy("Email an agent"), (("recipient", "choice:agent_or_assignee"),
                                                                ("subject", "template"), ("body", "template"))),
    ActionType("email_team", gettext_lazy("Email a team"), (("team", "choice:team"), ("subject", "template"),
                                                             ("body", "template"))),
    ActionType("webhook", gettext_lazy("Call a webhook"), (("webhook", "choice:webhook"),)),
    ActionType("apply_macro", gettext_lazy("Apply a macro"), (("macro", "choice:shared_macro"),)),
    ActionType("escalate", gettext_lazy("Escalate to the next level"), ()),
)

_FIELDS_BY_KEY = {field.key: field for field in CONDITION_FIELDS}
ACTIONS_BY_KEY = {action.key: action for action in ACTION_TYPES}


def condition_field(key: str) -> ConditionField | None:
    """The field for a condition key, custom fields included (their kind from the definition)."""
    if key in _FIELDS_BY_KEY:
        return _FIELDS_BY_KEY[key]
    if key.startswith(CUSTOM_FIELD_PREFIX):
        from tickets.models import CustomFieldDefinition

        definition = CustomFieldDefinition.objects.filter(
            key=key.removeprefix(CUSTOM_FIELD_PREFIX), applies_to=CustomFieldDefinition.AppliesTo.TICKET
        ).first()
        if definition is None:
            return None
        kinds = {"number": NUMBER, "decimal": NUMBER, "checkbox": BOOLEAN, "select": CHOICE}
        return ConditionField(key, definition.label, kinds.get(definition.field_type, TEXT),
                              f"custom_field:{definition.key}")
    return None


def validate_conditions(conditions: Any) -> dict[str, list[dict[str, Any]]]:
    """The cleaned conditions, or ValidationError naming the condition that is wrong."""
    if conditions in (None, ""):
        return {"all": [], "any": []}
    if not isinstance(conditions, dict) or set(conditions) - {"all", "any"}:
        raise ValidationError(_("Conditions must be a list of “all” and a list of “any” conditions."))
    cleaned: dict[str, list[dict[str, Any]]] = {"all": [], "any": []}
    for group in ("all", "any"):
        items = conditions.get(group) or []
        if not isinstance(items, list):
            raise ValidationError(_("Conditions must be a list of “all” and a list of “any” conditions."))
        for position, item in enumerate(items, start=1):
            cleaned[group].append(_validate_condition(item, position))
    return cleaned


def _validate_condition(item: Any, position: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValidationError(_("Condition %(n)s is not a condition.") % {"n": position})
    field = condition_field(str(item.get("field", "")))
    if field is None:
        raise ValidationError(_("Condition %(n)s: unknown field.") % {"n": position})
    operator = item.get("operator")
    if operator not in OPERATORS[field.kind]:
        raise ValidationError(_("Condition %(n)s: “%(field)s” cannot be compared that way.")
                              % {"n": position, "field": field.label})
    value = item.get("value")
    if operator in VALUELESS_OPERATORS:
        value = None
    elif operator in LIST_OPERATORS:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not value:
            raise ValidationError(_("Condition %(n)s: choose at least one value.") % {"n": position})
        value = [str(part) for part in value]
    elif field.kind in (NUMBER, HOURS):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValidationError(_("Condition %(n)s: enter a number.") % {"n": position}) from None
    else:
        value = "" if value is None else str(value)
        if operator == "matches":
            try:
                re.compile(value)
            except re.error as error:
                raise ValidationError(_("Condition %(n)s: the regular expression is not valid (%(error)s).")
                                      % {"n": position, "error": error}) from None
    return {"field": field.key, "operator": operator, "value": value}


def validate_actions(actions: Any, *, for_macro: bool = False) -> list[dict[str, Any]]:
    """The cleaned actions (parameters present, types known), or ValidationError. Whether a named
    team, agent, webhook or macro exists is checked by the engine when it runs (and the form)."""
    if actions in (None, ""):
        return []
    if not isinstance(actions, list):
        raise ValidationError(_("Actions must be a list."))
    cleaned = []
    for position, item in enumerate(actions, start=1):
        if not isinstance(item, dict) or item.get("type") not in ACTIONS_BY_KEY:
            raise ValidationError(_("Action %(n)s: unknown action.") % {"n": position})
        action = ACTIONS_BY_KEY[item["type"]]
        if for_macro and not action.in_macros:
            raise ValidationError(_("Action %(n)s: macros can only change fields.") % {"n": position})
        entry: dict[str, Any] = {"type": action.key}
        for name, kind in action.params:
            value = item.get(name)
            if kind == "tags":
                if isinstance(value, str):
                    value = [part for part in re.split(r"[,\s]+", value) if part]
                if not isinstance(value, list) or not value:
                    raise ValidationError(_("Action %(n)s: give at least one tag.") % {"n": position})
                value = [str(part) for part in value]
            else:
                value = "" if value is None else str(value)
                # An empty assignee unassigns; every other parameter is required.
                if not value and not (action.key == "assign" and name == "value"):
                    raise ValidationError(_("Action %(n)s: “%(param)s” is required.")
                                          % {"n": position, "param": name})
            entry[name] = value
        cleaned.append(entry)
    return cleaned
