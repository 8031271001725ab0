"""An agent answers with a macro from the reply box, by keyboard only."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import Macro, Ticket

pytestmark = pytest.mark.browser


def build_desk() -> tuple[Ticket, Macro]:
    team = make_team("Billing", slug="billing")
    make_agent(team, username="alice", first_name="Alice", last_name="Wong")
    customer = make_customer(email="maria@example.com", name="Maria Garcia")
    ticket = make_ticket(requester=customer, team=team, subject="Refund for a duplicate charge",
                         body="I was charged twice.")
    # The often used one comes first; filtering must find the other.
    Macro.objects.create(title="Greeting", reply_text="Hello!", usage_count=20)
    macro = Macro.objects.create(
        title="Refund issued", usage_count=3,
        reply_text="Hi {{ requester.first_name }}, we refunded the duplicate charge on #{{ ticket.number }}.",
        actions=[{"type": "set_status", "value": "pending"}, {"type": "add_tags", "value": ["refund"]}],
    )
    return ticket, macro


def test_agent_applies_a_macro_with_the_keyboard(new_page):
    ticket, macro = in_db_thread(build_desk)
    page = new_page()
    login(page, "alice")
    page.goto(f"/agent/tickets/{ticket.number}/")
    expect(page.locator("#reply-body")).to_be_visible()

    page.locator("#reply-body").focus()
    page.keyboard.press("Alt+m")
    search = page.get_by_role("combobox", name="Search macros")
    expect(search).to_be_focused()
    # Most used first.
    expect(page.locator("[data-macro-picker-list] [role=option]").first).to_contain_text("Greeting")
    search.type("refund")
    expect(page.locator("[data-macro-picker-list] [role=option]")).to_have_count(1)
    page.keyboard.press("Enter")

    expected = f"Hi Maria, we refunded the duplicate charge on #{ticket.number}."
    expect(page.locator("#reply-body")).to_have_value(expected)
    result = page.locator("[data-macro-picker-result]")
    expect(result).to_contain_text("Refund issued")
    expect(result).to_contain_text(re.compile(r"Status: New → Pending"))
    # The fields panel shows the new status without a reload.
    expect(page.locator("#ticket-fields select[name=status]")).to_have_value("pending")
    expect(page.locator("#timeline")).to_contain_text("Alice Wong applied the macro Refund issued")

    def stored():
        fresh = Ticket.objects.get(pk=ticket.pk)
        return (fresh.status, fresh.tags, Macro.objects.get(pk=macro.pk).usage_count,
                fresh.messages.filter(body_text=expected).exists())

    # Applied once; the reply was not sent: it waits in the composer for the agent.
    assert in_db_thread(stored) == ("pending", ["refund"], 4, False)
    assert page.problems == []


def build_lead() -> Ticket:
    team = make_team("Support", slug="support")
    from tests.factories import make_user
    from tickets.models import Role

    make_user(role=Role.TEAM_LEAD, username="lena", first_name="Lena", last_name="Lead", teams=[team], lead_of=[team])
    customer = make_customer(email="wang@example.com", name="王小明")
    customer.language = "zh-hans"
    customer.save(update_fields=["language"])
    return make_ticket(requester=customer, team=team, subject="Password reset")


def test_lead_builds_a_team_macro_with_a_live_preview(new_page):
    ticket = in_db_thread(build_lead)
    page = new_page()
    login(page, "lena")
    page.goto("/agent/macros/new/")
    page.get_by_label("Title", exact=True).fill("Password reset link")
    page.get_by_label("Reply", exact=True).fill("Hi {{ requester.first_name }}, here is your link.")
    # Field changes are rows built from the action list: choose a type, then its value.
    page.locator("select[name='actions-0-type']").select_option(label="Set priority")
    expect(page.locator("select[name='actions-0-priority']")).to_be_visible()
    expect(page.locator("input[name='actions-0-tags']")).to_be_hidden()
    page.locator("select[name='actions-0-priority']").select_option(label="High")
    page.get_by_role("button", name="Add an action").click()
    page.locator("select[name='actions-1-type']").select_option(label="Add tags")
    page.locator("input[name='actions-1-tags']").fill("password")
    # Shared with the team the lead leads.
    page.get_by_text("A team", exact=True).click()
    page.get_by_role("group", name="Who can use it").get_by_label("Team", exact=True).select_option(label="Support")
    page.locator("summary", has_text="Simplified Chinese").click()
    page.get_by_label("Reply (Simplified Chinese)").fill("{{ requester.name }}，您好：这是重置链接。")

    # The preview renders against a real ticket, in its requester's language.
    page.get_by_label("Ticket number").fill(str(ticket.number))
    preview = page.locator("#macro-preview")
    expect(preview.locator("[data-macro-preview-body]")).to_have_text("王小明，您好：这是重置链接。")
    expect(preview).to_contain_text("Set priority: High")
    expect(preview).to_contain_text("Add tags: password")

    page.get_by_role("button", name="Save macro").click()
    expect(page).to_have_url(re.compile(r"/agent/macros/$"))
    expect(page.locator("#macros")).to_contain_text("Password reset link")
    expect(page.locator("#macros")).to_contain_text("Team Support")

    def stored():
        macro = Macro.objects.get(title="Password reset link")
        return macro.team.slug, macro.actions, list(macro.translations.values_list("language", flat=True))

    assert in_db_thread(stored) == ("support", [{"type": "set_priority", "value": "high"},
                                                {"type": "add_tags", "value": ["password"]}], ["zh-hans"])
    assert page.problems == []
