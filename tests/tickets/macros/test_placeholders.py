"""Placeholders: every one renders its value; nothing else in a macro can reach the template engine,
the settings or the models."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.factories import make_customer, make_organization, make_ticket
from tickets.macros.placeholders import (
    PLACEHOLDER_DESCRIPTIONS,
    PLACEHOLDERS,
    render_placeholders,
    unknown_placeholders,
)
from tickets.models import Customer
from tickets.services.ticket_fields import ticket_update

pytestmark = pytest.mark.django_db


def test_every_placeholder_renders_its_value(support, agent, other_agent, settings):
    settings.HELPDESK_SITE_URL = "https://help.example.com/"
    organization = make_organization("Acme Corp")
    requester = make_customer(email="alice@example.com", name="Alice Smith", organization=organization)
    ticket = make_ticket(requester=requester, team=support, subject="Refund please")
    ticket = ticket_update(ticket=ticket, actor=other_agent, assignee=other_agent, priority="high")
    expected = {
        "ticket.number": str(ticket.number),
        "ticket.subject": "Refund please",
        "ticket.status": "Open",
        "ticket.priority": "High",
        "ticket.type": "Question",
        "ticket.channel": "Web form",
        "ticket.created_date": timezone.localdate(ticket.created_at).isoformat(),
        "ticket.url": f"https://help.example.com/portal/requests/{ticket.number}/",
        "ticket.team": "Support",
        "requester.name": "Alice Smith",
        "requester.first_name": "Alice",
        "requester.email": "alice@example.com",
        "organization.name": "Acme Corp",
        "agent.name": "Ada Lovelace",
        "agent.first_name": "Ada",
        "agent.email": "ada@staff.example",
        "assignee.name": "Ben Agent",
    }
    assert set(expected) == set(PLACEHOLDERS), "a placeholder without a test (or a test of a removed one)"
    for name, value in expected.items():
        assert render_placeholders("[{{ " + name + " }}]", ticket=ticket, agent=agent) == f"[{value}]", name
        # Spacing inside the braces does not matter.
        assert render_placeholders("{{" + name + "}}", ticket=ticket, agent=agent) == value, name


def test_every_placeholder_is_described_for_the_form():
    assert set(PLACEHOLDER_DESCRIPTIONS) == set(PLACEHOLDERS)


def test_agent_placeholders_fall_back_to_the_assignee_without_an_agent(ticket, other_agent):
    ticket = ticket_update(ticket=ticket, actor=other_agent, assignee=other_agent)
    assert render_placeholders("{{ agent.name }} / {{ agent.first_name }}", ticket=ticket, agent=None) == \
        "Ben Agent / Ben"


def test_empty_values_render_as_nothing(ticket, agent):
    # No organization, no assignee.
    assert render_placeholders("[{{ organization.name }}][{{ assignee.name }}]", ticket=ticket, agent=agent) == "[][]"


def test_cjk_name_is_its_own_first_name(support):
    ticket = make_ticket(requester=make_customer(name="王小明"), team=support)
    assert render_placeholders("{{ requester.first_name }}您好", ticket=ticket) == "王小明您好"


@pytest.mark.parametrize("attempt", [
    "{{ settings.SECRET_KEY }}",
    "{{ ticket.requester.user.password }}",
    "{{ requester.user.password }}",
    "{{ ticket.__class__ }}",
    "{{ ticket.__class__.__name__ }}",
    "{{ ticket.number|add:1 }}",
    "{{ ticket.number | upper }}",
    "{% load static %}",
    "{% include 'agent/base.html' %}",
    "{% debug %}",
    "{{ request.user }}",
    "{ticket.number}",
    "{{ TICKET.NUMBER }}",
])
def test_injection_attempts_are_left_as_written(ticket, agent, attempt, settings):
    rendered = render_placeholders(f"before {attempt} after", ticket=ticket, agent=agent)
    assert rendered == f"before {attempt} after"
    assert settings.SECRET_KEY not in rendered


def test_a_value_that_looks_like_a_placeholder_is_not_substituted_again(support, agent):
    requester = make_customer(name="{{ agent.name }}", email="tricky@example.com")
    ticket = make_ticket(requester=requester, team=support, subject="{{ requester.email }} {% load static %}")
    rendered = render_placeholders("Hi {{ requester.name }}: {{ ticket.subject }}", ticket=ticket, agent=agent)
    assert rendered == "Hi {{ agent.name }}: {{ requester.email }} {% load static %}"


def test_html_in_a_value_is_inserted_as_text(support, agent):
    requester = make_customer(name="<script>alert(1)</script>", email="x@example.com")
    ticket = make_ticket(requester=requester, team=support)
    # Plain text out; escaping happens where the text becomes HTML (checked in the macro tests).
    assert render_placeholders("Hi {{ requester.name }}", ticket=ticket) == "Hi <script>alert(1)</script>"


def test_unknown_placeholders_are_listed(ticket):
    assert unknown_placeholders("{{ ticket.number }} {{ ticket.nmuber }} {{ ticket.__class__ }}") == [
        "ticket.__class__", "ticket.nmuber",
    ]
    assert unknown_placeholders("{{ ticket.number }}") == []


def test_customer_model_has_no_placeholder_for_private_fields():
    # Notes and custom fields of a customer are agents' knowledge, never mail material.
    assert not any(name.startswith("requester.") and name.split(".")[1] in {f.name for f in Customer._meta.fields
                                                                             if f.name in ("notes", "custom_fields")}
                   for name in PLACEHOLDERS)
