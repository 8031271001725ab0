"""The workspace's form renderer writes exactly the HTML of Django's widget templates, only faster."""

from __future__ import annotations

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe

from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.forms import MergeForm, TicketFieldsForm
from tickets.models import CustomFieldDefinition
from tickets.views.agent.rendering import FORM_RENDERER

pytestmark = pytest.mark.django_db

FieldType = CustomFieldDefinition.FieldType


def rendered_both_ways(form_class, *args, **kwargs) -> list[tuple[str, str]]:
    """(Django's templates, workspace renderer) HTML of every field of the form."""
    by_templates = form_class(*args, renderer=DjangoTemplates(), **kwargs)
    by_python = form_class(*args, renderer=FORM_RENDERER, **kwargs)
    return [(str(by_templates[name]), str(by_python[name])) for name in by_templates.fields]


def test_ticket_fields_panel_renders_the_same_html_as_the_widget_templates(monkeypatch):
    support = make_team("Support & <Escalations>", slug="support")
    agent = make_agent(support, username="ada", display_name='Ada "The Agent" <O\'Neil>')
    make_agent(support, username="bob", display_name="鲍勃")
    ticket = make_ticket(requester=make_customer(email="alice@example.com"), team=support, subject="x")
    ticket.tags = ["vip", "a&b"]
    ticket.custom_fields = {"order": "SO-<1>", "gift": True, "size": "M & L", "due": "2026-01-31", "count": 3}
    definitions = [
        CustomFieldDefinition.objects.create(key="order", label="Order <id>", field_type=FieldType.TEXT),
        CustomFieldDefinition.objects.create(key="gift", label="Gift", field_type=FieldType.CHECKBOX),
        CustomFieldDefinition.objects.create(key="empty", label="Empty box", field_type=FieldType.CHECKBOX),
        CustomFieldDefinition.objects.create(key="size", label="Size", field_type=FieldType.SELECT,
                                             choices=["S", "M & L", '"XL"']),
        CustomFieldDefinition.objects.create(key="due", label="Due", field_type=FieldType.DATE),
        CustomFieldDefinition.objects.create(key="count", label="Count", field_type=FieldType.NUMBER),
    ]
    kwargs = {"ticket": ticket, "teams": [support], "agents": [agent], "definitions": definitions}

    unbound = rendered_both_ways(TicketFieldsForm, **kwargs)
    # Bound with errors: aria-invalid, the submitted (not the initial) values, a value not among the choices.
    bound = rendered_both_ways(
        TicketFieldsForm, {"status": "nonsense", "priority": "high", "type": "", "team": "<b>", "tags": "x" * 1001,
                           "cf_size": "M & L", "cf_gift": "on"}, **kwargs)

    assert len(unbound) == len(bound) == 6 + len(definitions)
    for by_templates, by_python in unbound + bound:
        assert by_python == by_templates
    assert any('aria-invalid="true"' in html for html, _ in bound)
    assert any("&lt;O&#x27;Neil&gt;" in html for html, _ in unbound)
    # And none of these widgets needed a template (that is the point of the renderer).
    monkeypatch.setattr(type(FORM_RENDERER), "get_template", lambda *args: pytest.fail("rendered by a template"))
    assert all(str(bound_field) for bound_field in TicketFieldsForm(renderer=FORM_RENDERER, **kwargs))


def test_merge_form_renders_the_same_html_as_the_widget_templates():
    for by_templates, by_python in rendered_both_ways(MergeForm) + rendered_both_ways(MergeForm, {"target_number": "<1>"}):
        assert by_python == by_templates


class Odd(forms.Form):
    """Widgets and values the renderer leaves to the templates, and a few it writes itself."""

    grouped = forms.ChoiceField(choices=[("Fruit", [("a", "Apple"), ("p", "Pear")]), ("x", "Other")])
    numbered = forms.ChoiceField(choices=[(1, 1000), (2, 2000)])
    radio = forms.ChoiceField(choices=[("a", "A")], widget=forms.RadioSelect)
    many = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B")])
    notes = forms.CharField(widget=forms.Textarea)
    secret = forms.CharField(widget=forms.PasswordInput(render_value=True))
    hidden = forms.CharField(widget=forms.HiddenInput)
    safe_label = forms.ChoiceField(choices=[("s", mark_safe("<em>safe</em>"))])
    attrs = forms.CharField(widget=forms.TextInput(attrs={"data-on": True, "data-off": False, "data-zero": 0}))


def test_other_widgets_render_the_same_html_as_the_widget_templates():
    data = {"grouped": "p", "numbered": "2", "radio": "a", "many": ["a", "b"], "notes": "<hi>", "secret": "s3<",
            "hidden": '"h"', "safe_label": "s", "attrs": "v"}
    for by_templates, by_python in rendered_both_ways(Odd) + rendered_both_ways(Odd, data):
        assert by_python == by_templates
