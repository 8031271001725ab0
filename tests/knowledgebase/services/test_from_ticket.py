""""Create article from this ticket": a draft from the solved ticket's public thread only."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from knowledgebase.models import Article, ArticleStatus
from knowledgebase.services import article_create_from_ticket
from tests.factories import make_agent, make_team, make_ticket
from tickets.models import Status
from tickets.services import ticket_add_note, ticket_reply, ticket_set_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def solved_ticket(support_team, author):
    ticket = make_ticket(team=support_team, subject="Refund for a double charge",
                         body="I was charged twice for March.")
    ticket_add_note(ticket=ticket, actor=author, body_text="SECRET: customer flagged for chargebacks")
    ticket_reply(ticket=ticket, actor=author, body_text="Sorry! Open Billing > Invoices and choose Refund.")
    ticket_reply(ticket=ticket, actor=None, author_customer=ticket.requester,
                 body_text="Thanks, that worked.\n> Sorry! Open Billing > Invoices")
    ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=author)
    ticket.refresh_from_db()
    return ticket


def test_draft_has_subject_question_and_answers_but_no_internal_note(solved_ticket, author, category):
    translation = article_create_from_ticket(ticket=solved_ticket, actor=author)

    assert translation.title == "Refund for a double charge"
    assert translation.status == ArticleStatus.DRAFT
    assert translation.article.source_ticket == solved_ticket
    assert translation.article.category == category
    assert translation.body_markdown == (
        "## Question\n\nI was charged twice for March.\n\n"
        "## Answer\n\nSorry! Open Billing > Invoices and choose Refund.\n"
    )
    assert "SECRET" not in translation.body_markdown and "SECRET" not in translation.body_html
    assert translation.revisions.get().note == f"Drafted from ticket #{solved_ticket.number}"


def test_agent_who_cannot_see_the_ticket_is_refused(solved_ticket, category):
    outsider = make_agent(make_team("Sales", slug="sales"))
    with pytest.raises(PermissionDenied):
        article_create_from_ticket(ticket=solved_ticket, actor=outsider)
    assert Article.objects.count() == 0


def test_customer_is_refused(solved_ticket, category):
    customer = solved_ticket.requester.user
    with pytest.raises(PermissionDenied):
        article_create_from_ticket(ticket=solved_ticket, actor=customer)
    assert Article.objects.count() == 0


def test_unsolved_ticket_is_refused(support_team, author, category):
    ticket = make_ticket(team=support_team)
    with pytest.raises(ValidationError):
        article_create_from_ticket(ticket=ticket, actor=author)
    assert Article.objects.count() == 0
