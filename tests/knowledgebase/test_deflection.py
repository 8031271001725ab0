"""Deflection tracking: one visit per form session, opened and submitted recorded, deflections
decided after the window, the rate, and that nobody touches another session's visit."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from knowledgebase.deflection import (
    deflection_rate,
    deflection_record_opened,
    deflection_record_shown,
    deflection_record_submitted,
)
from knowledgebase.models import ArticleStatus, ArticleVisibility, Category, Deflection, DeflectionOutcome
from knowledgebase.services import article_create
from tests.factories import make_agent, make_customer, make_team, make_ticket

pytestmark = pytest.mark.django_db

SHOWN_URL = "/kb/deflection/shown/"


@pytest.fixture
def category():
    return Category.objects.create(slug="billing", position=1, names={"en": "Billing"})


@pytest.fixture
def writer():
    return make_agent(make_team("Docs", slug="docs"), username="writer")


@pytest.fixture
def refund_article(category, writer):
    return article_create(
        category=category, visibility=ArticleVisibility.PUBLIC, tags=["refund"], language="en",
        title="How to request a refund", body_markdown="Open **Billing** and choose *Refund*.", author=writer,
        status=ArticleStatus.PUBLISHED,
    )


@pytest.fixture
def internal_article(category, writer):
    return article_create(
        category=category, visibility=ArticleVisibility.INTERNAL, tags=[], language="en",
        title="Refund abuse playbook", body_markdown="Agents only.", author=writer, status=ArticleStatus.PUBLISHED,
    )


@pytest.fixture
def draft_article(category, writer):
    return article_create(
        category=category, visibility=ArticleVisibility.PUBLIC, tags=[], language="en",
        title="Refunds in the new billing system", body_markdown="Not yet.", author=writer,
    )


@pytest.fixture
def alice():
    return make_customer(email="alice@example.com", name="Alice")


def signed_in(customer, **options) -> Client:
    client = Client(**options)
    client.force_login(customer.user)
    return client


def show(client: Client, query: str, deflection: int | None = None, **fields) -> int:
    data = {"source": "portal_form", "query": query, "language": "en", **fields}
    if deflection:
        data["deflection"] = deflection
    response = client.post(SHOWN_URL, data)
    assert response.status_code == 200, response.content
    return response.json()["deflection"]


def age(visit: Deflection, minutes: float) -> None:
    Deflection.objects.filter(pk=visit.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=minutes))


# --- one visit per form session ------------------------------------------------------------------


def test_suggestions_shown_while_typing_make_one_visit_with_the_latest_query(alice):
    client = signed_in(alice)

    first = show(client, "refu")
    second = show(client, "refund", deflection=first)
    third = show(client, "refund twice charged", deflection=second)

    visit = Deflection.objects.get()
    assert first == second == third == visit.pk
    assert visit.query == "refund twice charged"
    assert visit.source == Deflection.Source.PORTAL_FORM
    assert visit.language == "en"
    assert visit.outcome == DeflectionOutcome.PENDING
    assert visit.session_key == client.session.session_key
    assert visit.user_id is None  # sessions only: who typed it is not stored


def test_reloading_the_form_continues_the_visit_within_the_window(alice, settings):
    settings.HELPDESK_KB_DEFLECTION_WINDOW_MINUTES = 30
    client = signed_in(alice)
    first = show(client, "refund")

    # The page was reloaded: it carries no id, but the session's visit is still open.
    assert show(client, "invoice") == first
    age(Deflection.objects.get(pk=first), minutes=31)
    later = show(client, "invoice")

    assert later != first
    assert Deflection.objects.count() == 2


def test_each_session_has_its_own_visit(alice):
    bob = make_customer(email="bob@example.com")
    alice_visit = show(signed_in(alice), "refund")

    # Bob's page names Alice's visit: he gets his own instead.
    bob_visit = show(signed_in(bob), "refund", deflection=alice_visit)

    assert bob_visit != alice_visit
    assert Deflection.objects.get(pk=alice_visit).query == "refund"


def test_query_is_trimmed_and_unknown_language_is_dropped(alice):
    visit_id = show(signed_in(alice), "  refund   " + "x" * 300, language="klingon")

    visit = Deflection.objects.get(pk=visit_id)
    assert visit.query == ("refund " + "x" * 300)[:200]
    assert visit.language == ""


def test_unknown_source_is_refused(alice):
    response = signed_in(alice).post(SHOWN_URL, {"source": "carrier_pigeon", "query": "refund"})

    assert response.status_code == 400
    assert not Deflection.objects.exists()


# --- opened ---------------------------------------------------------------------------------------


def test_opening_a_suggested_article_is_recorded(alice, refund_article):
    client = signed_in(alice)
    visit_id = show(client, "refund")

    response = client.post(f"/kb/deflection/{visit_id}/opened/", {"translation": refund_article.pk})

    assert response.status_code == 200
    assert Deflection.objects.get(pk=visit_id).opened_translation == refund_article


def test_customer_cannot_touch_another_sessions_visit(alice, refund_article):
    visit_id = show(signed_in(alice), "refund")
    mallory = signed_in(make_customer(email="mallory@example.com"))

    response = mallory.post(f"/kb/deflection/{visit_id}/opened/", {"translation": refund_article.pk})

    assert response.status_code == 404
    assert Deflection.objects.get(pk=visit_id).opened_translation is None


def test_opening_an_article_the_customer_cannot_read_is_refused(alice, internal_article, draft_article):
    client = signed_in(alice)
    visit_id = show(client, "refund")

    for translation in (internal_article, draft_article):
        response = client.post(f"/kb/deflection/{visit_id}/opened/", {"translation": translation.pk})
        assert response.status_code == 404
    assert client.post(f"/kb/deflection/{visit_id}/opened/", {"translation": "x"}).status_code == 404
    assert Deflection.objects.get(pk=visit_id).opened_translation is None


def test_posts_need_the_csrf_token(alice, refund_article):
    client = signed_in(alice, enforce_csrf_checks=True)

    assert client.post(SHOWN_URL, {"source": "portal_form", "query": "refund"}).status_code == 403
    assert not Deflection.objects.exists()
    visit = deflection_record_shown(session_key=client.session.session_key, source="portal_form", query="refund",
                                    language="en")
    response = client.post(f"/kb/deflection/{visit.pk}/opened/", {"translation": refund_article.pk})
    assert response.status_code == 403
    assert Deflection.objects.get(pk=visit.pk).opened_translation is None


def test_reports_only_by_post(alice):
    assert signed_in(alice).get(SHOWN_URL + "?query=refund").status_code == 405
    assert not Deflection.objects.exists()


def test_reports_are_rate_limited(alice, settings):
    settings.HELPDESK_KB_DEFLECTION_POSTS_PER_MINUTE = 3
    client = signed_in(alice)
    for query in ("re", "ref", "refu"):
        show(client, query)

    response = client.post(SHOWN_URL, {"source": "portal_form", "query": "refund"})

    assert response.status_code == 429
    assert Deflection.objects.get().query == "refu"


# --- submitted: the portal form's hidden field ------------------------------------------------------


def test_sending_the_request_marks_the_visit_submitted(alice, refund_article):
    client = signed_in(alice)
    visit_id = show(client, "refund")
    client.post(f"/kb/deflection/{visit_id}/opened/", {"translation": refund_article.pk})

    response = client.post("/portal/new/", {"subject": "Refund please", "description": "Charged twice.",
                                            "kb_deflection": visit_id})

    assert response.status_code == 302
    visit = Deflection.objects.get(pk=visit_id)
    assert visit.outcome == DeflectionOutcome.SUBMITTED
    assert visit.ticket is not None and visit.ticket.subject == "Refund please"
    assert visit.decided_at is not None


def test_request_without_suggestions_records_nothing(alice):
    response = signed_in(alice).post("/portal/new/", {"subject": "Printer", "description": "On fire."})

    assert response.status_code == 302
    assert not Deflection.objects.exists()


def test_a_request_naming_another_sessions_visit_leaves_it_alone(alice):
    alice_visit = show(signed_in(alice), "refund")
    bob = signed_in(make_customer(email="bob@example.com"))

    response = bob.post("/portal/new/", {"subject": "Refund", "description": "Hi.", "kb_deflection": alice_visit})

    assert response.status_code == 302
    assert Deflection.objects.get(pk=alice_visit).outcome == DeflectionOutcome.PENDING


def test_submission_without_the_id_still_ends_the_sessions_open_visit(alice):
    client = signed_in(alice)
    visit_id = show(client, "refund")

    client.post("/portal/new/", {"subject": "Refund", "description": "Hi.", "kb_deflection": "not-a-number"})

    assert Deflection.objects.get(pk=visit_id).outcome == DeflectionOutcome.SUBMITTED


def test_opening_after_submitting_changes_nothing(alice, refund_article):
    ticket = make_ticket(requester=alice)
    visit = deflection_record_shown(session_key="s1", source="portal_form", query="refund", language="en")
    deflection_record_submitted(session_key="s1", ticket=ticket, deflection_id=visit.pk)

    deflection_record_opened(deflection=visit, translation=refund_article)

    visit.refresh_from_db()
    assert visit.outcome == DeflectionOutcome.SUBMITTED
    assert visit.opened_translation is None


# --- deflected and the rate -----------------------------------------------------------------------


def test_deflected_only_when_opened_and_not_submitted_within_the_window(alice, refund_article, settings):
    settings.HELPDESK_KB_DEFLECTION_WINDOW_MINUTES = 30
    ticket = make_ticket(requester=alice)
    since = timezone.now() - datetime.timedelta(hours=2)

    def visit(session: str, *, opened: bool, submitted: bool, minutes_ago: float) -> Deflection:
        row = deflection_record_shown(session_key=session, source="portal_form", query="refund", language="en")
        if opened:
            deflection_record_opened(deflection=row, translation=refund_article)
        if submitted:
            deflection_record_submitted(session_key=session, ticket=ticket, deflection_id=row.pk)
        age(row, minutes_ago)
        return row

    visit("read-and-left", opened=True, submitted=False, minutes_ago=45)        # deflected
    visit("read-and-left-2", opened=True, submitted=False, minutes_ago=90)      # deflected
    visit("still-reading", opened=True, submitted=False, minutes_ago=5)         # not yet decided
    visit("read-then-asked", opened=True, submitted=True, minutes_ago=45)       # submitted
    visit("ignored-them", opened=False, submitted=True, minutes_ago=45)         # submitted
    visit("shown-and-left", opened=False, submitted=False, minutes_ago=45)      # left without reading

    numbers = deflection_rate(since=since, until=timezone.now() + datetime.timedelta(seconds=1))

    assert numbers == {"shown": 6, "opened": 4, "deflected": 2, "submitted": 2, "rate": 2 / 6}


def test_a_late_submission_undoes_a_deflection(alice, refund_article):
    visit = deflection_record_shown(session_key="s1", source="portal_form", query="refund", language="en")
    deflection_record_opened(deflection=visit, translation=refund_article)
    age(visit, 45)
    window = {"since": timezone.now() - datetime.timedelta(hours=1), "until": timezone.now()}
    assert deflection_rate(**window)["deflected"] == 1

    # The page stayed open; the customer came back to it and sent the request.
    deflection_record_submitted(session_key="s1", ticket=make_ticket(requester=alice), deflection_id=visit.pk)

    assert deflection_rate(**window) | {"rate": None} == {
        "shown": 1, "opened": 1, "deflected": 0, "submitted": 1, "rate": None,
    }


def test_rate_by_period_and_source(refund_article):
    old = deflection_record_shown(session_key="s1", source="portal_form", query="a", language="en")
    age(old, 60 * 24 * 10)
    chat = deflection_record_shown(session_key="s2", source="chat_widget", query="b", language="en")
    deflection_record_opened(deflection=chat, translation=refund_article)
    age(chat, 60)
    portal = deflection_record_shown(session_key="s3", source="portal_form", query="c", language="en")
    age(portal, 60)
    since, until = timezone.now() - datetime.timedelta(days=1), timezone.now()

    assert deflection_rate(since=since, until=until) == {
        "shown": 2, "opened": 1, "deflected": 1, "submitted": 0, "rate": 0.5,
    }
    assert deflection_rate(since=since, until=until, source="portal_form") == {
        "shown": 1, "opened": 0, "deflected": 0, "submitted": 0, "rate": 0.0,
    }
    assert deflection_rate(since=until, until=until + datetime.timedelta(days=1)) == {
        "shown": 0, "opened": 0, "deflected": 0, "submitted": 0, "rate": 0.0,
    }


def test_rate_is_one_query(django_assert_num_queries):
    since, until = timezone.now() - datetime.timedelta(days=1), timezone.now()
    with django_assert_num_queries(1):
        deflection_rate(since=since, until=until)


# --- the form page ----------------------------------------------------------------------------------


def test_new_request_page_carries_the_suggestion_region_and_the_visit_field(alice):
    page = signed_in(alice).get("/portal/new/").content.decode()

    assert 'aria-live="polite"' in page and "data-kb-suggest" in page
    assert 'data-search-url="/api/v1/kb/search"' in page
    assert 'data-shown-url="/kb/deflection/shown/"' in page
    assert 'data-heading="These articles might answer your question"' in page
    assert '<input type="hidden" name="kb_deflection" value="" data-kb-deflection>' in page
    assert "js/kb-suggest.js" in page


def test_a_form_shown_again_with_errors_keeps_its_visit(alice):
    client = signed_in(alice)
    visit_id = show(client, "refund")

    page = client.post("/portal/new/", {"subject": "Refund", "description": "", "kb_deflection": visit_id})

    assert page.status_code == 200
    assert f'name="kb_deflection" value="{visit_id}"' in page.content.decode()
    assert Deflection.objects.get(pk=visit_id).outcome == DeflectionOutcome.PENDING


# --- the search analytics page ------------------------------------------------------------------------


def test_search_analytics_page_shows_the_deflection_rate(writer, refund_article):
    for number, opened in enumerate((True, True, False, False)):
        visit = deflection_record_shown(session_key=f"s{number}", source="portal_form", query="refund",
                                        language="en" if number else "zh-hans")
        if opened:
            deflection_record_opened(deflection=visit, translation=refund_article)
        age(visit, 60)
    client = Client()
    client.force_login(writer)

    page = client.get("/agent/kb/analytics/", {"days": "7"}).content.decode()
    english = client.get("/agent/kb/analytics/", {"days": "7", "language": "en"}).content.decode()
    help_center = client.get("/agent/kb/analytics/", {"days": "7", "source": "help_center"}).content.decode()

    assert "Deflection rate" in page
    assert 'data-total="deflection">50%<' in page
    assert "2 of 4 visits with suggestions ended without a request; 0 sent one anyway" in page
    assert 'data-total="deflection">33%<' in english
    # Searches in the help center suggest nothing while someone writes: no deflection to show.
    assert "Deflection rate" not in help_center
