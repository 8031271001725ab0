"""Small presentation helpers for the workspace and portal templates."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from django import template
from django.db.models import Model
from django.template.base import render_value_in_context
from django.utils import timezone, translation
from django.utils.autoreload import file_changed
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.html import avoid_wrapping, conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import TIME_STRINGS
from django.utils.translation import gettext as _

from tickets.selectors import QueueRow, SlaBadge

register = template.Library()


# timesince's units, largest first, below a month.
_UNITS = (("week", 7 * 24 * 3600), ("day", 24 * 3600), ("hour", 3600), ("minute", 60))
_MINUTE = timedelta(minutes=1)


def largest_unit(value: datetime, now: datetime) -> tuple[str, int]:
    """The one unit `timesince(value, now, depth=1)` shows, by the same calendar arithmetic.

    timesince works out every unit and joins them with a translated ", " even for one; a queue
    page asks for a hundred of these. tests/tickets/test_workspace_tags.py holds the two equal.
    """
    if now.tzinfo is not value.tzinfo and timezone.is_aware(now) and timezone.is_aware(value):
        # Like timesince: the difference on value's wall clock (which is what subtracting two
        # datetimes of one tzinfo gives, DST changes included).
        now = now.astimezone(value.tzinfo)
    delta = now - value
    if delta.days * 24 * 3600 + delta.seconds <= 0:
        return "minute", 0
    if delta.days < 28:
        # Shorter than any calendar month, so no month or year: the units below are plain seconds.
        return _small_unit(delta.total_seconds())
    months = (now.year - value.year) * 12 + (now.month - value.month)
    if value.day > now.day or (value.day == now.day and value.time() > now.time()):
        months -= 1
    if months >= 12:
        return "year", months // 12
    if months:
        return "month", months
    return _small_unit(delta.total_seconds())


def _small_unit(remaining: float) -> tuple[str, int]:
    for unit, seconds in _UNITS:
        if remaining >= seconds:
            return unit, int(remaining // seconds)
    return "minute", 0


class RelativeWords:
    """"just now", "5 minutes ago": each text translated once (in the active language) per instance."""

    def __init__(self) -> None:
        self.just_now = _("just now")
        self.ago = _("%(time)s ago")
        self.texts: dict[tuple[str, int], str] = {}

    def text(self, value: datetime, now: datetime) -> str:
        if value > now or now - value < _MINUTE:
            return self.just_now
        unit = largest_unit(value, now)
        text = self.texts.get(unit)
        if text is None:
            name, count = unit
            text = self.texts[unit] = self.ago % {"time": avoid_wrapping(TIME_STRINGS[name] % {"num": count})}
        return text


@register.filter
def relative_time(value: datetime | None) -> str:
    """"just now", "5 minutes ago", "3 days ago": one unit, in the active language."""
    if not value:
        return ""
    return RelativeWords().text(value, timezone.now())


# Labels of a choice field by (model, field, language): the same in every request of a process.
_CHOICE_LABELS: dict[tuple[str, str, str | None], dict[Any, Any]] = {}


@register.filter
def choice_label(instance: Model, field_name: str) -> Any:
    """`instance.get_<field_name>_display()`, with the field's labels translated once per language.

    Django's version builds a dict of every choice on each call, and hashing a lazy label translates
    it: a ticket page asked for a few dozen labels, each costing all of its field's translations."""
    field = instance._meta.get_field(field_name)
    key = (instance._meta.label, field_name, translation.get_language())
    labels = _CHOICE_LABELS.get(key)
    if labels is None:
        labels = _CHOICE_LABELS[key] = {make_hashable(value): str(label) for value, label in field.flatchoices}
    value = getattr(instance, field.attname)
    return force_str(labels.get(make_hashable(value), value), strings_only=True)


def _forget_choice_labels(sender: Any, file_path: Path, **kwargs: Any) -> None:
    """The development server reloads changed catalogs without restarting; so do these labels."""
    if file_path.suffix == ".mo":
        _CHOICE_LABELS.clear()


file_changed.connect(_forget_choice_labels)


