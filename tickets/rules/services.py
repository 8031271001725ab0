"""Changing rules and webhooks: the only code that writes Rule and Webhook rows.

Managers and admins only (helpdesk.permissions.is_manager_or_admin). Everything a rule says is
validated here — the vocabulary's shapes, that the teams, agents, webhooks, macros and custom
fields it names exist, and what each kind needs (a trigger needs an event; an automation a time
condition, or it would act on every ticket every hour) — so the form, the API and the admin all
get the same answers. After each write commits the engine is told (`rules_changed`) so its
cached rule list is read again.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets.models import (
    STAFF_ROLES,
    Channel,
    Customer,
    CustomFieldDefinition,
    Macro,
    Organization,
    Priority,
    Rule,
    RuleKind,
    Status,
    Team,
    TicketType,
    TriggerEvent,
    User,
    Webhook,
)
from tickets.rules import engine, vocabulary

# Sources whose values are a fixed list (the others name rows that must exist).
_FIXED_CHOICES = {
    "status": lambda: set(Status.values),
    "priority": lambda: set(Priority.values),
    "type": lambda: set(TicketType.values),
    "channel": lambda: set(Channel.values),
    "tier": lambda: set(Customer.Tier.values),
    "language": lambda: {code for code, _name in settings.LANGUAGES},
    "sla_state": lambda: set(vocabulary.SLA_STATES),
}
# Operators whose values name rows or choices (the other operators take no value or free text).
_CHOICE_VALUE_OPERATORS = frozenset({"is", "is_not", "in", "not_in", "changed_to", "changed_from"})
# The shortest secret a person may set by hand (generated ones are 64 hex digits).
WEBHOOK_SECRET_MIN_LENGTH = 16


def _require_manager(actor: User) -> None:
    if not permissions.is_manager_or_admin(actor) or not actor.is_active:
        raise PermissionDenied(_("Only managers and admins can change rules and webhooks."))


def _notify_engine() -> None:
    transaction.on_commit(engine.rules_changed)


# -- Validation --------------------------------------------------------------------------------


def _missing_ids(model: Any, values: set[str], **filters: Any) -> set[str]:
    ids = {value for value in values if value.isdigit()}
    found = {str(pk) for pk in model.objects.filter(pk__in=ids, **filters).values_list("pk", flat=True)}
    return (values - {""}) - found


def _staff_filter() -> dict[str, Any]:
    return {"is_active": True, "role__in": STAFF_ROLES}


def _check_condition_values(conditions: dict[str, list[dict[str, Any]]]) -> None:
    """Each choice condition's values are among the field's choices (rows that exist)."""
    for group in ("all", "any"):
        for position, condition in enumerate(conditions[group], start=1):
            if condition["operator"] not in _CHOICE_VALUE_OPERATORS:
                continue
            field = vocabulary.condition_field(condition["field"])
            if field is None or field.kind != vocabulary.CHOICE:
                continue
            raw = condition["value"]
            values = {str(value) for value in (raw if isinstance(raw, list) else [raw])}
            if field.choices in _FIXED_CHOICES:
                unknown = values - _FIXED_CHOICES[field.choices]()
            elif field.choices == "team":
                unknown = _missing_ids(Team, values)
            elif field.choices == "agent":
                unknown = _missing_ids(User, values, role__in=STAFF_ROLES)
            elif field.choices == "organization":
                unknown = _missing_ids(Organization, values)
            elif field.choices.startswith("custom_field:"):
                definition = CustomFieldDefinition.objects.get(key=field.choices.removeprefix("custom_field:"))
                unknown = values - set(definition.choices) if definition.choices else set()
            else:
                unknown = set()
            if unknown:
                raise ValidationError(_("Condition %(n)s (“%(field)s”): %(values)s is not one of the choices.")
                                      % {"n": position, "field": field.label, "values": ", ".join(sorted(unknown))})


def _team_missing(value: str) -> bool:
    return bool(_missing_ids(Team, {value}))


def _agent_missing(value: str) -> bool:
    return bool(_missing_ids(User, {value}, **_staff_filter()))


def _action_problem(action: dict[str, Any]) -> str:
    """What is wrong with the rows an action names, or ""."""
    kind = action["type"]
    if kind in ("set_status", "set_priority", "set_type"):
        return "" if action["value"] in _FIXED_CHOICES[kind.removeprefix("set_")]() else _(
            "choose a value from the list")
    if (kind == "set_team" and _team_missing(action["value"])) or (kind == "email_team"
                                                                 and _team_missing(action["team"])):
        return _("that team does not exist")
    if (kind == "assign" and action["value"] not in ("", "routing") and _agent_missing(action["value"])) or (
            kind == "email_agent" and action["recipient"] != "assignee" and _agent_missing(action["recipient"])):
        return _("that agent does not exist or is deactivated")
    if kind == "webhook" and _missing_ids(Webhook, {action["webhook"]}):
        return _("that webhook does not exist")
    if kind == "apply_macro" and _missing_ids(Macro, {action["macro"]}, owner__isnull=True, is_active=True):
        return _("choose an active shared macro")
    if kind == "set_custom_field" and not CustomFieldDefinition.objects.filter(
            key=action["key"], applies_to=CustomFieldDefinition.AppliesTo.TICKET).exists():
        return _("that custom field does not exist")
    return ""


def _check_action_references(actions: list[dict[str, Any]]) -> None:
    """The teams, agents, webhooks, macros and custom fields the actions name exist."""
    for position, action in enumerate(actions, start=1):
        problem = _action_problem(action)
        if problem:
            label = vocabulary.ACTIONS_BY_KEY[action["type"]].label
            raise ValidationError(_("Action %(n)s (“%(action)s”): %(problem)s.")
                                  % {"n": position, "action": label, "problem": problem})


def rule_validate(
    *, kind: str, events: list[str], conditions: Any, actions: Any,
) -> tuple[list[str], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """The cleaned (events, conditions, actions) of a rule of `kind`, or a ValidationError whose
    message_dict names "events", "conditions" or "actions"."""
    if kind not in RuleKind.values:
        raise ValidationError({"kind": [_("Choose trigger or automation.")]})
    errors: dict[str, list[str]] = {}
    cleaned_events: list[str] = []
    if kind == RuleKind.TRIGGER:
        unknown = [event for event in events if event not in TriggerEvent.values]
        cleaned_events = [event for event in TriggerEvent.values if event in events]
        if unknown:
            errors["events"] = [_("Unknown event.")]
        elif not cleaned_events:
            errors["events"] = [_("Choose at least one moment the trigger runs.")]
    cleaned_conditions: dict[str, list[dict[str, Any]]] = {"all": [], "any": []}
    try:
        cleaned_conditions = vocabulary.validate_conditions(conditions)
        _check_condition_values(cleaned_conditions)
        if kind == RuleKind.AUTOMATION:
            every = [*cleaned_conditions["all"], *cleaned_conditions["any"]]
            if any(condition["operator"] in vocabulary.CHANGE_OPERATORS for condition in every):
                raise ValidationError(_("Automations look at tickets as they are: “changed” conditions are "
                                        "for triggers."))
            if not any(condition["field"].startswith("hours_since.") for condition in cleaned_conditions["all"]):
                raise ValidationError(_("An automation needs at least one “Hours since …” condition under "
                                        "“all”, or it would act on every ticket at each run."))
    except ValidationError as error:
        errors["conditions"] = list(error.messages)
    cleaned_actions: list[dict[str, Any]] = []
    try:
        cleaned_actions = vocabulary.validate_actions(actions)
        if not cleaned_actions:
            raise ValidationError(_("Add at least one action."))
        _check_action_references(cleaned_actions)
    except ValidationError as error:
        errors["actions"] = list(error.messages)
    if errors:
        raise ValidationError(errors)
    return cleaned_events, cleaned_conditions, cleaned_actions


# -- Rules ---------------------------------------------------------------------------------------


@transaction.atomic
def rule_save(
    *, actor: User, rule: Rule | None = None, kind: str, name: str, description: str = "", is_active: bool = True,
    events: list[str], conditions: Any, actions: Any,
) -> Rule:
    """Create a rule (at the end of its kind's order) or update `rule`; a rule keeps its kind."""
    _require_manager(actor)
    if rule is not None:
        kind = rule.kind
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": [_("Give the rule a name.")]})
    cleaned_events, cleaned_conditions, cleaned_actions = rule_validate(
        kind=kind, events=events, conditions=conditions, actions=actions)
    if rule is None:
        last = Rule.objects.filter(kind=kind).aggregate(last=Max("position"))["last"]
        rule = Rule(kind=kind, created_by=actor, position=0 if last is None else last + 1)
    rule.name = name[:150]
    rule.description = (description or "").strip()
    rule.is_active = is_active
    rule.events = cleaned_events
    rule.conditions = cleaned_conditions
    rule.actions = cleaned_actions
    rule.save()
    _notify_engine()
    return rule


@transaction.atomic
def rule_set_active(*, actor: User, rule: Rule, is_active: bool) -> Rule:
    _require_manager(actor)
    if rule.is_active != is_active:
        rule.is_active = is_active
        rule.save(update_fields=["is_active", "updated_at"])
        _notify_engine()
    return rule


@transaction.atomic
def rule_delete(*, actor: User, rule: Rule) -> None:
    """Delete the rule and its execution log."""
    _require_manager(actor)
    rule.delete()
    _notify_engine()


@transaction.atomic
def rules_reorder(*, actor: User, kind: str, rule_ids: list[int]) -> None:
    """Put the rules of `kind` in the order of `rule_ids`, which must name each of them once."""
    _require_manager(actor)
    # Locked so two managers reordering at once do not interleave their positions.
    current = list(Rule.objects.select_for_update().filter(kind=kind).order_by("position", "id")
                  .values_list("pk", flat=True))
    if sorted(current) != sorted(rule_ids) or len(set(rule_ids)) != len(rule_ids):
        raise ValidationError(_("The list of rules changed meanwhile; reload the page and try again."))
    for position, pk in enumerate(rule_ids):
        Rule.objects.filter(pk=pk).exclude(position=position).update(position=position)
    _notify_engine()


def rule_move(*, actor: User, rule: Rule, offset: int) -> None:
    """Move the rule `offset` places earlier (negative) or later (positive) in its kind's order."""
    _require_manager(actor)
    order = list(Rule.objects.filter(kind=rule.kind).order_by("position", "id").values_list("pk", flat=True))
    index = order.index(rule.pk)
    target = max(0, min(len(order) - 1, index + offset))
    if target == index:
        return
    order.insert(target, order.pop(index))
    rules_reorder(actor=actor, kind=rule.kind, rule_ids=order)


# -- Webhooks ------------------------------------------------------------------------------------


def webhook_secret_generate() -> str:
    return secrets.token_hex(32)


@transaction.atomic
def webhook_save(
    *, actor: User, webhook: Webhook | None = None, name: str, url: str, secret: str = "", is_active: bool = True,
) -> Webhook:
    """Create or update a webhook. A blank secret means: generate one (new webhook) or keep it."""
    _require_manager(actor)
    from django.core.validators import URLValidator

    errors: dict[str, list[str]] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = [_("Give the webhook a name.")]
    elif Webhook.objects.filter(name__iexact=name).exclude(pk__in=[webhook.pk] if webhook else []).exists():
        errors["name"] = [_("Another webhook has this name.")]
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors["url"] = [_("Enter an http or https address.")]
    secret = (secret or "").strip()
    if secret and len(secret) < WEBHOOK_SECRET_MIN_LENGTH:
        errors["secret"] = [_("A signing secret needs at least %(n)s characters.") % {"n": WEBHOOK_SECRET_MIN_LENGTH}]
    if errors:
        raise ValidationError(errors)
    if webhook is None:
        webhook = Webhook(secret=secret or webhook_secret_generate())
    elif secret:
        webhook.secret = secret
    webhook.name = name[:150]
    webhook.url = url
    webhook.is_active = is_active
    webhook.save()
    _notify_engine()
    return webhook


def rules_using_webhook(webhook: Webhook) -> list[Rule]:
    return list(Rule.objects.filter(actions__contains=[{"type": "webhook", "webhook": str(webhook.pk)}]))


@transaction.atomic
def webhook_delete(*, actor: User, webhook: Webhook) -> None:
    """Delete a webhook no rule calls (its deliveries go with it)."""
    _require_manager(actor)
    using = rules_using_webhook(webhook)
    if using:
        raise ValidationError(_("Rules call this webhook: %(rules)s. Remove it from them first.")
                              % {"rules": ", ".join(rule.name for rule in using)})
    webhook.delete()
    _notify_engine()
