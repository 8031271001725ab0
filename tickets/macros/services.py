"""Macro services: save, delete and translate macros; render one for a ticket; apply one.

`macro_apply` is called from the reply box (an agent: the field actions apply at once, the reply is
rendered into the composer for them to review and send) and by the rules' "apply_macro" action
(actor None: the reply is added by itself, as an automatic reply or an automatic note).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk import permissions
from tickets import events
from tickets.macros import selectors
from tickets.macros.placeholders import render_placeholders, unknown_placeholders
from tickets.models import (
    ActorKind,
    CustomFieldDefinition,
    Event,
    Macro,
    MacroTranslation,
    Priority,
    Status,
    Team,
    Ticket,
    TicketType,
    User,
)
from tickets.rules.field_actions import ROUTING, field_actions_to_update
from tickets.rules.vocabulary import ACTIONS_BY_KEY, validate_actions

# Languages a macro can be translated into (the product's languages; the form offers these).
TRANSLATION_LANGUAGES = tuple(code for code, _label in settings.LANGUAGES)
# What a macro applied by a rule says it was written by (Message.raw_source, at most 255 chars).
MACRO_SOURCE_PREFIX = "macro:"


@dataclass(frozen=True)
class RenderedMacro:
    """A macro as it reads for one ticket: the reply to put in the composer and the changes it makes."""

    macro_id: int
    title: str
    body_text: str
    is_internal: bool
    # The language code of the translation used; "" for the default text.
    language: str
    # The field actions in words ("Set status: Solved"), for the picker and the preview.
    actions: list[str] = field(default_factory=list)


# -- Saving ----------------------------------------------------------------------------------------


def _check_placeholders(text: str, *, field_name: str) -> None:
    unknown = unknown_placeholders(text)
    if unknown:
        raise ValidationError({field_name: _("Unknown placeholders: %(names)s.")
                                           % {"names": ", ".join("{{ " + name + " }}" for name in unknown)}})


def _normalized_language(code: str) -> str:
    return (code or "").strip().lower().replace("_", "-")


def macro_save(
    *,
    actor: User,
    macro: Macro | None = None,
    title: str,
    reply_text: str = "",
    reply_is_internal: bool = False,
    actions: Sequence[Mapping[str, Any]] = (),
    sharing: str = selectors.PERSONAL,
    team: Team | None = None,
    is_active: bool = True,
    translations: Mapping[str, Mapping[str, str]] | None = None,
) -> Macro:
    """Create (macro None) or change a macro. Raises PermissionDenied when `actor` may not change
    this macro or share it this way, ValidationError for a bad title, placeholder or action.

    `translations` (language → {"title", "reply_text"}), when given, replaces the macro's
    translations: a language with an empty reply is removed.
    """
    if macro is not None and not selectors.can_change_macro(actor, macro):
        raise PermissionDenied(_("You cannot change this macro."))
    if sharing not in (selectors.PERSONAL, selectors.TEAM, selectors.EVERYONE):
        raise ValidationError({"sharing": _("Choose who can use this macro.")})
    if sharing == selectors.TEAM and team is None:
        raise ValidationError({"team": _("Choose the team to share this macro with.")})
    if not selectors.can_share(actor, sharing=sharing, team=team if sharing == selectors.TEAM else None):
        raise PermissionDenied(_("You cannot share a macro that way."))
    title = " ".join((title or "").split())[:150]
    if not title:
        raise ValidationError({"title": _("Give the macro a title.")})
    _check_placeholders(reply_text, field_name="reply_text")
    try:
        cleaned_actions = validate_actions(list(actions), for_macro=True)
    except ValidationError as error:
        raise ValidationError({"actions": error.messages}) from None
    if not reply_text.strip() and not cleaned_actions:
        raise ValidationError({"reply_text": _("A macro needs a reply text or at least one action.")})
    cleaned_translations = _clean_translations(translations) if translations is not None else None
    with transaction.atomic():
        if macro is None:
            macro = Macro(created_by=actor)
        macro.title = title
        macro.reply_text = reply_text
        macro.reply_is_internal = reply_is_internal
        macro.actions = cleaned_actions
        macro.is_active = is_active
        # Editing someone's personal macro is refused above, so a personal macro is always the actor's.
        macro.owner = actor if sharing == selectors.PERSONAL else None
        macro.team = team if sharing == selectors.TEAM else None
        macro.full_clean(exclude=["owner", "team", "created_by", "actions"])
        macro.save()
        if cleaned_translations is not None:
            _replace_translations(macro, cleaned_translations)
    return macro


def _clean_translations(translations: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    cleaned: dict[str, dict[str, str]] = {}
    for language, values in translations.items():
        code = _normalized_language(language)
        if code not in TRANSLATION_LANGUAGES:
            raise ValidationError({"translations": _("Unknown language: %(code)s.") % {"code": language}})
        reply_text = values.get("reply_text") or ""
        if not reply_text.strip():
            continue
        _check_placeholders(reply_text, field_name="translations")
        cleaned[code] = {"title": " ".join((values.get("title") or "").split())[:150], "reply_text": reply_text}
    return cleaned


def _replace_translations(macro: Macro, translations: Mapping[str, Mapping[str, str]]) -> None:
    MacroTranslation.objects.filter(macro=macro).exclude(language__in=list(translations)).delete()
    for language, values in translations.items():
        MacroTranslation.objects.update_or_create(
            macro=macro, language=language,
            defaults={"title": values["title"], "reply_text": values["reply_text"]},
        )


def macro_translations_save(
    *, macro: Macro, actor: User, translations: Mapping[str, Mapping[str, str]]
) -> list[MacroTranslation]:
    """Replace the macro's translations (language → {"title", "reply_text"}; an empty reply removes
    that language). Same permission as changing the macro."""
    if not selectors.can_change_macro(actor, macro):
        raise PermissionDenied(_("You cannot change this macro."))
    cleaned = _clean_translations(translations)
    with transaction.atomic():
        _replace_translations(macro, cleaned)
    return list(macro.translations.order_by("language"))


def macro_delete(*, macro: Macro, actor: User) -> None:
    if not selectors.can_change_macro(actor, macro):
        raise PermissionDenied(_("You cannot delete this macro."))
    macro.delete()


# -- Rendering -------------------------------------------------------------------------------------


def translation_for(macro: Macro, language: str, translations: Iterable[MacroTranslation] | None = None
                    ) -> MacroTranslation | None:
    """The macro's translation for `language`: the exact code (case-insensitively, "_" read as "-"),
    else its base language ("zh-hant-tw" → "zh-hant" → "zh"), else None (the default text)."""
    wanted = _normalized_language(language)
    if not wanted:
        return None
    available = {_normalized_language(item.language): item
                 for item in (translations if translations is not None else macro.translations.all())}
    parts = wanted.split("-")
    while parts:
        found = available.get("-".join(parts))
        if found is not None:
            return found
        parts.pop()
    return None


def describe_actions(actions: Sequence[Mapping[str, Any]]) -> list[str]:
    """The macro's field actions in words, e.g. "Set status: Solved", "Add tags: vip, refund"."""
    team_ids = [int(a["value"]) for a in actions if a.get("type") == "set_team" and str(a.get("value")).isdigit()]
    user_ids = [int(a["value"]) for a in actions if a.get("type") == "assign" and str(a.get("value")).isdigit()]
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name")) if team_ids else {}
    users = {user.pk: user.name for user in User.objects.filter(pk__in=user_ids)} if user_ids else {}
    field_keys = [str(a.get("key")) for a in actions if a.get("type") == "set_custom_field"]
    field_labels = dict(CustomFieldDefinition.objects.filter(key__in=field_keys).values_list("key", "label")) \
        if field_keys else {}
    choices = {"set_status": Status, "set_priority": Priority, "set_type": TicketType}
    lines = []
    for action in actions:
        kind, value = action.get("type"), action.get("value")
        action_type = ACTIONS_BY_KEY.get(str(kind))
        if action_type is None:
            continue
        if kind in choices:
            enum = choices[kind]
            text = str(enum(value).label) if value in enum.values else str(value)
        elif kind == "set_team":
            text = teams.get(int(str(value)), _("(deleted team)")) if str(value).isdigit() else str(value)
        elif kind == "assign":
            if value == ROUTING:
                text = _("the team's routing")
            elif value in (None, ""):
                text = _("nobody (unassign)")
            else:
                text = users.get(int(str(value)), _("(deleted agent)")) if str(value).isdigit() else str(value)
        elif kind in ("add_tags", "remove_tags"):
            text = ", ".join(value or [])
        elif kind == "set_custom_field":
            key = str(action.get("key"))
            text = f"{field_labels.get(key, key)} = {value}"
        else:
            text = str(value or "")
        lines.append(f"{action_type.label}: {text}")
    return lines


