"""A survey mail's one-click rating in a browser: the click records the rating, the thank-you page
takes a comment and the effort question, and a forged link shows an error page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import EXPECT_TIMEOUT_MS, VIEWPORT, in_db_thread
from tests.factories import make_agent, make_customer, make_team, make_ticket

pytestmark = pytest.mark.browser


def _solved_ticket_survey() -> tuple[str, int]:
    from django.utils import timezone

    from metrics.models import SurveyInvitation, SurveyInvitationState
    from metrics.surveys import survey_answer_token
    from tickets.models import Status, Ticket

    team = make_team("Support", slug="support")
    agent = make_agent(team, username="ada")
    ticket = make_ticket(requester=make_customer(email="li@example.com"), team=team, subject="Printer on fire")
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.SOLVED, assignee=agent, solved_at=timezone.now())
    invitation = SurveyInvitation.objects.create(
        kind="csat", source="email", ticket=ticket, customer=ticket.requester, email="li@example.com",
        language="en", send_after=timezone.now(), sent_at=timezone.now(), state=SurveyInvitationState.SENT,
    )
    return survey_answer_token(invitation), ticket.number


def _answers() -> dict[str, tuple[int, str]]:
    from metrics.models import SurveyResponse

    return {answer.kind: (answer.score, answer.comment) for answer in SurveyResponse.objects.all()}


@pytest.fixture
def page(chromium_browser, live):
    context = chromium_browser.new_context(base_url=live.base_url, viewport=VIEWPORT)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"pageerror: {error}"))
    page.on("console", lambda message: page.problems.append(f"console.{message.type}: {message.text}")
            if message.type == "error" else None)
    yield page
    context.close()


def test_one_click_rating_then_comment_and_effort(page):
    token, number = in_db_thread(_solved_ticket_survey)

    page.goto(f"/survey/{token}/4/")

    expect(page).to_have_url(re.compile(rf"/survey/{re.escape(token)}/$"))
    expect(page.get_by_role("heading", name="Thank you for your feedback!")).to_be_visible()
    expect(page.get_by_text(f"Your request #{number} “Printer on fire”")).to_be_visible()
    expect(page.get_by_role("group", name="Your rating").get_by_role("radio", name=re.compile(r"^4"))).to_be_checked()
    assert in_db_thread(_answers) == {"csat": (4, "")}

    page.get_by_role("group", name="How easy was it to get your issue resolved?").get_by_text("6").click()
    page.get_by_label("Anything you would like to tell us? (optional)").fill("Quick and friendly")
    page.get_by_role("button", name="Send feedback").click()

    expect(page.get_by_role("status")).to_have_text("Your answers were saved. Thank you!")
    expect(page.get_by_label("Anything you would like to tell us? (optional)")).to_have_value("Quick and friendly")
    assert in_db_thread(_answers) == {"csat": (4, "Quick and friendly"), "ces": (6, "")}
    assert page.problems == []


def test_a_forged_link_shows_an_error_and_records_nothing(page):
    in_db_thread(_solved_ticket_survey)

    response = page.goto("/survey/bm90LWEtdG9rZW4:1tAbCd:forgedsignature/5/")

    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", name="This survey link is not valid")).to_be_visible()
    assert in_db_thread(_answers) == {}
