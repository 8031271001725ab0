"""The knowledge base where people write: suggestions in the portal's request form (and the
deflection visit they make), and the agent inserting an article into a reply."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from knowledgebase.models import (
    ArticleStatus,
    ArticleTranslation,
    ArticleVisibility,
    Category,
    Deflection,
    DeflectionOutcome,
)
from knowledgebase.services import article_create
from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import Customer, Ticket, User

pytestmark = pytest.mark.browser


@dataclass
class Library:
    agent: User
    customer: Customer
    refund: ArticleTranslation
    invoice: ArticleTranslation
    playbook: ArticleTranslation


def build_library() -> Library:
    team = make_team("Billing", slug="billing")
    agent = make_agent(team, username="alice", first_name="Alice", last_name="Wong")
    customer = make_customer(email="maria@example.com", name="Maria Garcia")
    User.objects.filter(pk=customer.user_id).update(email_verified_at=timezone.now())
    category = Category.objects.create(slug="billing", position=1, names={"en": "Billing"})

    def publish(title: str, body: str, visibility: str = ArticleVisibility.PUBLIC, summary: str = "") -> ArticleTranslation:
        return article_create(category=category, visibility=visibility, tags=["billing"], language="en", title=title,
                              body_markdown=body, summary=summary, author=agent, status=ArticleStatus.PUBLISHED)

    refund = publish("How to request a refund", "Open **Billing**, choose the charge and click *Refund*.",
                     summary="Refunds reach your card within five working days.")
    invoice = publish("Download an invoice as PDF", "Every invoice has a PDF button on the billing page.")
    playbook = publish("Refund abuse playbook", "Check the order history before refunding twice.",
                       visibility=ArticleVisibility.INTERNAL)
    return Library(agent, customer, refund, invoice, playbook)


def wait_for(check, timeout: float = 10.0):
    """The value of `check()` once it is truthy (the page reports visits without waiting)."""
    deadline = time.monotonic() + timeout
    while True:
        value = in_db_thread(check)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_typing_in_the_portal_form_shows_suggestions_and_records_the_visit(new_page):
    library = in_db_thread(build_library)
    customer = new_page()
    login(customer, "maria@example.com")
    customer.goto("/portal/new/")

    # Typing the subject brings the matching article, not the internal playbook.
    subject = customer.get_by_label("Subject")
    subject.press_sequentially("refund", delay=40)
    suggestions = customer.locator("[data-kb-suggest]")
    expect(suggestions.get_by_role("heading", name="These articles might answer your question")).to_be_visible()
    article_link = suggestions.get_by_role("link", name=re.compile("How to request a refund"))
    expect(article_link).to_be_visible()
    expect(suggestions).not_to_contain_text("Refund abuse playbook")
    expect(suggestions).to_have_attribute("aria-live", "polite")

    # One visit for the whole typing, its id kept in the form.
    visit = wait_for(lambda: Deflection.objects.filter(source="portal_form").first())
    assert visit is not None and visit.query == "refund" and visit.language == "en"
    expect(customer.locator("input[name=kb_deflection]")).to_have_value(str(visit.pk))

    # The keyboard reaches the suggestion from the subject; the article opens in a new tab.
    subject.press("ArrowDown")
    expect(article_link).to_be_focused()
    with customer.context.expect_page() as opened:
        article_link.click()
    article_page = opened.value
    article_page.wait_for_load_state()
    expect(article_page).to_have_url(re.compile(r"/help/en/articles/"))
    expect(article_page.get_by_role("heading", level=1)).to_have_text("How to request a refund")

    opened_visit = wait_for(lambda: Deflection.objects.filter(
        pk=visit.pk, opened_translation_id=library.refund.pk).first())
    assert opened_visit is not None and opened_visit.outcome == DeflectionOutcome.PENDING

    # The form kept what was typed; sending it anyway ends the visit as submitted, not deflected.
    expect(subject).to_have_value("refund")
    customer.get_by_label("How can we help?").fill("I was charged twice for March.")
    customer.get_by_role("button", name="Send request").click()
    expect(customer).to_have_url(re.compile(r"/portal/requests/\d+/$"))
    visit = in_db_thread(lambda: Deflection.objects.select_related("ticket").get(pk=visit.pk))
    assert visit.outcome == DeflectionOutcome.SUBMITTED
    assert visit.ticket is not None and visit.ticket.subject == "refund"
    assert in_db_thread(Deflection.objects.count) == 1
    assert customer.problems == []


def composer(page: Page):
    return page.locator("#composer")


def test_agent_inserts_a_knowledge_base_link_into_a_reply(new_page):
    library = in_db_thread(build_library)
    ticket: Ticket = in_db_thread(lambda: make_ticket(
        requester=library.customer, team=library.agent.teams.first(), subject="Refund for a duplicate charge",
        body="I was charged twice for the annual plan."))
    agent = new_page()
    login(agent, "alice")
    agent.goto(f"/agent/tickets/{ticket.number}/")

    # The panel searches with the ticket's subject; the internal playbook is there, marked.
    agent.get_by_role("button", name="Knowledge base").click()
    panel = agent.locator("#kb-panel")
    expect(panel.get_by_label("Search the knowledge base")).to_have_value("Refund for a duplicate charge")
    refund = panel.locator(".kb-panel__result", has_text="How to request a refund")
    playbook = panel.locator(".kb-panel__result", has_text="Refund abuse playbook")
    expect(refund).to_be_visible()
    expect(playbook.locator(".badge--internal")).to_have_text("Internal")

    # Inserted at the cursor: after the greeting, before the sign-off.
    message = agent.get_by_label("Message", exact=True)
    message.fill("Hi Maria,\n\nBest, Alice")
    message.evaluate("(area) => area.setSelectionRange(10, 10)")
    refund.get_by_role("button", name="Insert link").click()
    path = in_db_thread(lambda: ArticleTranslation.objects.get(pk=library.refund.pk).get_absolute_url())
    expect(message).to_have_value(f"Hi Maria,\nHow to request a refund: http://127.0.0.1:8000{path}\nBest, Alice")

    # An internal article is refused in a public reply, and the message is left as it was.
    before = message.input_value()
    playbook.get_by_role("button", name="Insert link").click()
    expect(panel.get_by_role("status")).to_contain_text("This article is internal")
    expect(message).to_have_value(before)

    agent.get_by_role("button", name="Send reply").click()
    expect(agent.locator("#timeline .message", has_text="How to request a refund:")).to_be_visible()
    expect(agent.locator("#timeline .message", has_text="How to request a refund:")).to_contain_text(
        "/help/en/articles/")

    # Into an internal note it goes.
    agent.locator("#composer").get_by_text("Internal note", exact=True).click()
    agent.get_by_role("button", name="Knowledge base").click()
    expect(playbook).to_be_visible()
    playbook.get_by_role("button", name="Insert snippet").click()
    expect(message).to_have_value(re.compile(r"Check the order history before refunding twice\.\nhttp://\S+/help/en/"))
    assert agent.problems == []
