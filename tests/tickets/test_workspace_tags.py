"""The workspace template helpers: relative times read exactly as Django's timesince would write them."""

from __future__ import annotations

import random
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django import forms
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone, translation
from django.utils.html import avoid_wrapping
from django.utils.safestring import mark_safe
from django.utils.timesince import TIME_STRINGS, timesince
from django.utils.translation import gettext_lazy

from tests.factories import make_agent, make_team, make_ticket
from tickets.models import Message, Role, User
from tickets.templatetags.workspace import RelativeWords, choice_label, largest_unit, relative_time

ZONES = [UTC, zoneinfo.ZoneInfo("America/Los_Angeles"), zoneinfo.ZoneInfo("Asia/Shanghai"),
         zoneinfo.ZoneInfo("Australia/Lord_Howe")]


def instants() -> list[tuple[datetime, datetime]]:
    """Month ends, leap days, DST changes, a minute either side of each unit, and random spans."""
    pairs = []
    for now in (datetime(2024, 3, 1, 0, 30, tzinfo=UTC), datetime(2025, 3, 9, 10, 0, tzinfo=UTC),
                datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC), datetime(2026, 11, 2, 9, 0, tzinfo=UTC)):
        for span in (timedelta(seconds=59), timedelta(minutes=1), timedelta(minutes=59, seconds=59),
                     timedelta(hours=1), timedelta(days=1) - timedelta(seconds=1), timedelta(days=1),
                     timedelta(days=6, hours=23), timedelta(days=7), timedelta(days=27), timedelta(days=28),
                     timedelta(days=29), timedelta(days=30), timedelta(days=31), timedelta(days=364),
                     timedelta(days=365), timedelta(days=366), timedelta(days=800)):
            pairs.append((now - span, now))
    generator = random.Random(7)
    for _ in range(3000):
        now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=generator.randrange(0, 400 * 24 * 3600))
        span = timedelta(seconds=generator.choice([generator.randrange(0, 3 * 24 * 3600),
                                                   generator.randrange(0, 900 * 24 * 3600)]))
        pairs.append((now - span, now))
    return pairs


@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_largest_unit_is_the_unit_timesince_shows(zone):
    for value, now in instants():
        value = value.astimezone(zone)
        name, count = largest_unit(value, now)
        assert avoid_wrapping(TIME_STRINGS[name] % {"num": count}) == timesince(value, now, depth=1), (value, now)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_relative_words_are_the_filters_words_in_every_language(language):
    with translation.override(language):
        words = RelativeWords()
        for value, now in instants()[:400]:
            reference = (translation.gettext("just now") if now - value < timedelta(minutes=1)
                         else translation.gettext("%(time)s ago") % {"time": timesince(value, now, depth=1)})
            assert words.text(value, now) == reference


def test_relative_time_filter():
    now = timezone.now()
    with translation.override("en"):
        assert relative_time(None) == ""
        assert relative_time(now + timedelta(minutes=5)) == "just now"
        assert relative_time(now - timedelta(seconds=20)) == "just now"
        assert relative_time(now - timedelta(minutes=5, seconds=3)) == "5\xa0minutes ago"
        assert relative_time(now - timedelta(days=40)) == "1\xa0month ago"


LOOP = Template(
    '{% for value, label in choices %}<option value="{{ value }}"{% if value == selected %} selected{% endif %}>'
    "{{ label }}</option>{% endfor %}"
)
LOOP_WITHOUT_SELECTION = Template('{% for value, label in choices %}<option value="{{ value }}">{{ label }}</option>{% endfor %}')


