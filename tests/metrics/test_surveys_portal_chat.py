"""Rating a solved request in the portal and a chat at its end: both answer the ticket's CSAT survey
(one answer per ticket, changeable), and a rating given there keeps the survey mail from going out.
Also: delayed survey mails leave with the beat sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from channels_intake.chat import services as chat_services
from metrics.models import SurveyInvitation, SurveyInvitationState, SurveyResponse
from metrics.survey_tasks import survey_invitations_send_due
from tests.channels_intake.chat.chat_factories import go_online, make_widget, start_chat
from tests.factories import make_agent, make_customer, make_organization, make_team, make_ticket
from tickets.models import Status, Ticket
from tickets.services import ticket_assign, ticket_set_status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def survey_settings(settings):
    settings.HELPDESK_SITE_URL = "http://testserver"
    settings.HELPDESK_SURVEY_CSAT_DELAY_MINUTES = 0
    settings.HELPDESK_SURVEY_NPS_ENABLED = False
    settings.HELPDESK_SURVEY_RATE_LIMIT = "1000/min"


@pytest.fixture
def team():
    return make_team("Support", slug="support")


@pytest.fixture
def agent(team):
    return make_agent(team, username="ada")


@pytest.fixture
def alice():
    return make_customer(email="alice@example.com", name="Alice", organization=make_organization("Acme"),
                         sees_organization_tickets=True)


@pytest.fixture
def ticket(alice, team, agent):
    ticket = make_ticket(requester=alice, team=team, subject="Printer on fire")
    ticket_assign(ticket=ticket, assignee=agent, actor=agent)
    return Ticket.objects.get(pk=ticket.pk)


def signed_in(customer) -> Client:
    client = Client()
    client.force_login(customer.user)
    return client


def survey_mails() -> list:
    return [m for m in mail.outbox if "List-Unsubscribe" in m.extra_headers]


def rate(client: Client, ticket: Ticket, score: str, comment: str = ""):
    return client.post(f"/survey/requests/{ticket.number}/rating/", {"score": score, "comment": comment})


# --- portal ---------------------------------------------------------------------------------------


def test_portal_offers_the_rating_only_once_the_request_is_solved(alice, ticket, agent):
    client = signed_in(alice)
    assert "How did we do?" not in client.get(f"/portal/requests/{ticket.number}/").content.decode()
    assert rate(client, ticket, "5").status_code == 302
    assert not SurveyResponse.objects.exists()

    ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    page = client.get(f"/portal/requests/{ticket.number}/").content.decode()
    assert "How did we do?" in page
    assert f'action="/survey/requests/{ticket.number}/rating/"' in page


def test_requester_rates_a_solved_request_once_and_can_change_it(alice, ticket, agent, team):
    ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    client = signed_in(alice)

    rate(client, ticket, "2", "Took a while")
    rate(client, ticket, "4", "Took a while, but solved")

    answer = SurveyResponse.objects.get()
    assert (answer.kind, answer.score, answer.comment, answer.source) == ("csat", 4, "Took a while, but solved", "portal")
    assert (answer.ticket, answer.agent, answer.team, answer.organization) == (ticket, agent, team, alice.organization)
    page = client.get(f"/portal/requests/{ticket.number}/").content.decode()
    assert "Your rating" in page
    assert 'value="4" required checked' in page


def test_portal_rating_answers_the_mailed_survey_and_a_mail_link_changes_the_same_answer(
    alice, ticket, agent, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    (message,) = survey_mails()
    rate(signed_in(alice), ticket, "1")
    link = next(line for line in message.body.split() if line.endswith("/5/"))

    Client().get(link.replace("http://testserver", ""))

    answer = SurveyResponse.objects.get()
    assert (answer.score, answer.source) == (5, "email")


def test_a_portal_rating_before_the_delayed_mail_keeps_the_mail_from_going_out(
    alice, ticket, agent, celery_eager, django_capture_on_commit_callbacks, settings
):
    settings.HELPDESK_SURVEY_CSAT_DELAY_MINUTES = 24 * 60
    with django_capture_on_commit_callbacks(execute=True):
        ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    rate(signed_in(alice), ticket, "5")
    SurveyInvitation.objects.update(send_after=timezone.now() - timedelta(minutes=1))

    assert survey_invitations_send_due() == 1

    assert survey_mails() == []
    invitation = SurveyInvitation.objects.get()
    assert (invitation.state, invitation.skip_reason) == (SurveyInvitationState.NOT_SENT, "answered")


def test_delayed_survey_mails_leave_with_the_sweep(ticket, agent, celery_eager, django_capture_on_commit_callbacks,
                                                   settings):
    settings.HELPDESK_SURVEY_CSAT_DELAY_MINUTES = 24 * 60
    with django_capture_on_commit_callbacks(execute=True):
        ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    assert survey_invitations_send_due() == 0
    assert survey_mails() == []

    SurveyInvitation.objects.update(send_after=timezone.now() - timedelta(minutes=1))
    assert survey_invitations_send_due() == 1
    assert len(survey_mails()) == 1
    assert survey_invitations_send_due() == 0


def test_other_people_cannot_rate_a_request(alice, ticket, agent):
    ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    stranger = make_customer(email="bob@example.com")
    colleague = make_customer(email="carol@example.com", organization=alice.organization, sees_organization_tickets=True)
    ticket_of_colleague = make_ticket(requester=colleague, team=ticket.team)
    ticket_set_status(ticket=ticket_of_colleague, status=Status.SOLVED, actor=agent)

    assert rate(signed_in(stranger), ticket, "1").status_code == 404
    # An organization contact sees the request but it is not theirs to rate.
    response = rate(signed_in(alice), ticket_of_colleague, "1")
    assert response.status_code == 302
    assert "How did we do?" not in signed_in(alice).get(
        f"/portal/requests/{ticket_of_colleague.number}/").content.decode()
    assert rate(Client(), ticket, "1").status_code == 302  # to sign-in
    assert not SurveyResponse.objects.exists()


def test_portal_rating_needs_the_csrf_token(alice, ticket, agent):
    ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice.user)
    assert rate(client, ticket, "5").status_code == 403
    assert not SurveyResponse.objects.exists()


def test_out_of_scale_portal_rating_is_refused(alice, ticket, agent):
    ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    client = signed_in(alice)
    for bad in ("0", "6", "five", ""):
        rate(client, ticket, bad)
    assert not SurveyResponse.objects.exists()


# --- chat -----------------------------------------------------------------------------------------


def test_chat_rating_at_the_end_records_the_tickets_csat(team, celery_eager, django_capture_on_commit_callbacks):
    widget = make_widget(team)
    agent = go_online(make_agent(team))
    chat = start_chat(widget, email="ann@example.org", language="zh-CN")
    chat_services.chat_accept(chat=chat, agent=agent)
    with django_capture_on_commit_callbacks(execute=True):
        chat_services.chat_end(chat=chat, actor=agent, reason="agent_ended", solve=True)

    chat_services.chat_rate(chat=chat, rating=3, comment="OK")
    chat_services.chat_rate(chat=chat, rating=5, comment="Great in the end")

    answer = SurveyResponse.objects.get()
    assert (answer.kind, answer.score, answer.comment, answer.source) == ("csat", 5, "Great in the end", "chat")
    assert (answer.ticket_id, answer.channel, answer.team, answer.language) == (chat.ticket_id, "chat", team, "zh-hans")
    # The chat's survey mail waits for the widget's rating and is not sent once it came.
    invitation = SurveyInvitation.objects.get()
    assert invitation.send_after >= timezone.now() + timedelta(minutes=50)
    SurveyInvitation.objects.update(send_after=timezone.now())
    survey_invitations_send_due()
    invitation.refresh_from_db()
    assert (invitation.state, invitation.skip_reason) == (SurveyInvitationState.NOT_SENT, "answered")
    assert survey_mails() == []


def test_chat_rating_through_the_widget_api(team):
    from channels_intake.chat.tokens import visitor_token_issue

    widget = make_widget(team)
    agent = go_online(make_agent(team))
    chat = start_chat(widget)
    chat_services.chat_accept(chat=chat, agent=agent)
    chat_services.chat_end(chat=chat, actor=agent, reason="agent_ended", solve=False)
    token = visitor_token_issue(chat=chat)

    response = Client().post(f"/api/v1/chat/chats/{chat.pk}/rating/", {"rating": 4, "comment": "Thanks"},
                             content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}",
                             HTTP_ORIGIN="https://shop.example")

    assert response.status_code == 200
    answer = SurveyResponse.objects.get()
    assert (answer.score, answer.comment, answer.source, answer.ticket_id) == (4, "Thanks", "chat", chat.ticket_id)
    other = Client().post(f"/api/v1/chat/chats/{chat.pk}/rating/", {"rating": 1}, content_type="application/json",
                          HTTP_AUTHORIZATION="Bearer forged", HTTP_ORIGIN="https://shop.example")
    assert other.status_code == 401
    assert SurveyResponse.objects.get().score == 4


def test_solved_request_page_with_its_rating_stays_within_its_query_budget(alice, ticket, agent,
                                                                           django_assert_max_num_queries):
    ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)
    client = signed_in(alice)
    rate(client, ticket, "4")
    client.get(f"/portal/requests/{ticket.number}/")  # warm the session and the content types
    # The unsolved page's budget (tests/tickets/views/test_portal_ticket.py) plus the survey and its answer.
    with django_assert_max_num_queries(10):
        page = client.get(f"/portal/requests/{ticket.number}/")
    assert page.status_code == 200
