"""A manager builds a trigger in the rules form; a customer's web-form request is then tagged and
routed by it to an online agent of a round-robin team."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_customer, make_team, make_ticket, make_user
from tickets.models import Role, RoutingStrategy, Rule, Ticket, User

pytestmark = pytest.mark.browser


def build_desk() -> dict:
    billing = make_team("Billing", slug="billing", routing_strategy=RoutingStrategy.ROUND_ROBIN)
    support = make_team("Support", slug="support")
    alice = make_agent(billing, username="alice", first_name="Alice", last_name="Wong")
    make_agent(support, username="sam", first_name="Sam", last_name="Support")
    make_user(role=Role.MANAGER, username="mona", first_name="Mona", last_name="Manager")
    customer = make_customer(email="maria@example.com", name="Maria Garcia")
    User.objects.filter(pk=customer.user_id).update(email_verified_at=timezone.now())
    # An older ticket to try the rule on before saving it.
    older = make_ticket(requester=customer, team=support, subject="Refund for a duplicate charge")
    return {"billing": billing, "alice": alice, "older": older}


def last_row(page: Page, group: str):
    return page.locator(f'[data-rows="{group}"] .rules-row').last


def test_manager_builds_a_trigger_that_tags_and_routes_new_web_requests(new_page):
    desk = in_db_thread(build_desk)
    manager = new_page()
    login(manager, "mona")
    manager.goto("/agent/rules/")
    manager.get_by_role("link", name="New trigger").click()
    expect(manager).to_have_url(re.compile(r"/agent/rules/triggers/new/$"))

    manager.get_by_label("Name").fill("Refunds to billing")
    expect(manager.get_by_label("Ticket is created")).to_be_checked()

    # Condition: subject contains "refund" (the value widget follows the field and the operator).
    manager.locator('[data-add-row="all"]').click()
    condition = last_row(manager, "all")
    condition.get_by_label("Field").select_option(label="Subject")
    condition.get_by_label("Comparison").select_option(label="contains")
    condition.get_by_label("Value").fill("refund")

    # Actions: the form starts with an empty one; add tag "refund", then move to Billing.
    action = last_row(manager, "action")
    action.get_by_label("Action").select_option(label="Add tags")
    action.get_by_label("Value").fill("refund")
    manager.locator('[data-add-row="action"]').click()
    move = last_row(manager, "action")
    move.get_by_label("Action").select_option(label="Move to team")
    move.get_by_label("Value").select_option(label="Billing")

    # Try it on the older ticket first: it matches and nothing changes.
    manager.get_by_label("Ticket #").fill(str(desk["older"].number))
    manager.get_by_role("button", name="Test", exact=True).click()
    preview = manager.locator("#rule-preview")
    expect(preview.locator("[data-preview-matches]")).to_have_attribute("data-preview-matches", "yes")
    expect(preview).to_contain_text("Subject contains refund")
    expect(preview).to_contain_text("Billing")

    manager.get_by_role("button", name="Save").click()
    expect(manager).to_have_url(re.compile(r"/agent/rules/$"))
    expect(manager.locator("#rules-table")).to_contain_text("Refunds to billing")
    rule = in_db_thread(lambda: Rule.objects.get())
    assert rule.conditions == {"all": [{"field": "ticket.subject", "operator": "contains", "value": "refund"}],
                               "any": []}
    assert rule.actions == [{"type": "add_tags", "value": ["refund"]},
                            {"type": "set_team", "value": str(desk["billing"].pk)}]
    assert in_db_thread(lambda: Ticket.objects.get(pk=desk["older"].pk).tags) == []

    # Alice is online; the customer asks for a refund through the portal's web form.
    from channels_intake.chat.presence import presence_write

    in_db_thread(lambda: presence_write(user_id=desk["alice"].pk, status="online"))
    customer = new_page()
    login(customer, "maria@example.com")
    customer.goto("/portal/new/")
    customer.get_by_label("Subject").fill("Please refund my March invoice")
    customer.get_by_label("How can we help?").fill("I was charged twice.")
    customer.get_by_role("button", name="Send request").click()
    expect(customer).to_have_url(re.compile(r"/portal/requests/\d+/$"))
    number = int(re.search(r"/portal/requests/(\d+)/$", customer.url).group(1))

    ticket = in_db_thread(lambda: Ticket.objects.select_related("team", "assignee").get(number=number))
    assert ticket.tags == ["refund"]
    assert (ticket.team.name, ticket.assignee.username) == ("Billing", "alice")

    # The agent side shows it: the tag, the team and the assignee.
    manager.goto(f"/agent/tickets/{number}/")
    fields = manager.locator("#ticket-fields")
    expect(fields.get_by_label("Tags")).to_have_value("refund")
    expect(fields.get_by_label("Team")).to_have_value(str(desk["billing"].pk))
    expect(fields.get_by_label("Assignee")).to_have_value(str(desk["alice"].pk))

    # The execution log has the run.
    manager.goto(f"/agent/rules/{rule.pk}/runs/")
    expect(manager.locator("#rule-runs")).to_contain_text(f"#{number}")
    expect(manager.locator("#rule-runs")).to_contain_text("Applied")
    assert manager.problems == [] and customer.problems == []
