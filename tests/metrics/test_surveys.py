"""CSAT and NPS surveys by email: who is asked when, the one-click links (forged, tampered, expired
or replayed ones record nothing), the thank-you page, opt-out. Tickets are solved through the real
status service; its on-commit task runs in place (celery_eager)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.test import Client
from django.utils import timezone

from helpdesk import realtime
from metrics.models import SurveyInvitation, SurveyInvitationState, SurveyOptOut, SurveyResponse, TicketFact
from metrics.services import ticket_facts_refresh
from metrics.surveys import (
    ANSWER_SALT,
    survey_answer_token,
    survey_invitation_send,
    survey_opt_out_token,
    surveys_after_solve,
)
from tests.factories import make_agent, make_customer, make_organization, make_team, make_ticket
from tests.realtime_helpers import events_during
from tickets.models import Customer, Priority, Status, Ticket
from tickets.services import ticket_assign, ticket_merge, ticket_set_status, ticket_update
from tickets.services.accounts import email_verification_token

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/survey/[^\s\"<>]+)")


@pytest.fixture(autouse=True)
def survey_settings(settings):
    settings.HELPDESK_SITE_URL = "http://testserver"
    settings.HELPDESK_SURVEY_CSAT_DELAY_MINUTES = 0
    settings.HELPDESK_SURVEY_NPS_DELAY_HOURS = 24
    settings.HELPDESK_SURVEY_ASK_CES = True
    settings.HELPDESK_SURVEY_RATE_LIMIT = "1000/min"
    return settings


@pytest.fixture
def team():
    return make_team("Billing", slug="billing")


@pytest.fixture
def agent(team):
    return make_agent(team, username="ada", display_name="Ada Agent")


@pytest.fixture
def customer():
    organization = make_organization("Acme")
    customer = make_customer(email="li@example.cn", name="Li Lei", organization=organization)
    Customer.objects.filter(pk=customer.pk).update(language="zh-hans")
    customer.refresh_from_db()
    return customer


@pytest.fixture
def ticket(customer, team, agent):
    ticket = make_ticket(requester=customer, team=team, subject="Invoice wrong", priority=Priority.HIGH)
    ticket_assign(ticket=ticket, assignee=agent, actor=agent)
    return ticket


def solve(ticket: Ticket, agent, capture) -> None:
    with capture(execute=True):
        ticket_set_status(ticket=Ticket.objects.get(pk=ticket.pk), status=Status.SOLVED, actor=agent)


def survey_mails(kind_subject: str = "") -> list:
    return [m for m in mail.outbox if "List-Unsubscribe" in m.extra_headers and kind_subject in m.subject]


def links_of(message) -> list[str]:
    return LINK.findall(message.body)


def rating_links(message) -> dict[int, str]:
    return {int(link.rstrip("/").rsplit("/", 1)[1]): link for link in links_of(message) if "opt-out" not in link}


def opt_out_link(message) -> str:
    return next(link for link in links_of(message) if "/opt-out/" in link)


@pytest.fixture
def solved(ticket, agent, celery_eager, django_capture_on_commit_callbacks):
    solve(ticket, agent, django_capture_on_commit_callbacks)
    return ticket


# --- who is asked ---------------------------------------------------------------------------------


def test_solving_a_ticket_mails_one_csat_survey_in_the_customers_language(solved, customer):
    (message,) = survey_mails()
    assert message.to == ["li@example.cn"]
    html = message.alternatives[0][0]
    assert 'lang="zh-hans"' in html
    assert sorted(rating_links(message)) == [1, 2, 3, 4, 5]
    assert message.extra_headers["List-Unsubscribe"] == f"<http://testserver{opt_out_link(message)}>"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    csat = SurveyInvitation.objects.get(ticket=solved, kind="csat")
    assert (csat.state, csat.language, csat.email) == (SurveyInvitationState.SENT, "zh-hans", "li@example.cn")
    # The NPS question waits for its delay: created, not sent.
    nps = SurveyInvitation.objects.get(ticket=solved, kind="nps")
    assert nps.state == SurveyInvitationState.PENDING
    assert nps.send_after > timezone.now() + timedelta(hours=23)


def test_customer_without_language_gets_the_site_language(agent, team, celery_eager, django_capture_on_commit_callbacks,
                                                          settings):
    settings.LANGUAGE_CODE = "en"
    ticket = make_ticket(requester=make_customer(), team=team)
    solve(ticket, agent, django_capture_on_commit_callbacks)
    (message,) = survey_mails()
    assert 'lang="en"' in message.alternatives[0][0]
    assert "How would you rate the support you received?" in message.subject


def test_reopened_and_solved_again_is_not_asked_twice_within_the_resend_days(
    solved, agent, customer, django_capture_on_commit_callbacks, settings
):
    ticket_set_status(ticket=solved, status=Status.OPEN, actor=agent)
    solve(solved, agent, django_capture_on_commit_callbacks)
    assert len(survey_mails()) == 1
    assert SurveyInvitation.objects.filter(ticket=solved, kind="csat").count() == 1

    # Past the resend window a new solve is a new survey.
    SurveyInvitation.objects.filter(ticket=solved).update(created_at=timezone.now() - timedelta(days=8))
    ticket_set_status(ticket=Ticket.objects.get(pk=solved.pk), status=Status.OPEN, actor=agent)
    solve(solved, agent, django_capture_on_commit_callbacks)
    assert SurveyInvitation.objects.filter(ticket=solved, kind="csat").count() == 2
    assert len(survey_mails()) == 2


def test_merged_ticket_gets_no_survey(ticket, agent, customer, team, celery_eager, django_capture_on_commit_callbacks):
    target = make_ticket(requester=customer, team=team, subject="Invoice wrong (again)")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_merge(source=ticket, target=target, actor=agent)
    assert not SurveyInvitation.objects.filter(ticket=ticket).exists()
    assert survey_mails() == []


def test_requester_without_email_is_not_mailed_but_can_rate_elsewhere(agent, team, celery_eager,
                                                                      django_capture_on_commit_callbacks):
    walk_in = Customer.objects.create(name="Walk-in caller")
    ticket = make_ticket(requester=walk_in, team=team)
    solve(ticket, agent, django_capture_on_commit_callbacks)
    assert survey_mails() == []
    csat = SurveyInvitation.objects.get(ticket=ticket)
    assert (csat.state, csat.skip_reason) == (SurveyInvitationState.NOT_SENT, "no_email")


def test_no_survey_while_mail_is_off(ticket, agent, celery_eager, django_capture_on_commit_callbacks, settings):
    settings.HELPDESK_EMAIL_REPLIES = False  # history imports, the demo seed
    solve(ticket, agent, django_capture_on_commit_callbacks)
    assert not SurveyInvitation.objects.exists()


def test_a_delayed_csat_is_dropped_when_the_ticket_was_reopened_meanwhile(
    ticket, agent, celery_eager, django_capture_on_commit_callbacks, settings
):
    settings.HELPDESK_SURVEY_CSAT_DELAY_MINUTES = 60
    solve(ticket, agent, django_capture_on_commit_callbacks)
    csat = SurveyInvitation.objects.get(ticket=ticket, kind="csat")
    assert csat.state == SurveyInvitationState.PENDING  # the eager task came too early: not due
    ticket_set_status(ticket=Ticket.objects.get(pk=ticket.pk), status=Status.OPEN, actor=agent)

    survey_invitation_send(invitation_id=csat.pk, now=timezone.now() + timedelta(minutes=61))

    csat.refresh_from_db()
    assert (csat.state, csat.skip_reason) == (SurveyInvitationState.NOT_SENT, "reopened")
    assert survey_mails() == []


def test_sending_twice_mails_once(solved):
    csat = SurveyInvitation.objects.get(ticket=solved, kind="csat")
    survey_invitation_send(invitation_id=csat.pk)
    surveys_after_solve(ticket_id=solved.pk)  # a retried solve task
    assert len(survey_mails()) == 1
    assert SurveyInvitation.objects.filter(ticket=solved, kind="csat").count() == 1


# --- NPS ------------------------------------------------------------------------------------------


def test_nps_goes_out_after_its_delay_with_eleven_links_at_most_once_per_period(
    solved, agent, customer, team, django_capture_on_commit_callbacks, settings
):
    nps = SurveyInvitation.objects.get(ticket=solved, kind="nps")
    later = timezone.now() + timedelta(hours=25)
    survey_invitation_send(invitation_id=nps.pk, now=later)
    (message,) = survey_mails()[1:]
    assert sorted(rating_links(message)) == list(range(11))
    nps.refresh_from_db()
    assert nps.state == SurveyInvitationState.SENT

    # Another solve for the same customer within the period: CSAT yes, NPS no.
    second = make_ticket(requester=customer, team=team, subject="Another question")
    solve(second, agent, django_capture_on_commit_callbacks)
    assert list(SurveyInvitation.objects.filter(ticket=second).values_list("kind", flat=True)) == ["csat"]

    # After the period, the customer is asked again.
    SurveyInvitation.objects.filter(pk=nps.pk).update(sent_at=timezone.now() - timedelta(days=91))
    third = make_ticket(requester=customer, team=team, subject="A third question")
    solve(third, agent, django_capture_on_commit_callbacks)
    assert sorted(SurveyInvitation.objects.filter(ticket=third).values_list("kind", flat=True)) == ["csat", "nps"]


def test_nps_answer_links_to_the_ticket_agent_team_and_channel(solved, agent, team):
    nps = SurveyInvitation.objects.get(ticket=solved, kind="nps")
    response = Client().get(f"/survey/{survey_answer_token(nps)}/9/")
    assert response.status_code == 302
    answer = SurveyResponse.objects.get(kind="nps")
    assert (answer.score, answer.ticket, answer.agent, answer.team, answer.channel) == (9, solved, agent, team, "web")


# --- the links ------------------------------------------------------------------------------------


def test_one_click_records_the_rating_with_the_tickets_dimensions(solved, agent, team, customer):
    (message,) = survey_mails()
    client = Client()
    response = client.get(rating_links(message)[4])
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'lang="zh-hans"' in page.content.decode()

    answer = SurveyResponse.objects.get()
    assert (answer.kind, answer.score, answer.source, answer.language) == ("csat", 4, "email", "zh-hans")
    assert (answer.ticket, answer.customer, answer.team, answer.agent) == (solved, customer, team, agent)
    assert (answer.channel, answer.priority, answer.organization) == ("web", "high", customer.organization)


def test_agent_is_the_one_in_the_facts_when_there_are_facts(solved, team):
    other = make_agent(team, username="bo")
    ticket_facts_refresh(ticket_ids=[solved.pk])
    TicketFact.objects.filter(ticket=solved).update(agent=other)
    (message,) = survey_mails()
    Client().get(rating_links(message)[5])
    assert SurveyResponse.objects.get().agent == other


def test_same_link_twice_is_one_answer_and_another_score_changes_it(solved):
    (message,) = survey_mails()
    links = rating_links(message)
    client = Client()
    client.get(links[2])
    client.get(links[2])
    assert SurveyResponse.objects.count() == 1
    first = SurveyResponse.objects.get()

    client.get(links[5])

    answer = SurveyResponse.objects.get()
    assert (answer.pk, answer.score, answer.responded_at) == (first.pk, 5, first.responded_at)


def test_comment_and_ces_are_saved_with_csrf_and_a_replay_adds_nothing(solved):
    (message,) = survey_mails()
    client = Client(enforce_csrf_checks=True)
    feedback = client.get(rating_links(message)[3], follow=True)
    assert 'name="ces"' in feedback.content.decode()
    page_url = feedback.redirect_chain[-1][0]

    refused = client.post(page_url, {"comment": "Slow but fine", "ces": "6"})
    assert refused.status_code == 403
    assert SurveyResponse.objects.get().comment == ""

    token = client.cookies["csrftoken"].value
    saved = client.post(page_url, {"comment": "Slow but fine", "ces": "6", "csrfmiddlewaretoken": token})
    assert saved.status_code == 302
    answers = {answer.kind: answer for answer in SurveyResponse.objects.all()}
    assert (answers["csat"].score, answers["csat"].comment) == (3, "Slow but fine")
    assert answers["ces"].score == 6

    # The mail's link clicked again after the comment: still one answer, the comment kept.
    client.get(rating_links(message)[3])
    assert SurveyResponse.objects.filter(kind="csat").count() == 1
    assert SurveyResponse.objects.get(kind="csat").comment == "Slow but fine"


def test_out_of_scale_answers_are_refused(solved):
    csat = SurveyInvitation.objects.get(ticket=solved, kind="csat")
    token = survey_answer_token(csat)
    client = Client()
    assert client.get(f"/survey/{token}/6/").status_code == 400
    assert client.get(f"/survey/{token}/0/").status_code == 400
    client.get(f"/survey/{token}/5/")
    assert client.post(f"/survey/{token}/", {"ces": "9"}).status_code == 400
    assert list(SurveyResponse.objects.values_list("kind", "score")) == [("csat", 5)]


def test_forged_tampered_expired_and_foreign_tokens_record_nothing(solved, customer):
    csat = SurveyInvitation.objects.get(ticket=solved, kind="csat")
    good = survey_answer_token(csat)
    value, _stamp, signature = good.split(":")
    tampered_id = signing.dumps({"i": csat.pk + 1, "k": "csat"}, salt=ANSWER_SALT).split(":")[0]
    client = Client()
    cases = {
        "forged": ("bm90LWEtdG9rZW4:1tAbCd:" + "x" * 43, 400),
        "tampered": (f"{tampered_id}:{_stamp}:{signature}", 400),
        "other salt (opt-out token)": (survey_opt_out_token(csat), 400),
        "other salt (account link)": (email_verification_token(customer.user), 400),
        "unknown invitation": (signing.dumps({"i": 987654321, "k": "csat"}, salt=ANSWER_SALT), 400),
        "another kind": (signing.dumps({"i": csat.pk, "k": "nps"}, salt=ANSWER_SALT), 400),
    }
    for name, (token, status) in cases.items():
        assert client.get(f"/survey/{token}/5/").status_code == status, name
        assert client.post(f"/survey/{token}/", {"score": "5", "comment": "x"}).status_code == status, name

    class SignerOfThePast(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int((timezone.now() - timedelta(days=15)).timestamp()))

    stale = SignerOfThePast(salt=ANSWER_SALT).sign_object({"i": csat.pk, "k": "csat"})
    response = client.get(f"/survey/{stale}/5/")
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert client.post(f"/survey/{stale}/", {"score": "5"}).status_code == 410
    assert not SurveyResponse.objects.exists()
    assert client.get(f"/survey/{good}/5/").status_code == 302  # the genuine one still works


def test_an_answer_tells_open_dashboards_once_committed(solved, django_capture_on_commit_callbacks):
    (message,) = survey_mails()

    def click() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            Client().get(rating_links(message)[5])

    assert events_during([realtime.METRICS_GROUP], click) == [{"type": "metrics.updated"}]


def test_survey_pages_are_rate_limited_per_address(solved, settings):
    settings.HELPDESK_SURVEY_RATE_LIMIT = "3/min"
    csat = SurveyInvitation.objects.get(ticket=solved, kind="csat")
    token = survey_answer_token(csat)
    client = Client()
    assert [client.get(f"/survey/{token}/").status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(f"/survey/{token}/5/")
    assert limited.status_code == 429
    assert limited["Retry-After"]
    assert not SurveyResponse.objects.exists()


# --- opt-out --------------------------------------------------------------------------------------


def test_opt_out_link_stops_every_later_survey_mail(solved, agent, customer, team, django_capture_on_commit_callbacks):
    (message,) = survey_mails()
    client = Client()
    confirm = client.get(opt_out_link(message))
    assert confirm.status_code == 200
    assert not SurveyOptOut.objects.exists()  # a link scanner's GET opts nobody out

    done = client.post(opt_out_link(message))
    assert done.status_code == 200
    assert SurveyOptOut.objects.filter(customer=customer).exists()
    nps = SurveyInvitation.objects.get(ticket=solved, kind="nps")
    assert (nps.state, nps.skip_reason) == (SurveyInvitationState.NOT_SENT, "opted_out")

    mail.outbox.clear()
    second = make_ticket(requester=customer, team=team, subject="Another question")
    solve(second, agent, django_capture_on_commit_callbacks)
    survey_invitation_send(invitation_id=nps.pk, now=timezone.now() + timedelta(days=2))
    assert survey_mails() == []
    csat = SurveyInvitation.objects.get(ticket=second)
    assert (csat.state, csat.skip_reason) == (SurveyInvitationState.NOT_SENT, "opted_out")


def test_mail_clients_one_click_unsubscribe_needs_no_csrf_token(solved, customer):
    (message,) = survey_mails()
    response = Client(enforce_csrf_checks=True).post(opt_out_link(message), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert SurveyOptOut.objects.filter(customer=customer).exists()


def test_a_tampered_opt_out_link_opts_nobody_out(solved):
    (message,) = survey_mails()
    link = opt_out_link(message).rstrip("/")
    assert Client().post(link[:-2] + "xx/").status_code == 400
    assert not SurveyOptOut.objects.exists()


def test_ticket_update_by_the_customer_also_triggers_the_survey(ticket, customer, celery_eager,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_update(ticket=ticket, actor=customer.user, status=Status.SOLVED)
    assert len(survey_mails()) == 1
