"""Working a ticket together in the browser: an @mention typed with the autocomplete reaches the
colleague's open workspace as a toast; a message is split into a new ticket from the timeline."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_team, make_ticket
from tickets.models import Ticket
from tickets.services import ticket_reply

pytestmark = pytest.mark.browser


def build_ticket() -> Ticket:
    team = make_team("Support", slug="support")
    make_agent(team, username="ada", display_name="Ada Agent")
    make_agent(team, username="bo", display_name="Bo Agent")
    ticket = make_ticket(team=team, subject="Printer on fire")
    ticket_reply(ticket=ticket, actor=None, author_customer=ticket.requester, body_text="Also, my invoice is wrong.")
    return ticket


def test_a_mention_from_the_autocomplete_shows_the_colleague_a_toast(new_page):
    ticket = in_db_thread(build_ticket)
    colleague = new_page()
    login(colleague, "bo")
    colleague.goto("/agent/")
    expect(colleague.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")

    page = new_page()
    login(page, "ada")
    page.goto(f"/agent/tickets/{ticket.number}/")
    page.get_by_text("Internal note", exact=True).first.click()
    body = page.locator("#reply-body")
    body.click()
    body.press_sequentially("Can you look, @b")
    option = page.locator("#mention-suggestions [data-username=bo]")
    expect(option).to_be_visible()
    body.press("Enter")
    expect(body).to_have_value("Can you look, @bo ")
    page.get_by_role("button", name="Add internal note").click()
    expect(page.locator(".timeline-event", has_text="mentioned Bo Agent")).to_be_visible()

    toast = colleague.locator('[data-mention-toast="ticket.mentioned"]')
    expect(toast).to_be_visible(timeout=10_000)
    expect(toast).to_contain_text(f"#{ticket.number}")
    toast.locator("a").click()
    expect(colleague).to_have_url(f"{colleague.url.split('/agent/')[0]}/agent/tickets/{ticket.number}/")


def test_an_agent_splits_a_message_into_a_new_ticket(new_page):
    ticket = in_db_thread(build_ticket)
    page = new_page()
    login(page, "ada")
    page.goto(f"/agent/tickets/{ticket.number}/")

    page.locator("article", has_text="Also, my invoice is wrong.").get_by_role("link", name="Split into new ticket").click()
    page.get_by_label("Subject of the new ticket").fill("Invoice is wrong")
    page.get_by_role("button", name="Split into new ticket").click()

    expect(page.locator("h1.ticket-header__title")).to_have_text("Invoice is wrong")
    expect(page.locator("#timeline")).to_contain_text("Also, my invoice is wrong.")
    page.goto(f"/agent/tickets/{ticket.number}/")
    expect(page.locator("#timeline")).not_to_contain_text("Also, my invoice is wrong.")
    expect(page.locator("#ticket-collaboration")).to_contain_text("Nobody follows this ticket.")
    page.get_by_role("button", name="Follow", exact=True).click()
    expect(page.locator("#ticket-collaboration [data-followers]")).to_contain_text("Ada Agent")
