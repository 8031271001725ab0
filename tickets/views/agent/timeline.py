"""Turning audit events into sentences for the ticket timeline ("Ana changed status from Open to Pending")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import dateformat, timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import get_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from tickets.models import (
    Channel,
    DeliveryState,
    Event,
    Message,
    Metric,
    Priority,
    Status,
    Team,
    TicketType,
    User,
)
from tickets.templatetags.workspace import RelativeWords

FIELD_LABELS = {
    "status": lambda: _("status"),
    "priority": lambda: _("priority"),
    "type": lambda: _("type"),
    "team": lambda: _("team"),
    "assignee": lambda: _("assignee"),
    "tags": lambda: _("tags"),
    "subject": lambda: _("subject"),
    "custom_fields": lambda: _("custom fields"),
}
CHOICE_LABELS = {"status": Status, "priority": Priority, "type": TicketType}


def _names_for(
    events: list[Event], known_teams: dict[int, str], known_users: dict[int, str]
) -> tuple[dict[int, str], dict[int, str]]:
    """Team and user names that events refer to by id. Names the page already has cost nothing;
    the rest at most one query each."""
    team_ids, user_ids = set(), set()
    for event in events:
        for value in (event.from_value, event.to_value):
            if isinstance(value, int):
                (team_ids if event.field == "team" else user_ids if event.field == "assignee" else set()).add(value)
    teams, users = dict(known_teams), dict(known_users)
    if team_ids - teams.keys():
        teams.update(Team.objects.filter(pk__in=team_ids - teams.keys()).values_list("pk", "name"))
    if user_ids - users.keys():
        users.update({u.pk: u.name for u in User.objects.filter(pk__in=user_ids - users.keys())})
    return teams, users


def _value(field: str, value: Any, teams: dict[int, str], users: dict[int, str]) -> str:
    if value in (None, "", []):
        return _("none")
    if field in CHOICE_LABELS:
        try:
            return str(CHOICE_LABELS[field](value).label)
        except ValueError:
            return str(value)
    if field == "team":
        return teams.get(value, f"#{value}")
    if field == "assignee":
        return users.get(value, f"#{value}")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


SLA_EVENT_TEXTS = {
    "sla_started": lambda: _("SLA: {metric} target of {target} ({policy}), due {due}"),
    "sla_updated": lambda: _("SLA: {metric} target changed to {target} ({policy}), due {due}"),
    "sla_met": lambda: _("SLA: {metric} target met"),
    "sla_cancelled": lambda: _("SLA: {metric} target no longer applies"),
    "sla_warning": lambda: _("SLA: {metric} target is due soon ({due})"),
    "sla_breached": lambda: _("SLA: {metric} target missed (due {due})"),
}


def _describe_sla_event(event: Event, to_value: dict[str, Any]) -> SafeString:
    """The timers' own events (tickets.sla.services), in words, with the due time in the viewer's zone."""
    metric = to_value.get("metric") or event.field
    due = parse_datetime(str(to_value.get("due_at") or ""))
    text = SLA_EVENT_TEXTS[event.kind]()
    if event.kind == "sla_met" and to_value.get("breached"):
        text = _("SLA: {metric} target met late")
    return format_html(
        text,
        metric=format_html("<strong>{}</strong>", Metric(metric).label if metric in Metric.values else metric),
        target=_("%(minutes)s min") % {"minutes": to_value.get("target_minutes", "?")},
        policy=to_value.get("policy") or "—",
        due=timezone.localtime(due).strftime("%Y-%m-%d %H:%M") if due else "?",
    )


def _area_event_texts() -> dict[str, Any]:
    """The sentences of the event kinds that issue 9's areas write (each keeps its own)."""
    from tickets.assignment.timeline import EVENT_TEXTS as assignment
    from tickets.collaboration.timeline import EVENT_TEXTS as collaboration
    from tickets.customers.timeline import EVENT_TEXTS as customers
    from tickets.macros.timeline import EVENT_TEXTS as macros
    from tickets.rules.timeline import EVENT_TEXTS as rules

    return {**assignment, **collaboration, **customers, **macros, **rules}


