"""A form renderer that writes the workspace's plain widgets in Python.

Django renders every widget through templates: a <select> includes one template per option and
another per attribute list, so the ticket page's fields panel (status, priority, type, team,
assignee, tags, custom fields) cost more to render than the rest of the page. The output here is
byte for byte what Django's templates write (tests/tickets/views/test_agent_rendering.py compares
them); any widget or value it does not know goes through the templates as before.
"""

from __future__ import annotations

from html import escape
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise
from django.utils.html import conditional_escape as django_conditional_escape

SELECT = "django/forms/widgets/select.html"
SELECT_OPTION = "django/forms/widgets/select_option.html"
# input.html and the <input> widgets whose templates only include it.
INPUTS = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in ("input", "text", "number", "email", "url", "password", "hidden", "date", "datetime", "time",
                 "checkbox", "search", "tel", "color")
)


def conditional_escape(value: Any) -> str:
    """Django's conditional_escape, without its lazy-string wrapper for the common plain str."""
    if type(value) is str:
        return escape(value)
    return django_conditional_escape(value)


def _is_text(value: Any) -> bool:
    """Values the templates print unchanged (no localization of numbers or dates)."""
    return isinstance(value, str | Promise)


def _attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html: `True` gives a bare attribute, `False` none."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(f" {conditional_escape(name)}")
        else:
            out.append(f' {conditional_escape(name)}="{_formatted(value)}"')
    return "".join(out)


def _formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}`: str() of the value, escaped unless already safe."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return conditional_escape(str(value))


def _select(widget: dict[str, Any]) -> str | None:
    options = []
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            return None
        for option in group_choices:
            if option.get("template_name") != SELECT_OPTION or not _is_text(option["label"]):
                return None
            options.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f'{conditional_escape(option["label"])}</option>\n'
            )
    # Each option ends with the line break its template file ends with; the renderer strips the whole.
    return f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>{"".join(options)}\n</select>'


def _input(widget: dict[str, Any]) -> str:
    value = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return (f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"'
            f'{value}{_attrs(widget["attrs"])}>')


class WorkspaceFormRenderer(DjangoTemplates):
    """Django's default form renderer, with <select> and <input> widgets written in Python."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        widget = context.get("widget")
        if isinstance(widget, dict) and context.keys() == {"widget"}:
            if template_name == SELECT:
                html = _select(widget)
                if html is not None:
                    return html
            elif template_name in INPUTS and set(widget) >= {"type", "name", "value", "attrs"}:
                return _input(widget)
        return super().render(template_name, context, request)


FORM_RENDERER = WorkspaceFormRenderer()
