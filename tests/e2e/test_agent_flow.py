"""What agents and customers do in the browser: work the queue, reply, see each other live."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import Customer, Status, Team, Ticket, User
from tickets.services import ticket_set_status

pytestmark = pytest.mark.browser


@dataclass
class Desk:
    team: Team
    alice: User
    bob: User
    customer: Customer
    invoice_ticket: Ticket
    refund_ticket: Ticket
    pending_ticket: Ticket


def build_desk() -> Desk:
    team = make_team("Billing", slug="billing")
    alice = make_agent(team, username="alice", first_name="Alice", last_name="Wong")
    bob = make_agent(team, username="bob", first_name="Bob", last_name="Meyer")
    customer = make_customer(email="maria@example.com", name="Maria Garcia")
    User.objects.filter(pk=customer.user_id).update(email_verified_at=timezone.now())
    other = make_customer(email="li.wei@example.com", name="Li Wei")
    invoice_ticket = make_ticket(
        requester=customer, team=team, subject="Cannot download the invoice for March",
        body="The download button on the billing page gives me an empty PDF.",
    )
    refund_ticket = make_ticket(
        requester=other, team=team, subject="Refund for a duplicate charge",
        body="I was charged twice for the annual plan.",
    )
    pending_ticket = make_ticket(
        requester=other, team=team, subject="Change the VAT number on my invoices",
        body="Our VAT number changed last month.",
    )
    ticket_set_status(ticket=pending_ticket, status=Status.PENDING, actor=alice)
    return Desk(team, alice, bob, customer, invoice_ticket, refund_ticket, pending_ticket)


def queue_row(page: Page, ticket: Ticket):
    return page.locator(f"#ticket-row-{ticket.number}")


def wait_until_live(page: Page) -> None:
    """The workspace's websocket is connected (the live dot in the top bar says so)."""
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")


def test_agent_filters_queue_replies_and_customer_sees_the_reply_in_the_portal(new_page):
    desk = in_db_thread(build_desk)
    agent = new_page()

    # The agent signs in and sees the team's tickets.
    login(agent, "alice")
    expect(agent).to_have_url(re.compile(r"/agent/"))
    for ticket in (desk.invoice_ticket, desk.refund_ticket, desk.pending_ticket):
        expect(queue_row(agent, ticket)).to_be_visible()

    # Filtering by status leaves out the pending ticket.
    filters = agent.get_by_role("search", name="Filter tickets")
    filters.get_by_label("Status", exact=True).select_option(label="Pending")
    expect(agent).to_have_url(re.compile(r"[?&]status=pending"))
    expect(queue_row(agent, desk.pending_ticket)).to_be_visible()
    expect(queue_row(agent, desk.invoice_ticket)).to_have_count(0)

    # Searching any status finds the invoice ticket only.
    filters.get_by_label("Status", exact=True).select_option(label="Any status")
    expect(agent).not_to_have_url(re.compile(r"status=pending"))
    filters.get_by_label("Search", exact=True).fill("download")
    filters.get_by_role("button", name="Apply").click()
    expect(agent).to_have_url(re.compile(r"[?&]q=download"))
    expect(queue_row(agent, desk.invoice_ticket)).to_be_visible()
    expect(queue_row(agent, desk.refund_ticket)).to_have_count(0)
    expect(queue_row(agent, desk.pending_ticket)).to_have_count(0)

    # The agent opens the ticket and replies publicly, then adds an internal note.
    queue_row(agent, desk.invoice_ticket).get_by_role("link", name="Cannot download the invoice for March").click()
    expect(agent).to_have_url(re.compile(rf"/agent/tickets/{desk.invoice_ticket.number}/$"))
    expect(agent.get_by_role("heading", level=1)).to_have_text("Cannot download the invoice for March")
    expect(agent.locator("#timeline")).to_contain_text("The download button on the billing page gives me an empty PDF.")

    reply = "Thanks Maria, we regenerated the March invoice; the download works again."
    expect(agent.get_by_role("radio", name="Public reply")).to_be_checked()
    agent.get_by_label("Message", exact=True).fill(reply)
    agent.get_by_role("button", name="Send reply").click()
    expect(agent.locator("#timeline .message", has_text=reply)).to_be_visible()

    note = "Root cause: the PDF worker timed out on large invoices."
    # What a person clicks: the visible segment (the radio itself is visually hidden under it).
    agent.locator("#composer").get_by_text("Internal note", exact=True).click()
    expect(agent.get_by_role("radio", name="Internal note")).to_be_checked()
    agent.get_by_label("Message", exact=True).fill(note)
    agent.get_by_role("button", name="Add internal note").click()
    expect(agent.locator("#timeline .message--internal", has_text=note)).to_be_visible()
    assert agent.problems == []

    # The customer signs in to the portal and sees the public reply, not the note.
    customer = new_page()
    login(customer, "maria@example.com")
    expect(customer).to_have_url(re.compile(r"/portal/"))
    customer.get_by_role("link", name="Cannot download the invoice for March").click()
    expect(customer).to_have_url(re.compile(rf"/portal/requests/{desk.invoice_ticket.number}/$"))
    expect(customer.get_by_role("heading", level=1)).to_have_text("Cannot download the invoice for March")
    thread = customer.locator(".message")
    expect(thread.filter(has_text=reply)).to_be_visible()
    expect(thread.filter(has_text=reply)).to_contain_text("Alice Wong")
    expect(thread.filter(has_text="The download button on the billing page")).to_be_visible()
    expect(customer.locator("body")).not_to_contain_text("Root cause")

    # The customer answers; the agent, still on the ticket, sees it arrive without reloading.
    agent.evaluate("window.__notReloaded = true")
    answer = "It works now, thank you! 谢谢！"
    customer.get_by_label("Your reply", exact=True).fill(answer)
    customer.get_by_role("button", name="Send reply").click()
    expect(customer.locator(".message", has_text=answer)).to_be_visible()
    arrived = agent.locator("#timeline .message", has_text=answer)
    expect(arrived).to_be_visible()
    expect(arrived.locator(".message__author")).to_have_text("Maria Garcia")
    assert agent.evaluate("window.__notReloaded === true")
    assert customer.problems == []
    assert agent.problems == []


