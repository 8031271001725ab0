"""The phone channel in the browser: a ringing call pops up for the agent it rings, the agent logs
it on the caller's open ticket from the pop-up, and the thread shows the call entry."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_intake.phone import services
from channels_intake.phone.models import AgentExtension, CallDirection, CallProvider, CallState
from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_customer, make_team, make_ticket

pytestmark = pytest.mark.browser


def build_phone_desk():
    support = make_team("Support", slug="support")
    agent = make_agent(support, username="ann", first_name="Ann", last_name="Lee")
    AgentExtension.objects.create(user=agent, extension="101")
    caller = make_customer(email="wang@example.com", name="Wang Fang")
    caller.phone_numbers = ["+8613812345678"]
    caller.save()
    ticket = make_ticket(requester=caller, team=support, subject="Parcel never arrived")
    return ticket


def ring(call_id: str, event: str = CallState.RINGING, **fields):
    return services.call_event_record(
        provider=CallProvider.GENERIC, call_id=call_id, event=event, occurred_at=timezone.now(),
        direction=CallDirection.INBOUND, from_number="13812345678", to_number="4008001234",
        agent=services.agent_for_route(extension="101"), **fields,
    ).call


def test_ringing_call_pops_up_and_is_logged_on_the_callers_open_ticket(new_page):
    ticket = in_db_thread(build_phone_desk)
    page = new_page()
    login(page, "ann")
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")

    call = in_db_thread(ring, "pbx-e2e-1")

    pop = page.locator(f'[data-phone-pop="{call.pk}"]')
    expect(pop).to_be_visible()
    expect(pop).to_contain_text("Wang Fang")
    expect(pop).to_contain_text("+86 138 1234 5678")
    expect(pop.locator("[data-phone-open-tickets]")).to_contain_text(f"#{ticket.number} Parcel never arrived")
    expect(pop.locator("[data-call-state]")).to_have_text("Ringing")

    # The agent picks up: the pop-up says so, and what they type into it stays.
    pop.get_by_label("Notes").fill("Courier lost it")
    in_db_thread(ring, "pbx-e2e-1", event=CallState.ANSWERED)
    expect(pop.locator("[data-call-state]")).to_have_text("Answered")

    pop.get_by_label("Put the call on").select_option(label=f"#{ticket.number} Parcel never arrived")
    pop.get_by_label("Disposition").select_option(label="Follow-up needed")
    pop.get_by_label("Notes").press_sequentially("; sending a new one.")
    pop.get_by_role("button", name="Log call").click()

    expect(page).to_have_url(re.compile(rf"/agent/tickets/{ticket.number}/#message-\d+$"))
    entry = page.locator(f'[data-call-entry="{call.pk}"]')
    expect(entry).to_contain_text("Inbound call")
    expect(entry).to_contain_text("Follow-up needed")
    expect(entry).to_contain_text("Courier lost it; sending a new one.")
    expect(entry.locator("[data-phone-icon]")).to_have_count(1)

    # The call ends: its duration joins the same entry (after a reload), no other ticket is opened.
    in_db_thread(ring, "pbx-e2e-1", event=CallState.ENDED, duration_seconds=125)
    page.reload()
    expect(page.locator(f'[data-call-entry="{call.pk}"] [data-call-duration]')).to_have_text("2:05")
    assert page.problems == []


def test_a_call_for_another_agent_does_not_pop_up(new_page):
    in_db_thread(build_phone_desk)
    other = in_db_thread(lambda: make_agent(make_team("Billing", slug="billing"), username="bo"))
    page = new_page()
    login(page, other.username)
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")

    in_db_thread(ring, "pbx-e2e-2")

    page.wait_for_timeout(1500)
    expect(page.locator("[data-phone-pop]")).to_have_count(0)


def test_a_waiting_call_follows_the_agent_to_other_pages_until_dismissed(new_page):
    ticket = in_db_thread(build_phone_desk)
    page = new_page()
    login(page, "ann")
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")
    call = in_db_thread(ring, "pbx-e2e-3")
    pop = page.locator(f'[data-phone-pop="{call.pk}"]')
    expect(pop).to_be_visible()

    # Opening the caller's ticket from the pop-up keeps the pop-up (and its form) on the next page.
    pop.get_by_role("link", name=f"#{ticket.number} Parcel never arrived").click()
    expect(page).to_have_url(re.compile(rf"/agent/tickets/{ticket.number}/$"))
    expect(page.locator(f'[data-phone-pop="{call.pk}"]')).to_be_visible()

    # Dismissed, it stays away on the following pages of this tab.
    page.locator(f'[data-phone-pop="{call.pk}"] [data-phone-pop-close]').click()
    expect(page.locator("[data-phone-pop]")).to_have_count(0)
    page.reload()
    expect(page.locator("[data-live-indicator]")).to_have_attribute("data-state", "open")
    page.wait_for_timeout(1000)
    expect(page.locator("[data-phone-pop]")).to_have_count(0)
    assert page.problems == []