def _actor_name(event: Event) -> str:
    if event.actor_user_id and event.actor_user:
        return event.actor_user.name
    if event.via.startswith("rule:"):
        # A change a trigger or automation made: named after the rule (tickets.rules).
        from tickets.rules.timeline import rule_actor_name

        return rule_actor_name(event)
    if event.via == "routing":
        # Assignment routing (round-robin, load, skills, first-contact ownership): tickets.assignment.
        return _("Routing")
    return _("System")


def describe_event(event: Event, teams: dict[int, str], users: dict[int, str]) -> SafeString:
    actor = _actor_name(event)
    strong_actor = format_html("<strong>{}</strong>", actor)
    to_value = event.to_value if isinstance(event.to_value, dict) else {}
    area_text = _area_event_texts().get(event.kind)
    if area_text is not None:
        return area_text(event, strong_actor, to_value)
    if event.kind in SLA_EVENT_TEXTS:
        return _describe_sla_event(event, to_value)
    if event.kind == "created":
        via = Channel(event.via).label if event.via in Channel.values else event.via or Channel.WEB.label
        return format_html(_("{actor} created the ticket via {via}"), actor=strong_actor, via=via)
    if event.kind == "reopened":
        return format_html(_("{actor} reopened the ticket"), actor=strong_actor)
    if event.kind == "merged_into":
        return format_html(_("{actor} merged this ticket into #{number}"), actor=strong_actor, number=to_value.get("ticket", "?"))
    if event.kind == "merged_from":
        return format_html(_("{actor} merged #{number} into this ticket"), actor=strong_actor, number=to_value.get("ticket", "?"))
    if event.kind == "follow_up_of":
        return format_html(_("Follow-up of closed ticket #{number}"), number=to_value.get("ticket", "?"))
    if event.field == "delivery_state":
        # Written when a reply mailed to the requester failed or bounced (channels_intake.email).
        state = to_value.get("state", "")
        label = DeliveryState(state).label if state in DeliveryState.values else state
        return format_html(
            _("Email of a reply to the requester: {state}"), state=format_html("<strong>{}</strong>", label)
        )
    if event.field:
        label = FIELD_LABELS.get(event.field, lambda: event.field)()
        if event.field in ("custom_fields", "subject", "tags") or event.from_value in (None, "", []):
            return format_html(
                _("{actor} set {field} to {new}"), actor=strong_actor, field=label,
                new=format_html("<strong>{}</strong>", _value(event.field, event.to_value, teams, users)),
            )
        return format_html(
            _("{actor} changed {field} from {old} to {new}"), actor=strong_actor, field=label,
            old=format_html("<strong>{}</strong>", _value(event.field, event.from_value, teams, users)),
            new=format_html("<strong>{}</strong>", _value(event.field, event.to_value, teams, users)),
        )
    return format_html("{actor} · {kind}", actor=strong_actor, kind=event.kind)


def timeline_entries(
    entries: list[tuple[str, Message | Event]], *, teams: Iterable[Team] = (), users: Iterable[User] = ()
) -> list[dict[str, Any]]:
    """The selector's (kind, object) pairs as template-ready dicts (`teams`/`users`: names already loaded)."""
    events = [obj for kind, obj in entries if kind == "event"]
    teams, users = _names_for(events, {t.pk: t.name for t in teams}, {u.pk: u.name for u in users})
    # Each entry's time as the template shows it (what the `date:'c'`, `date:"DATETIME_FORMAT"` and
    # `relative_time` filters write), worked out here with one clock, format and set of words.
    now, datetime_format, relative = timezone.now(), get_format("DATETIME_FORMAT"), RelativeWords()
    rendered = []
    for kind, obj in entries:
        local = timezone.localtime(obj.created_at)
        times = {"iso": local.isoformat(), "when": dateformat.format(local, datetime_format),
                 "ago": relative.text(obj.created_at, now)}
        if kind == "message":
            rendered.append({"kind": "message", "message": obj, **times})
        else:
            rendered.append({"kind": "event", "event": obj, "text": describe_event(obj, teams, users), **times})
    return rendered