def test_second_agent_sees_who_is_viewing_and_typing(new_page):
    desk = in_db_thread(build_desk)
    ticket_path = f"/agent/tickets/{desk.invoice_ticket.number}/"
    first = new_page()
    second = new_page()
    login(first, "alice")
    login(second, "bob")

    first.goto(ticket_path)
    wait_until_live(first)
    second.goto(ticket_path)
    wait_until_live(second)

    # Each sees the other; nobody sees themselves.
    expect(second.locator("#presence")).to_contain_text("Alice Wong is viewing")
    expect(first.locator("#presence")).to_contain_text("Bob Meyer is viewing")
    expect(second.locator("#presence")).not_to_contain_text("Bob Meyer")

    # Bob starts typing a reply: Alice is warned before she answers too.
    second.get_by_label("Message", exact=True).press_sequentially("Hi Maria, I am looking into it", delay=20)
    expect(first.locator("#presence")).to_contain_text("Bob Meyer is typing")

    # Bob leaves: the banner on Alice's page goes away.
    second.close()
    expect(first.locator("#presence")).not_to_contain_text("Bob Meyer", timeout=15_000)
    assert first.problems == []


def test_queue_shows_a_ticket_created_elsewhere_without_reload(new_page):
    desk = in_db_thread(build_desk)
    agent = new_page()
    login(agent, "alice")
    agent.goto("/agent/tickets/")
    wait_until_live(agent)
    agent.evaluate("window.__notReloaded = true")

    # Another process (the API, an email worker) creates a ticket for the team.
    created = in_db_thread(
        make_ticket, requester=desk.customer, team=desk.team, subject="Card declined when upgrading the plan",
        body="My Visa card is declined on the upgrade page.",
    )

    row = queue_row(agent, created)
    expect(row).to_be_visible()
    expect(row).to_contain_text("Card declined when upgrading the plan")
    expect(row).to_contain_text("Maria Garcia")
    assert agent.evaluate("window.__notReloaded === true")

    # A change to a listed ticket updates its row in place.
    in_db_thread(lambda: ticket_set_status(ticket=Ticket.objects.get(pk=created.pk), status=Status.PENDING, actor=desk.bob))
    expect(row.locator(".col-status")).to_have_text("Pending")
    assert agent.evaluate("window.__notReloaded === true")
    assert agent.problems == []