@register.filter
def initials(name: str | None) -> str:
    """One or two letters for an avatar; a CJK name gives its first character. A name without
    letters (an unknown caller is named by their number, "+86 138…") gives "#", not "+1"."""
    words = [word for word in str(name or "").replace("@", " ").replace(".", " ").split() if word[0].isalpha()]
    if not words:
        return "#" if str(name or "").strip() else "?"
    first = words[0]
    if not first.isascii():
        return first[0]
    return (first[0] + (words[1][0] if len(words) > 1 and words[1].isascii() else "")).upper()


@register.filter
def filesize(value: int | None) -> str:
    size = float(value or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


_NO_SELECTION = object()


@register.simple_tag(takes_context=True)
def options(context: template.Context, choices, selected=_NO_SELECTION) -> SafeString:
    """<option>s of (value, label) pairs, the one equal to `selected` marked: the HTML of
    `{% for value, label in choices %}<option value="{{ value }}"{% if value == selected %} selected{% endif %}>{{ label }}</option>{% endfor %}`.

    Written in Python because a queue page has some sixty options, and through the template engine
    they cost more than the rows of tickets."""
    parts = []
    for value, label in choices:
        marked = " selected" if selected is not _NO_SELECTION and value == selected else ""
        parts.append(f'<option value="{_shown(value, context)}"{marked}>{_shown(label, context)}</option>')
    return mark_safe("".join(parts))  # noqa: S308 - every value and label is escaped by _shown


def _shown(value, context: template.Context) -> str:
    """A value as `{{ value }}` shows it (localized, escaped unless safe); plain strings take a short cut."""
    if type(value) is str and context.autoescape:
        return escape(value)
    return render_value_in_context(value, context)


@register.simple_tag(takes_context=True)
def query_value(context: template.Context, name: str) -> str:
    """A parameter of the page's query string, or "" (`request.GET.name` in a template raises and
    inspects the QueryDict with dir() for every parameter that is absent)."""
    request = context.get("request")
    return request.GET.get(name, "") if request is not None else ""


@register.simple_tag
def form_field(field) -> SafeString:
    """A form field of the workspace: label, widget, help text and errors, as

        <div class="field[ field--error][ field--inline]">
          <label class="field__label" for="…">Label</label> <widget>   (a checkbox: widget, then label)
          <div class="field__help">…</div>
          <div class="field__error">…</div>…
        </div>

    Written in Python: in a template every `field.x` goes through BoundField's item lookup and an
    exception first, which made the ticket's fields panel cost as much as the rest of the page.
    A hidden field is just its widget. The line breaks are those of the template this replaced."""
    widget = str(field)
    if field.is_hidden:
        return mark_safe(widget + "\n")  # noqa: S308 - a rendered widget is safe HTML
    errors = field.errors
    is_checkbox = field.widget_type == "checkbox"
    label = (f'<label class="field__label" for="{conditional_escape(field.id_for_label)}">'
             f"{conditional_escape(field.label)}</label>")
    body = f"\n    {widget}{label}\n  " if is_checkbox else f"\n    {label}\n    {widget}\n  "
    help_text = f'<div class="field__help">{conditional_escape(field.help_text)}</div>' if field.help_text else ""
    error_list = "".join(f'<div class="field__error">{conditional_escape(error)}</div>' for error in errors)
    css = "field" + (" field--error" if errors else "") + (" field--inline" if is_checkbox else "")
    return mark_safe(  # noqa: S308 - every value is escaped, the widget is safe HTML
        f'\n<div class="{css}">\n  {body}\n  {help_text}\n  {error_list}\n</div>\n\n'
    )


class SlaWords:
    """The countdown texts of SLA targets, translated once per render. static/js/agent/sla.js
    writes the same texts (it reads these formats from the page: `sla_texts`)."""

    def __init__(self) -> None:
        self.minutes = _("%(minutes)s min")
        self.hours = _("%(hours)s h %(minutes)s min")
        self.days = _("%(days)s d %(hours)s h")
        self.overdue = _("overdue %(time)s")
        self.paused = _("paused")
        self.met = _("met")

    def countdown(self, due_at: datetime, now: datetime) -> str:
        """"12 min", "2 h 5 min", "3 d 4 h", "overdue 3 min": whole minutes, rounded up."""
        seconds = (due_at - now).total_seconds()
        minutes = math.ceil(abs(seconds) / 60)
        if minutes < 60:
            text = self.minutes % {"minutes": minutes}
        elif minutes < 24 * 60:
            text = self.hours % {"hours": minutes // 60, "minutes": minutes % 60}
        else:
            text = self.days % {"days": minutes // (24 * 60), "hours": minutes % (24 * 60) // 60}
        return self.overdue % {"time": text} if seconds < 0 else text


def sla_tone(*, due_at: datetime, warning_at: datetime | None, breached_at: datetime | None, is_paused: bool,
             is_met: bool, now: datetime) -> str:
    """The colour of a target: met, paused (grey), breached (red: missed, or past due), warning
    (amber: past the warning point) or ok (green)."""
    if is_met:
        return "met"
    if is_paused:
        return "paused"
    if breached_at is not None or due_at <= now:
        return "breached"
    if warning_at is not None and warning_at <= now:
        return "warning"
    return "ok"


def sla_time_html(*, words: SlaWords, zone: Any, now: datetime, due_at: datetime, warning_at: datetime | None,
                  breached_at: datetime | None, is_paused: bool, is_met: bool = False) -> str:
    """<time class="sla sla--<tone>" datetime="<due, viewer's zone>">countdown</time>; sla.js keeps
    running ones current (data-sla-warning is the warning point)."""
    tone = sla_tone(due_at=due_at, warning_at=warning_at, breached_at=breached_at, is_paused=is_paused,
                    is_met=is_met, now=now)
    iso = due_at.astimezone(zone).isoformat()
    if tone in ("paused", "met"):
        text = words.paused if tone == "paused" else words.met
        return f'<time class="sla sla--{tone}" datetime="{iso}" title="{iso[:10]} {iso[11:16]}">{escape(text)}</time>'
    warning = f' data-sla-warning="{warning_at.astimezone(zone).isoformat()}"' if warning_at is not None else ""
    return (f'<time class="sla sla--{tone}" datetime="{iso}" data-sla-countdown{warning} '
            f'title="{iso[:10]} {iso[11:16]}">{escape(words.countdown(due_at, now))}</time>')


@register.simple_tag
def sla_texts() -> SafeString:
    """The countdown formats for static/js/agent/sla.js, as data attributes (translated here)."""
    words = SlaWords()
    return mark_safe(  # noqa: S308 - every text is escaped
        f'<div id="sla-texts" hidden data-minutes="{escape(words.minutes)}" data-hours="{escape(words.hours)}" '
        f'data-days="{escape(words.days)}" data-overdue="{escape(words.overdue)}"></div>'
    )


@register.simple_tag
def sla_timer(timer: Any) -> SafeString:
    """The countdown of one SLA timer (an SlaTimer, or an SlaBadge) in the viewer's time zone."""
    from tickets.models import TimerState

    state = getattr(timer, "state", None)
    return mark_safe(sla_time_html(  # noqa: S308 - sla_time_html escapes the text
        words=SlaWords(), zone=timezone.get_current_timezone(), now=timezone.now(), due_at=timer.due_at,
        warning_at=timer.warning_at, breached_at=timer.breached_at,
        is_paused=getattr(timer, "is_paused", state == TimerState.PAUSED), is_met=state == TimerState.MET,
    ))


class _RowText:
    """Labels, formats and the clock a queue render needs, looked up (and escaped) once per render
    instead of once per row."""

    def __init__(self) -> None:
        from django.urls import reverse

        from tickets.models import Priority, Status

        self.status_cells = {value: self._badge_cell("status", value, label) for value, label in Status.choices}
        self.priority_cells = {value: self._badge_cell("priority", value, label) for value, label in Priority.choices}
        self.unassigned = f'<span class="muted">{escape(_("Unassigned"))}</span>'
        # Escaped before the number goes in: the number is digits only.
        self.select = escape(_("Select ticket #%(number)s"))
        # Reversed once per render; every row's link differs only in the number.
        self.url_prefix = escape(reverse("agent:ticket", args=[0]).removesuffix("0/"))
        # The whole page at one instant, so the same age reads the same on every row.
        self.now = timezone.now()
        self.zone = timezone.get_current_timezone()
        self.relative = RelativeWords()
        self.sla_words = SlaWords()

    @staticmethod
    def _badge_cell(kind: str, value: str, label: object) -> str:
        return (f'<td class="col-{kind}"><span class="badge badge--{kind}-{escape(value)}">'
                f"{escape(str(label))}</span></td>")

    def time_cell(self, css: str, value: datetime, *, relative: bool) -> str:
        """A date cell in the viewer's time zone. ISO-style dates read the same in every language and
        cost far less than localized formats, which matters at a hundred rows: the date and the
        minute are cut from the ISO text (the same as strftime "%Y-%m-%d" and "%Y-%m-%d %H:%M")."""
        iso = value.astimezone(self.zone).isoformat()
        shown = escape(self.relative.text(value, self.now)) if relative else iso[:10]
        return (f'<td class="{css} col-date"><time datetime="{iso}" '
                f'title="{iso[:10]} {iso[11:16]}">{shown}</time></td>')

    def sla_cell(self, badge: SlaBadge | None) -> str:
        if badge is None:
            return '<td class="col-sla"><span class="muted">—</span></td>'
        return '<td class="col-sla">' + sla_time_html(
            words=self.sla_words, zone=self.zone, now=self.now, due_at=badge.due_at, warning_at=badge.warning_at,
            breached_at=badge.breached_at, is_paused=badge.is_paused,
        ) + "</td>"

    def row(self, ticket: QueueRow) -> str:
        """One row of the agent queue. Every value from the ticket goes through `escape` (the standard
        library's, which escapes & < > " and ')."""
        number = int(ticket.number)
        tags = ""
        if ticket.tags:
            tags = '<div class="chips">' + "".join(f'<span class="chip">{escape(tag)}</span>' for tag in ticket.tags[:4]) + "</div>"
        team = (f'<div class="cell-truncate">{escape(ticket.team_name)}</div>' if ticket.team_name is not None
                else '<span class="muted">—</span>')
        assignee = (f'<div class="cell-truncate">{escape(ticket.assignee_name)}</div>' if ticket.assignee_name is not None
                    else self.unassigned)
        status = self.status_cells.get(ticket.status) or self._badge_cell("status", ticket.status, ticket.status)
        priority = (self.priority_cells.get(ticket.priority)
                    or self._badge_cell("priority", ticket.priority, ticket.priority))
        return (
            f'<tr id="ticket-row-{number}" data-number="{number}">'
            f'<td class="col-check"><input type="checkbox" name="numbers" value="{number}" form="bulk-form" '
            f'data-row-check aria-label="{self.select % {"number": number}}"></td>'
            f'<td class="col-number mono">#{number}</td>'
            f'<td class="col-subject"><div class="truncate"><a href="{self.url_prefix}{number}/">'
            f'{escape(ticket.subject)}</a></div>{tags}</td>'
            f'<td class="col-requester"><div class="cell-truncate">{escape(ticket.requester_name)}</div></td>'
            f'{status}{priority}{self.sla_cell(ticket.sla)}'
            f'<td class="col-team">{team}</td>'
            f'<td class="col-assignee">{assignee}</td>'
            f'{self.time_cell("col-updated", ticket.updated_at, relative=True)}'
            f'{self.time_cell("col-created", ticket.created_at, relative=False)}</tr>'
        )


def _row_text(context: template.Context) -> _RowText:
    text = context.render_context.get("queue_row_text")
    if text is None:
        text = context.render_context["queue_row_text"] = _RowText()
    return text


@register.simple_tag(takes_context=True)
def queue_row(context: template.Context, ticket: QueueRow) -> SafeString:
    """One row of the agent queue (a live update), rendered in Python like `queue_rows`."""
    return mark_safe(_row_text(context).row(ticket))  # noqa: S308 - _RowText.row escapes every value


@register.simple_tag(takes_context=True)
def queue_rows(context: template.Context, tickets: list[QueueRow]) -> SafeString:
    """The rows of a queue page, rendered in Python: at a hundred rows a page, template includes,
    tags and filters per cell cost more than the whole database work."""
    text = _row_text(context)
    return mark_safe("\n".join([text.row(ticket) for ticket in tickets]))  # noqa: S308 - _RowText.row escapes every value