@pytest.mark.parametrize("selected", ["", "open", "a&b", None, 3, "missing"])
def test_options_tag_writes_what_the_template_loop_writes(selected):
    choices = [("", "Any status"), ("open", gettext_lazy("Open")), ("a&b", '<b>"Bold"</b>'), (3, 1234567),
               ("safe", mark_safe("<em>safe</em>")), ("zh", "处理中")]
    context = {"choices": choices, "selected": selected}
    assert Template("{% load workspace %}{% options choices selected=selected %}").render(Context(context)) == \
        LOOP.render(Context(context))
    assert Template("{% load workspace %}{% options choices %}").render(Context(context)) == \
        LOOP_WITHOUT_SELECTION.render(Context(context))


def test_query_value_tag_reads_the_query_string_and_escapes():
    request = RequestFactory().get("/agent/", {"q": '"><script>', "sort": "-updated"})
    tag = Template('{% load workspace %}[{% query_value "q" %}][{% query_value "sort" %}][{% query_value "cursor" %}]')
    assert tag.render(Context({"request": request})) == "[&quot;&gt;&lt;script&gt;][-updated][]"


# The include the form_field tag replaced, kept here as the reference for its HTML.
FORM_FIELD_TEMPLATE = Template("""{% if field.is_hidden %}{{ field }}{% else %}
<div class="field{% if field.errors %} field--error{% endif %}{% if field.widget_type == 'checkbox' %} field--inline{% endif %}">
  {% if field.widget_type == 'checkbox' %}
    {{ field }}<label class="field__label" for="{{ field.id_for_label }}">{{ field.label }}</label>
  {% else %}
    <label class="field__label" for="{{ field.id_for_label }}">{{ field.label }}</label>
    {{ field }}
  {% endif %}
  {% if field.help_text %}<div class="field__help">{{ field.help_text }}</div>{% endif %}
  {% for error in field.errors %}<div class="field__error">{{ error }}</div>{% endfor %}
</div>
{% endif %}
""")


class EveryKindOfField(forms.Form):
    name = forms.CharField(label="Name <full>", help_text='Say "who" & why', max_length=3)
    agree = forms.BooleanField(label="I agree")
    choice = forms.ChoiceField(label=gettext_lazy("Status"), choices=[("a", "A & B"), ("b", "B")], required=False)
    secret = forms.CharField(widget=forms.HiddenInput, required=False)
    number = forms.IntegerField(label="Number", min_value=1, required=False)


@pytest.mark.parametrize("data", [None, {"name": "<too long>", "number": "0", "choice": "zzz", "secret": '"x"'}])
def test_form_field_tag_writes_what_the_field_include_wrote(data):
    form = EveryKindOfField(data)
    tag = Template("{% load workspace %}{% form_field field %}")
    for field in form:
        assert tag.render(Context({"field": field})) == FORM_FIELD_TEMPLATE.render(Context({"field": field})), field.name
    if data:
        assert "field--error" in tag.render(Context({"field": form["name"]}))


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_choice_label_is_the_models_display_value(language):

    ticket = make_ticket(team=make_team())
    user = make_agent(make_team())
    message = Message(channel="email", delivery_state="bounced")
    odd = Message(channel="carrier pigeon", delivery_state="")
    with translation.override(language):
        for instance, name in [(ticket, "status"), (ticket, "priority"), (ticket, "type"), (ticket, "channel"),
                               (ticket.requester, "tier"), (message, "channel"), (message, "delivery_state"),
                               (odd, "channel"), (odd, "delivery_state"), (user, "role")]:
            assert choice_label(instance, name) == getattr(instance, f"get_{name}_display")(), (instance, name)
        manager = User(role=Role.MANAGER)
        assert choice_label(manager, "role") == manager.get_role_display()


@pytest.mark.parametrize(("name", "expected"), [
    ("Ann Lee", "AL"), ("wang@example.com", "WE"), ("王芳", "王"), ("", "?"),
    # An unknown caller is named by their number.
    ("+86 138 1234 5678", "#"), ("+1 (555) 010-9999 Front desk", "FD"),
])
def test_avatar_initials_come_from_letters(name, expected):
    from tickets.templatetags.workspace import initials

    assert initials(name) == expected
