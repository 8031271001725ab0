"""Agents' email notifications: what lands in an agent's inbox when a ticket is assigned to them or
its customer writes again. Real mail over SMTP to a loopback sink, the task run by Celery (eager,
retries included), on-commit callbacks executed."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from channels_intake.base import InboundMessage
from channels_intake.services import ingest
from tests.channels_intake.outbound.conftest import celery_eager_retrying, smtp_sink  # noqa: F401 - fixtures
from tests.factories import make_agent, make_customer, make_team, make_ticket, make_user
from tests.tickets.api.conftest import token_client
from tickets.models import Channel, Event, NotificationDelivery, NotificationState, Role, TeamMembership
from tickets.services import ticket_add_note, ticket_assign, ticket_create, ticket_reply
from tickets.tasks import notify_agents

pytestmark = pytest.mark.django_db

SITE = "https://help.example.com"


@pytest.fixture(autouse=True)
def _site(settings, celery_eager_retrying):  # noqa: F811 - the imported fixture
    settings.HELPDESK_SITE_URL = SITE
    settings.HELPDESK_EMAIL_OUTBOUND_RETRY_SECONDS = 0
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def team():
    return make_team(name="Support", slug="support")


@pytest.fixture
def lead(team):
    return make_user(role=Role.TEAM_LEAD, teams=[team], lead_of=[team], display_name="Lena Lead")


@pytest.fixture
def agent(team):
    return make_agent(team, display_name="Ana Agent", email="ana@staff.example")


@pytest.fixture
def act(django_capture_on_commit_callbacks):
    """Run a service the way a request does: its on-commit callbacks (the queued task) run after it."""

    def act(service, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(*args, **kwargs)

    return act


def mails_to(sink, address: str) -> list:
    return [delivery.mail for delivery in sink.deliveries if address in delivery.recipients]


def texts(mail) -> tuple[str, str]:
    return (
        mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n"),
        mail.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n"),
    )


def link_to(ticket) -> str:
    return f"{SITE}/agent/tickets/{ticket.number}/"


# --- assigned ---------------------------------------------------------------------------------------


def test_assignee_gets_one_mail_with_the_link_and_the_customers_words(smtp_sink, act, team, lead, agent):  # noqa: F811
    ticket = make_ticket(team=team, subject="Printer\r\nBcc: victim@example.com",
                         body="My printer <script>alert(1)</script> is on fire & smoking.")

    act(ticket_assign, ticket=ticket, assignee=agent, actor=lead)

    assert len(smtp_sink.deliveries) == 1
    [mail] = mails_to(smtp_sink, "ana@staff.example")
    assert smtp_sink.deliveries[0].recipients == ["ana@staff.example"]
    # CR/LF in the ticket's subject collapse to a space: no header of its own.
    assert mail["Subject"] == f"[#{ticket.number}] Assigned to you: Printer Bcc: victim@example.com"
    assert mail["Bcc"] is None
    assert mail["Auto-Submitted"] == "auto-generated"
    text, html = texts(mail)
    assert "Lena Lead assigned ticket" in text
    assert link_to(ticket) in text
    assert f'href="{link_to(ticket)}"' in html
    assert "My printer <script>alert(1)</script> is on fire & smoking." in text
    assert "My printer &lt;script&gt;alert(1)&lt;/script&gt; is on fire &amp; smoking." in html
    assert "<script>" not in html
    [row] = NotificationDelivery.objects.all()
    assert (row.recipient, row.kind, row.state) == (agent, "assigned", NotificationState.SENT)


def test_assigning_oneself_sends_nothing(smtp_sink, act, team, agent):  # noqa: F811
    ticket = make_ticket(team=team)

    act(ticket_assign, ticket=ticket, assignee=agent, actor=agent)

    assert smtp_sink.deliveries == []
    assert NotificationDelivery.objects.count() == 0


def test_a_ticket_created_assigned_to_a_colleague_tells_the_colleague(smtp_sink, act, team, lead, agent):  # noqa: F811
    ticket = act(ticket_create, requester=make_customer(), subject="Phone call", body_text="Called about the invoice.",
                 channel=Channel.PHONE, team=team, assignee=agent, actor=lead)

    [mail] = mails_to(smtp_sink, "ana@staff.example")
    assert mail["Subject"] == f"[#{ticket.number}] Assigned to you: Phone call"
    assert len(smtp_sink.deliveries) == 1


def test_a_ticket_the_system_creates_assigned_tells_the_assignee(smtp_sink, act, team, agent):  # noqa: F811
    ticket = act(ticket_create, requester=make_customer(), subject="Routed", body_text="Routed to you.",
                 team=team, assignee=agent, actor=None)

    [mail] = mails_to(smtp_sink, agent.email)
    text = texts(mail)[0]
    assert f"Ticket #{ticket.number} “Routed” was assigned to you." in text
    assert "Routed to you." in text


def test_assignment_mail_is_off_when_the_agent_switched_it_off(smtp_sink, act, team, lead, agent):  # noqa: F811
    agent.notify_on_assignment = False
    agent.save()
    ticket = make_ticket(team=team)

    act(ticket_assign, ticket=ticket, assignee=agent, actor=lead)

    assert smtp_sink.deliveries == []


# --- customer replied -------------------------------------------------------------------------------


def test_customer_email_reply_reaches_the_assignee_in_chinese_and_their_time_zone(smtp_sink, act, team, lead, agent):  # noqa: F811
    agent.language, agent.timezone = "zh-hans", "Asia/Shanghai"
    agent.save()
    customer = make_customer(email="ann@customer.example", name="Ann")
    ticket = make_ticket(team=team, requester=customer, subject="打印机着火了")
    ticket_assign(ticket=ticket, assignee=agent, actor=agent)

    result = act(ingest, InboundMessage(
        channel=Channel.EMAIL, sender_email="ann@customer.example", sender_name="Ann", subject="Re: printer",
        body_text="Still burning.\nPlease hurry.", external_id="<again@customer.example>",
        ticket_number=ticket.number, ticket_number_confirmed=True,
    ))

    [mail] = mails_to(smtp_sink, "ana@staff.example")
    assert len(smtp_sink.deliveries) == 1
    text, html = texts(mail)
    assert text.startswith("Ana Agent，您好：")  # the agent's language, not the site's
    assert '<html lang="zh-hans">' in html
    local = result.message.created_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}" in text
    assert "Still burning.\nPlease hurry." in text
    assert "Still burning.<br>Please hurry." in html
    assert link_to(ticket) in text
    assert mail["Subject"].startswith(f"[#{ticket.number}] ")
    assert "打印机着火了" in mail["Subject"]
    assert smtp_sink.deliveries[0].raw.split(b"\r\n\r\n", 1)[0].isascii()  # encoded words, no raw 8-bit header


def test_customer_portal_reply_on_an_unassigned_ticket_tells_the_active_team_members(smtp_sink, act, team, lead, agent):  # noqa: F811
    away = make_agent(team, email="away@staff.example", is_active=False)
    muted = make_agent(team, email="muted@staff.example")
    muted.notify_on_customer_reply = False
    muted.save()
    make_agent(make_team(), email="other-team@staff.example")
    # A membership a customer login should never have: it still gets no agent mail.
    stray = make_customer(email="stray@customer.example")
    TeamMembership.objects.create(team=team, user=stray.user)
    customer = make_customer()
    ticket = make_ticket(team=team, requester=customer)

    act(ticket_reply, ticket=ticket, actor=customer.user, body_text="Any news?")

    assert sorted(r for d in smtp_sink.deliveries for r in d.recipients) == sorted([agent.email, lead.email])
    assert set(NotificationDelivery.objects.values_list("recipient", flat=True)) == {agent.pk, lead.pk}
    assert {away.pk, muted.pk, stray.user.pk}.isdisjoint(NotificationDelivery.objects.values_list("recipient", flat=True))
    for mail in (mails_to(smtp_sink, agent.email)[0], mails_to(smtp_sink, lead.email)[0]):
        assert "Any news?" in texts(mail)[0]


def test_customer_reply_through_the_api_reaches_the_assignee(smtp_sink, act, django_capture_on_commit_callbacks,  # noqa: F811
                                                             team, agent):
    customer = make_customer(name="Alice")
    ticket = make_ticket(team=team, requester=customer)
    ticket_assign(ticket=ticket, assignee=agent, actor=agent)

    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(customer.user).post(
            f"/api/v1/tickets/{ticket.number}/messages/", {"body": "Sent from our ERP"}, format="json")

    assert response.status_code == 201
    [mail] = mails_to(smtp_sink, agent.email)
    assert mail["Subject"] == f"[#{ticket.number}] Alice replied: Printer is on fire"
    assert "Sent from our ERP" in texts(mail)[0]
    assert len(smtp_sink.deliveries) == 1


def test_customer_reply_on_a_ticket_without_team_or_assignee_mails_nobody(smtp_sink, act):  # noqa: F811
    make_agent(make_team())
    customer = make_customer()
    ticket = make_ticket(requester=customer)
    ticket.team = None
    ticket.save(update_fields=["team"])

    act(ticket_reply, ticket=ticket, actor=customer.user, body_text="Hello?")

    assert smtp_sink.deliveries == []


def test_an_agents_note_or_reply_sends_nothing_to_the_assignee_who_wrote_it(smtp_sink, act, team, agent):  # noqa: F811
    ticket = make_ticket(team=team)
    ticket_assign(ticket=ticket, assignee=agent, actor=agent)

    act(ticket_add_note, ticket=ticket, actor=agent, body_text="Internal: check the warranty.")
    act(ticket_reply, ticket=ticket, actor=agent, body_text="We are on it.")

    assert mails_to(smtp_sink, agent.email) == []
    assert not any(b"warranty" in delivery.raw for delivery in smtp_sink.deliveries)
    assert NotificationDelivery.objects.count() == 0


def test_customer_reply_mail_is_off_when_the_assignee_switched_it_off(smtp_sink, act, team, agent):  # noqa: F811
    agent.notify_on_customer_reply = False
    agent.save()
    customer = make_customer()
    ticket = make_ticket(team=team, requester=customer)
    ticket_assign(ticket=ticket, assignee=agent, actor=agent)

    act(ticket_reply, ticket=ticket, actor=customer.user, body_text="Hello again")

    assert smtp_sink.deliveries == []


def test_a_customer_cannot_make_mail_about_someone_elses_ticket(smtp_sink, act, team, agent):  # noqa: F811
    owner, intruder = make_customer(), make_customer()
    ticket = make_ticket(team=team, requester=owner, body="Owner's secret order 4711")
    ticket_assign(ticket=ticket, assignee=agent, actor=agent)

    with pytest.raises(PermissionDenied):
        act(ticket_reply, ticket=ticket, actor=intruder.user, body_text="Let me in")

    assert smtp_sink.deliveries == []
    # Nor does mail naming that ticket's number, from a sender who is not its requester, reach it.
    act(ingest, InboundMessage(
        channel=Channel.EMAIL, sender_email=intruder.email, subject=f"[#{ticket.number}] hi", body_text="Let me in",
        external_id="<intruder@customer.example>", ticket_number=ticket.number,
    ))
    assert not any(b"4711" in delivery.raw for delivery in smtp_sink.deliveries)
    assert ticket.messages.count() == 1
    # Whatever was mailed went to staff only.
    staff = {agent.email}
    assert {r for d in smtp_sink.deliveries for r in d.recipients} <= staff


# --- delivery ----------------------------------------------------------------------------------------


def test_a_server_that_says_later_is_asked_again_and_the_mail_goes_out_once(smtp_sink, act, team, lead, agent):  # noqa: F811
    smtp_sink.refuse_with, smtp_sink.refuse_first = "451 4.3.0 try again later", 2
    ticket = make_ticket(team=team)

    act(ticket_assign, ticket=ticket, assignee=agent, actor=lead)

    assert smtp_sink.attempts == 3
    assert len(smtp_sink.deliveries) == 1
    # The same task run again (a redelivered message, a duplicate) finds the mail sent.
    event = Event.objects.get(ticket=ticket, kind="assignee_changed")
    notify_agents.delay(event.pk)
    notify_agents.delay(event.pk)
    assert len(smtp_sink.deliveries) == 1
    assert NotificationDelivery.objects.get().state == NotificationState.SENT


def test_after_the_last_retry_the_mail_is_recorded_as_failed(smtp_sink, act, settings, team, lead, agent):  # noqa: F811
    settings.HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES = 2
    smtp_sink.refuse_with = "451 4.3.0 try again later"
    ticket = make_ticket(team=team)

    act(ticket_assign, ticket=ticket, assignee=agent, actor=lead)

    assert smtp_sink.attempts == 3  # the first try and two retries
    row = NotificationDelivery.objects.get()
    assert (row.recipient, row.state) == (agent, NotificationState.FAILED)
    assert "451" in row.error


def test_a_permanent_refusal_is_recorded_and_not_retried(smtp_sink, act, team, lead, agent):  # noqa: F811
    smtp_sink.refuse_with = "550 5.1.1 no such user"
    ticket = make_ticket(team=team)

    act(ticket_assign, ticket=ticket, assignee=agent, actor=lead)

    assert smtp_sink.attempts == 1
    row = NotificationDelivery.objects.get()
    assert row.state == NotificationState.FAILED
    assert "550" in row.error


def test_nothing_is_queued_when_the_change_is_rolled_back(smtp_sink, django_capture_on_commit_callbacks, team, lead, agent):  # noqa: F811
    from django.db import transaction

    ticket = make_ticket(team=team)

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError), \
            transaction.atomic():
        ticket_assign(ticket=ticket, assignee=agent, actor=lead)
        raise RuntimeError("the request failed after the service")

    assert callbacks == []
    assert smtp_sink.deliveries == []


# --- preferences ---------------------------------------------------------------------------------------


def test_an_agent_switches_assignment_mail_off_on_the_preferences_page(client, smtp_sink, act, team, lead, agent):  # noqa: F811
    client.force_login(agent)
    page = client.get("/accounts/preferences/").content.decode()
    assert 'name="notify_on_assignment" id="id_notify_on_assignment" checked' in page
    assert 'name="notify_on_customer_reply" id="id_notify_on_customer_reply" checked' in page
    assert 'name="notify_on_sla" id="id_notify_on_sla" checked' in page

    response = client.post("/accounts/preferences/", {
        "display_name": "Ana Agent", "language": "", "timezone": "", "notify_on_customer_reply": "on"})

    assert response.status_code == 302
    agent.refresh_from_db()
    assert (agent.notify_on_assignment, agent.notify_on_customer_reply, agent.notify_on_sla) == (False, True, False)
    act(ticket_assign, ticket=make_ticket(team=team), assignee=agent, actor=lead)
    assert smtp_sink.deliveries == []


def test_customers_see_no_notification_choices(client):
    customer = make_customer()
    client.force_login(customer.user)

    page = client.get("/accounts/preferences/").content.decode()

    assert "notify_on_assignment" not in page
    assert "Email notifications" not in page
