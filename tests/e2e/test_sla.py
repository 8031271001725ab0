"""An agent watches an SLA countdown in the queue run out, without reloading the page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_team, make_ticket
from tickets.models import Priority, SlaPolicy, SlaTimer, Ticket

pytestmark = pytest.mark.browser


def build_ticket_due_in_seconds(seconds: int) -> Ticket:
    team = make_team("Support", slug="support")
    make_agent(team, username="ada", first_name="Ada")
    SlaPolicy.objects.create(
        name="Demo 1 minute", first_response_business_hours=False, resolution_business_hours=False,
        targets={"normal": {"first_response": 1, "resolution": 600}},
    )
    ticket = make_ticket(team=team, priority=Priority.NORMAL, subject="The countdown runs out")
    # The 1-minute target, moved so it runs out while the page is open (as time would).
    now = timezone.now()
    SlaTimer.objects.filter(ticket=ticket, metric="first_response").update(
        due_at=now + timedelta(seconds=seconds), warning_at=now + timedelta(seconds=seconds // 2),
    )
    Ticket.objects.filter(pk=ticket.pk).update(sla_due_at=now + timedelta(seconds=seconds))
    return ticket


def test_queue_countdown_turns_red_when_the_target_passes(new_page):
    ticket = in_db_thread(build_ticket_due_in_seconds, 12)
    page = new_page()

    login(page, "ada")
    page.goto("/agent/?sort=due")
    countdown = page.locator(f"#ticket-row-{ticket.number} .col-sla time")
    expect(countdown).to_have_text("1 min")
    expect(countdown).not_to_have_class(re.compile(r"sla--breached"))

    # No reload: the page's script turns it red and counts the lateness once the due time passes.
    expect(countdown).to_have_class(re.compile(r"\bsla--breached\b"), timeout=20_000)
    expect(countdown).to_have_text("overdue 1 min")
    assert page.url.endswith("/agent/?sort=due")


def test_agent_sees_the_breach_notice_without_reloading(new_page):
    """The workers' scan fires the breach; the agent's open page shows the notice and the escalation."""
    from tickets.tasks import sla_scan

    ticket = in_db_thread(build_ticket_due_in_seconds, 2)
    in_db_thread(lambda: SlaPolicy.objects.update(escalate_priority="raise"))
    page = new_page()
    login(page, "ada")
    page.goto("/agent/")
    expect(page.locator(f"#ticket-row-{ticket.number}")).to_be_visible()
    page.wait_for_timeout(2500)  # the target passes while the page is open

    assert in_db_thread(sla_scan) == 1  # what the beat-scheduled task does every 30 s

    toast = page.locator('[data-sla-toast="sla.breached"]')
    expect(toast).to_be_visible(timeout=10_000)
    expect(toast).to_contain_text(f"#{ticket.number}")
    toast.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/agent/tickets/{ticket.number}/$"))
    expect(page.locator("#ticket-badges .badge--priority-high")).to_have_text("High")  # raised one step by the escalation
