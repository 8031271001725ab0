"""“Test this rule against ticket #N”: the unsaved form's rule against a real ticket, changing nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_team, make_ticket, make_user
from tickets.models import Role, Rule, RuleRun, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def manager_client() -> Client:
    client = Client()
    client.force_login(make_user(role=Role.MANAGER))
    return client


def preview(client: Client, kind: str, data: dict) -> str:
    url = reverse("rules:trigger_preview" if kind == "trigger" else "rules:automation_preview")
    response = client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_preview_shows_each_condition_and_what_each_action_would_do(manager_client):
    billing = make_team("Billing", slug="billing")
    ticket = make_ticket(subject="Refund for order 42", priority="high")

    page = preview(manager_client, "trigger", {
        "name": "Unsaved", "events": ["created"], "ticket_number": ticket.number,
        "all-0-field": "ticket.subject", "all-0-operator": "contains", "all-0-value": "refund",
        "all-1-field": "ticket.priority", "all-1-operator": "in", "all-1-values": ["high", "urgent"],
        "any-0-field": "ticket.tags", "any-0-operator": "includes_any", "any-0-value": "vip",
        "action-0-type": "add_tags", "action-0-value": "refund",
        "action-1-type": "set_team", "action-1-value": str(billing.pk),
    })

    assert 'data-preview-matches="no"' in page  # the "any" group: no tag "vip"
    assert f"Ticket #{ticket.number}" in page
    assert "Subject contains refund" in page and "Refund for order 42" in page
    assert "Priority is one of High, Urgent" in page
    assert page.count("✓ holds") == 2 and page.count("✗ does not hold") == 1
    assert "If it matched, it would:" in page
    assert "refund" in page and "Billing" in page
    ticket.refresh_from_db()
    assert ticket.tags == [] and ticket.team_id is None
    assert not Rule.objects.exists() and not RuleRun.objects.exists()


def test_preview_of_a_matching_rule_says_so(manager_client):
    ticket = make_ticket(subject="Refund please")

    page = preview(manager_client, "trigger", {
        "events": ["created"], "ticket_number": ticket.number,
        "all-0-field": "ticket.subject", "all-0-operator": "contains", "all-0-value": "refund",
        "action-0-type": "set_priority", "action-0-value": "urgent",
    })

    assert 'data-preview-matches="yes"' in page and "It would:" in page and "Urgent" in page
    assert Ticket.objects.get(pk=ticket.pk).priority != "urgent"


def test_preview_reports_an_invalid_rule_or_a_missing_ticket(manager_client):
    ticket = make_ticket()

    invalid = preview(manager_client, "automation", {
        "ticket_number": ticket.number,
        "all-0-field": "ticket.status", "all-0-operator": "is", "all-0-value": "open",
        "action-0-type": "set_status", "action-0-value": "closed",
    })
    missing = preview(manager_client, "trigger", {"ticket_number": "999999", "events": ["created"],
                                                 "action-0-type": "add_tags", "action-0-value": "x"})
    no_number = preview(manager_client, "trigger", {"events": ["created"]})

    assert "An automation needs at least one" in invalid and "data-preview-matches" not in invalid
    assert "There is no ticket #999999." in missing
    assert "This field is required." in no_number


def test_form_page_posts_the_preview_with_htmx(manager_client):
    page = manager_client.get(reverse("rules:trigger_new")).content.decode()

    assert f'hx-post="{reverse("rules:trigger_preview")}"' in page
    assert 'hx-target="#rule-preview"' in page and 'name="ticket_number"' in page