def macro_render(*, macro: Macro, ticket: Ticket, agent: User | None,
                 translations: Iterable[MacroTranslation] | None = None) -> RenderedMacro:
    """The macro for this ticket: its title and reply in the requester's language when translated
    (else the default text), placeholders filled in as plain text, and its field actions in words.

    `translations` stands in for the macro's stored ones (the form's preview of unsaved text)."""
    chosen = translation_for(macro, ticket.requester.language or "", translations)
    title = (chosen.title if chosen is not None and chosen.title else macro.title)
    text = chosen.reply_text if chosen is not None else macro.reply_text
    language = _normalized_language(chosen.language) if chosen is not None else ""
    # Choice values such as {{ ticket.status }} read in the language of the text they go into.
    with translation.override(language or translation.get_language()):
        body_text = render_placeholders(text, ticket=ticket, agent=agent)
    return RenderedMacro(
        macro_id=macro.pk or 0, title=title, body_text=body_text, is_internal=macro.reply_is_internal,
        language=language, actions=describe_actions(macro.actions),
    )


# -- Applying --------------------------------------------------------------------------------------


_WATCHED_FIELDS = ("status", "priority", "type", "team_id", "assignee_id", "tags", "custom_fields")


def _snapshot(ticket: Ticket) -> dict[str, Any]:
    return {name: getattr(ticket, name) for name in _WATCHED_FIELDS}


