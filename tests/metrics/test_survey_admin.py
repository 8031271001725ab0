"""Surveys in the admin site: answers and invitations readable, never edited by hand."""

from __future__ import annotations

import pytest
from django.utils import timezone

from metrics.models import SurveyOptOut, SurveyResponse
from tests.factories import make_customer, make_ticket, make_user
from tickets.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True))
    return client


def test_answers_are_listed_with_their_comment_searchable(admin_client):
    ticket = make_ticket(subject="Refund")
    SurveyResponse.objects.create(kind="csat", score=2, comment="waited three days", source="email", ticket=ticket,
                                  customer=ticket.requester, channel=ticket.channel, priority=ticket.priority,
                                  responded_at=timezone.now())
    SurveyResponse.objects.create(kind="nps", score=9, source="email", responded_at=timezone.now())

    found = admin_client.get("/admin/metrics/surveyresponse/", {"q": "three days"})

    assert found.status_code == 200
    assert found.context["cl"].result_count == 1
    assert found.context["cl"].result_list[0].score == 2


def test_answers_cannot_be_added_or_changed_by_hand(admin_client):
    answer = SurveyResponse.objects.create(kind="csat", score=5, source="portal", responded_at=timezone.now())

    assert admin_client.get("/admin/metrics/surveyresponse/add/").status_code == 403
    response = admin_client.post(f"/admin/metrics/surveyresponse/{answer.pk}/change/", {"score": 1})
    assert response.status_code == 403
    answer.refresh_from_db()
    assert answer.score == 5


def test_an_opt_out_can_be_removed_so_the_customer_gets_surveys_again(admin_client):
    opt_out = SurveyOptOut.objects.create(customer=make_customer())

    response = admin_client.post(f"/admin/metrics/surveyoptout/{opt_out.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not SurveyOptOut.objects.exists()
