"""Field actions (shared by rules and macros) as the keyword arguments of `ticket_update`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from tickets.models import Team, Ticket, User

# Actions that `ticket_update` performs; the rest (notes, mail, webhooks, macros, escalation,
# "assign: routing") the engine runs itself.
FIELD_ACTION_TYPES = frozenset({
    "set_status", "set_priority", "set_type", "set_team", "assign", "add_tags", "remove_tags", "set_custom_field",
})
ROUTING = "routing"


def field_actions_to_update(actions: Sequence[dict[str, Any]], *, ticket: Ticket) -> dict[str, Any]:
    """The `ticket_update` keyword arguments for the field actions among `actions` (validated
    shapes, see tickets.rules.vocabulary). Raises ValidationError naming a team or agent that no
    longer exists. "assign: routing" is left out (the caller hands it to routing)."""
    update: dict[str, Any] = {}
    add_tags: list[str] = []
    remove_tags: list[str] = []
    custom_fields: dict[str, Any] = {}
    for action in actions:
        kind, value = action.get("type"), action.get("value")
        if kind == "set_status":
            update["status"] = value
        elif kind == "set_priority":
            update["priority"] = value
        elif kind == "set_type":
            update["ticket_type"] = value
        elif kind == "set_team":
            team = Team.objects.filter(pk=value).first() if str(value).isdigit() else None
            if team is None:
                raise ValidationError(_("The team of this action no longer exists."))
            update["team"] = team
        elif kind == "assign" and value != ROUTING:
            if value in (None, ""):
                update["assignee"] = None
            else:
                assignee = User.objects.filter(pk=value, is_active=True).first() if str(value).isdigit() else None
                if assignee is None:
                    raise ValidationError(_("The agent of this action no longer exists."))
                update["assignee"] = assignee
        elif kind == "add_tags":
            add_tags += list(value or [])
        elif kind == "remove_tags":
            remove_tags += list(value or [])
        elif kind == "set_custom_field":
            custom_fields[str(action.get("key"))] = value
    if add_tags:
        update["add_tags"] = add_tags
    if remove_tags:
        update["remove_tags"] = remove_tags
    if custom_fields:
        update["custom_fields"] = {**ticket.custom_fields, **custom_fields}
    return update