def describe_changes(before: Mapping[str, Any], ticket: Ticket) -> list[str]:
    """What applying changed, in words ("Status: Open → Solved"), for the agent who applied it."""
    after = _snapshot(ticket)
    lines = []

    def label_of(name: str, value: Any) -> str:
        if value in (None, "", [], {}):
            return "—"
        if name == "status":
            return str(Status(value).label) if value in Status.values else str(value)
        if name == "priority":
            return str(Priority(value).label) if value in Priority.values else str(value)
        if name == "type":
            return str(TicketType(value).label) if value in TicketType.values else str(value)
        if name == "team_id":
            return Team.objects.filter(pk=value).values_list("name", flat=True).first() or str(value)
        if name == "assignee_id":
            user = User.objects.filter(pk=value).first()
            return user.name if user else str(value)
        if name == "tags":
            return ", ".join(value)
        return ", ".join(f"{key} = {val}" for key, val in sorted(value.items()))

    names = {"status": _("Status"), "priority": _("Priority"), "type": _("Type"), "team_id": _("Team"),
             "assignee_id": _("Assignee"), "tags": _("Tags"), "custom_fields": _("Custom fields")}
    for name in _WATCHED_FIELDS:
        if before[name] != after[name]:
            lines.append(f"{names[name]}: {label_of(name, before[name])} → {label_of(name, after[name])}")
    return lines


def _record_macro_applied(*, ticket: Ticket, macro: Macro, actor: User | None, via: str, actor_kind: str) -> Event:
    return events.macro_applied(ticket=ticket, macro_id=macro.pk, title=macro.title, actor=actor, via=via,
                                actor_kind=actor_kind)


def macro_apply(*, macro: Macro, ticket: Ticket, actor: User | None, via: str | None = None) -> Ticket:
    """Apply the macro's field actions to the ticket in one transaction and count the use.

    An agent (actor) must be able to work the ticket and see the macro; the field changes are held
    to their role's permissions like any change of theirs, and the reply is left for them to review
    in the composer (`macro_render`). A rule (actor None, via "rule:<id>") gets the reply added as
    well: a public macro as an automatic reply to the requester, an internal one as an automatic note.
    Raises PermissionDenied / ValidationError and then changes nothing.
    """
    from tickets.services.ticket_fields import ticket_update
    from tickets.services.ticket_messages import ticket_add_automatic_note, ticket_add_automatic_reply

    if actor is not None:
        if not permissions.can_work_ticket(actor, ticket):
            raise PermissionDenied(_("You cannot work on this ticket."))
        if not selectors.macros_visible_to(actor).filter(pk=macro.pk).exists():
            raise PermissionDenied(_("You cannot use this macro."))
    elif macro.owner_id is not None:
        # A personal macro is its owner's own wording; rules use shared macros only.
        raise ValidationError(_("Rules can only apply shared macros."))
    if not macro.is_active:
        raise ValidationError(_("This macro is switched off."))
    via = via or ("web" if actor is not None else f"{MACRO_SOURCE_PREFIX}{macro.pk}")
    actor_kind = ActorKind.AGENT if actor is not None else ActorKind.AUTOMATION
    with transaction.atomic():
        update = field_actions_to_update(macro.actions, ticket=ticket)
        routed = any(a.get("type") == "assign" and a.get("value") == ROUTING for a in macro.actions)
        _record_macro_applied(ticket=ticket, macro=macro, actor=actor, via=via, actor_kind=actor_kind)
        if update:
            ticket = ticket_update(ticket=ticket, actor=actor, via=via,
                                   actor_kind=None if actor is not None else ActorKind.AUTOMATION, **update)
        if routed:
            from tickets.assignment.services import ticket_assign_by_routing

            ticket_assign_by_routing(ticket=ticket, via=via)
            ticket.refresh_from_db()
        Macro.objects.filter(pk=macro.pk).update(usage_count=F("usage_count") + 1, last_used_at=timezone.now())
        if actor is None and macro.reply_text.strip():
            rendered = macro_render(macro=macro, ticket=ticket, agent=None)
            if rendered.body_text.strip():
                if rendered.is_internal:
                    ticket_add_automatic_note(ticket=ticket, body_text=rendered.body_text, via=via)
                else:
                    ticket_add_automatic_reply(ticket=ticket, body_text=rendered.body_text,
                                               source=f"{MACRO_SOURCE_PREFIX}{macro.pk}")
    return ticket


def macro_apply_for_composer(
    *, macro: Macro, ticket: Ticket, actor: User, via: str | None = None
) -> tuple[Ticket, RenderedMacro, list[str]]:
    """The reply box's use: apply the field actions now, then render the reply (so placeholders such
    as {{ ticket.status }} read as after the change) for the agent to review and send. Returns the
    ticket, the rendered macro and the changes in words."""
    before = _snapshot(ticket)
    ticket = macro_apply(macro=macro, ticket=ticket, actor=actor, via=via)
    ticket = Ticket.objects.select_related("requester", "organization", "team", "assignee").get(pk=ticket.pk)
    return ticket, macro_render(macro=macro, ticket=ticket, agent=actor), describe_changes(before, ticket)
