"""Customer 360 in the browser: from a ticket to the customer's page, every channel and the health score."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import Channel, Customer, HealthSnapshot, Ticket

pytestmark = pytest.mark.browser


@dataclass
class Story:
    customer: Customer
    email: Ticket
    chat: Ticket
    phone: Ticket


def build_story() -> Story:
    team = make_team("Support", slug="support")
    make_agent(team, username="alice", first_name="Alice", last_name="Wong")
    customer = make_customer(email="wang.fang@example.com", name="Wang Fang")
    Customer.objects.filter(pk=customer.pk).update(phone_numbers=["+8613812345678"])
    email = make_ticket(requester=customer, team=team, subject="Invoice sent by email", channel=Channel.EMAIL)
    chat = make_ticket(requester=customer, team=team, subject="Login help over chat", channel=Channel.CHAT)
    phone = make_ticket(requester=customer, team=team, subject="Called about delivery", channel=Channel.PHONE)
    # Last month's score, so the trend has a history to draw.
    HealthSnapshot.objects.create(customer=customer, day=timezone.localdate() - datetime.timedelta(days=30), score=70)
    return Story(customer, email, chat, phone)


def test_agent_opens_a_customer_with_email_chat_and_phone_tickets_and_sees_the_health_score(new_page):
    story = in_db_thread(build_story)
    agent: Page = new_page()
    login(agent, "alice")

    # From the ticket's requester card to the customer's page.
    agent.goto(f"/agent/tickets/{story.email.number}/")
    expect(agent.locator(".health-badge")).to_be_visible()
    agent.get_by_role("link", name="Customer 360").click()
    expect(agent).to_have_url(re.compile(rf"/agent/customers/{story.customer.pk}/$"))
    expect(agent.get_by_role("heading", level=1)).to_have_text("Wang Fang")

    tickets = agent.locator("#customer-tickets")
    for ticket, channel in ((story.email, "Email"), (story.chat, "Chat"), (story.phone, "Phone")):
        row = tickets.locator(f'tr[data-ticket="{ticket.number}"]')
        expect(row).to_contain_text(ticket.subject)
        expect(row.locator(".channel__label")).to_have_text(channel)
        expect(row.locator(".badge")).to_have_text("New")

    # Three open tickets, no answers, one a month: 30 + (25 − 15) + 15 + 20.
    expect(agent.locator("[data-health-score]")).to_have_text("75")
    expect(agent.locator('#health [data-component="open_tickets"]')).to_contain_text("3 open")
    expect(agent.locator("#health-trend canvas")).to_have_count(1)
    expect(agent.locator("#identity")).to_contain_text("+8613812345678")
    assert agent.problems == []
