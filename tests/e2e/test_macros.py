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

    def stored():
        fresh = Ticket.objects.get(pk=ticket.pk)
        return (fresh.status, fresh.tags, Macro.objects.get(pk=macro.pk).usage_count,
                fresh.messages.filter(body_text=expected).exists())

    # Applied once; the reply was not sent: it waits in the composer for the agent.
    assert in_db_thread(stored) == ("pending", ["refund"], 4, False)
    assert page.problems == []
