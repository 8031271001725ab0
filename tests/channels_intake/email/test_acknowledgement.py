"""The acknowledgement a new ticket opened by email gets: mailed through a real SMTP sink as automatic
mail, in the customer's language, never to automatic mail, system senders or our own addresses,
at most HELPDESK_EMAIL_AUTO_REPLIES_PER_HOUR to one sender an hour, and shown in the agent's
timeline as an automatic message that is no agent's reply."""

from __future__ import annotations

import smtplib
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse

from channels_intake.email.acknowledgements import fill_placeholders, unknown_placeholders
from channels_intake.email.processing import raw_inbound_process
from channels_intake.email.smtp import IntakeController, IntakeHandler
from channels_intake.email.tokens import reply_address
from channels_intake.models import Door, RawInbound, RawInboundState, TeamEmailSettings
from channels_intake.services import raw_inbound_release, raw_inbound_store
from tests.channels_intake.helpers import SUPPORT_ADDRESS, build_mail, free_port
from tests.channels_intake.outbound.conftest import smtp_sink  # noqa: F401 - the real SMTP sink fixture
from tests.factories import make_agent, make_customer
from tickets.models import (
    ActorKind,
    AuthorKind,
    Channel,
    DeliveryState,
    Event,
    Message,
    Status,
    Ticket,
    Visibility,
)
from tickets.services import ticket_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(celery_eager, support_team, django_capture_on_commit_callbacks, smtp_sink):  # noqa: F811
    """Store a mail as the SMTP door does and run its processing and any delivery it queues."""

    def deliver(raw: bytes, *, recipients: tuple[str, ...] = (SUPPORT_ADDRESS,),
                envelope_sender: str = "ann@customer.example") -> RawInbound:
        with django_capture_on_commit_callbacks(execute=True):
            row = raw_inbound_store(
                raw=raw, door=Door.SMTP, envelope_sender=envelope_sender, envelope_recipients=recipients
            )
        row.refresh_from_db()
        return row

    return deliver


@pytest.fixture
def acknowledging(support_team):
    return TeamEmailSettings.objects.create(team=support_team, acknowledgement_enabled=True)


def sent(sink) -> list:
    """The mail that went to customers (agents' notifications, if any, go to staff addresses)."""
    return [delivery for delivery in sink.deliveries
            if not any(recipient.endswith("@staff.example") for recipient in delivery.recipients)]


def _texts(mail) -> tuple[str, str]:
    return (
        mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n"),
        mail.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n"),
    )


def test_a_new_ticket_by_email_is_acknowledged_as_automatic_mail(deliver, acknowledging, smtp_sink):  # noqa: F811
    row = deliver(build_mail(message_id="<new-1@customer.example>", subject="Printer on fire"))

    ticket = row.ticket
    [delivery] = sent(smtp_sink)
    mail = delivery.mail
    assert delivery.recipients == ["ann@customer.example"]
    assert delivery.sender == SUPPORT_ADDRESS
    assert mail["Subject"] == f"[#{ticket.number}] We have received your request: Printer on fire"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["In-Reply-To"] == "<new-1@customer.example>"
    assert mail["Reply-To"] == reply_address(SUPPORT_ADDRESS, ticket.pk)
    text, html = _texts(mail)
    assert f"opened ticket #{ticket.number}" in text
    assert "Hello Ann Customer," in text
    assert f"opened ticket #{ticket.number}" in html
    # Stored as the ticket's own public message, delivered, and no agent's reply.
    acknowledgement = Message.objects.get(author_kind=AuthorKind.SYSTEM)
    assert mail["Message-ID"] == f"<{acknowledgement.external_id}>"
    assert (acknowledgement.visibility, acknowledgement.channel, acknowledgement.delivery_state) == (
        Visibility.PUBLIC, Channel.EMAIL, DeliveryState.SENT
    )
    assert row.auto_reply == acknowledgement
    assert "Acknowledgement queued." in row.note
    ticket.refresh_from_db()
    assert (ticket.first_responded_at, ticket.last_agent_reply_at, ticket.status) == (None, None, Status.NEW)
    assert ticket.message_count == 2
    assert Event.objects.filter(ticket=ticket, kind="reply_added", actor_kind=ActorKind.SYSTEM,
                                to_value={"message": acknowledgement.pk}).exists()


def test_the_acknowledgement_shows_in_the_agent_timeline_as_automatic(deliver, acknowledging, support_team, client):
    row = deliver(build_mail())
    client.force_login(make_agent(support_team))

    page = client.get(reverse("agent:ticket", args=[row.ticket.number])).content.decode()

    acknowledgement = Message.objects.get(author_kind=AuthorKind.SYSTEM)
    article = page[page.index(f'id="message-{acknowledgement.pk}"'):]
    article = article[: article.index("</article>")]
    assert "data-automatic-message" in article and "Automatic reply" in article
    assert "opened ticket" in article


def test_the_acknowledgement_is_in_the_customers_language(deliver, acknowledging, smtp_sink):  # noqa: F811
    customer = make_customer(email="li@customer.example", name="李雷", with_login=False)
    customer.language = "zh-hans"
    customer.save(update_fields=["language"])

    row = deliver(build_mail(sender="李雷 <li@customer.example>", subject="打印机着火"),
                  envelope_sender="li@customer.example")

    [delivery] = sent(smtp_sink)
    text, html = _texts(delivery.mail)
    assert f"工单 #{row.ticket.number}。直接回复此邮件即可继续对话。" in text
    assert '<html lang="zh-hans">' in html
    assert "李雷" in text
    assert delivery.mail["Subject"].startswith(f"[#{row.ticket.number}] ")
    assert "打印机着火" in delivery.mail["Subject"]


@pytest.mark.parametrize(("subject", "body", "expected_subject", "language"), [
    ("打印机无法连接", "从今天早上开始打印机连不上，请帮忙看看这个问题。", "我们已收到您的请求", "zh-hans"),
    ("印表機無法連線", "從今天早上開始印表機連不上，請幫忙看看這個問題。", "我們已收到您的請求", "zh-hant"),
])
def test_a_first_time_chinese_writer_is_answered_in_their_script(
    deliver, acknowledging, smtp_sink, subject, body, expected_subject, language,  # noqa: F811
):
    row = deliver(build_mail(sender="王芳 <wang@customer.example>", subject=subject, body=body),
                  envelope_sender="wang@customer.example")

    [delivery] = sent(smtp_sink)
    assert expected_subject in str(delivery.mail["Subject"])
    assert row.ticket.requester.language == language


def test_an_english_mail_signed_with_a_chinese_name_keeps_the_default_language(deliver, acknowledging, smtp_sink):  # noqa: F811
    row = deliver(build_mail(sender="王芳 <wang@customer.example>", subject="Printer offline",
                             body="Since this morning the printer is offline.\n\n王芳"),
                  envelope_sender="wang@customer.example")

    [delivery] = sent(smtp_sink)
    assert "We have received your request" in str(delivery.mail["Subject"])
    assert row.ticket.requester.language == ""


def test_a_team_text_fills_its_placeholders_and_nothing_else(deliver, acknowledging, smtp_sink, settings):  # noqa: F811
    acknowledging.acknowledgement_subject = "Got it: {subject} ({ticket_number})"
    acknowledging.acknowledgement_text = (
        "Dear {customer_name},\n\n{team_name} has ticket {ticket_number} about “{subject}”.\n"
        "{ticket.__class__} {{ settings.SECRET_KEY }} {% debug %} {unknown}"
    )
    acknowledging.save()

    row = deliver(build_mail(sender="Ann <b>Bold</b> <ann@customer.example>",
                             subject="<script>alert(1)</script> help"))

    number = row.ticket.number
    mail = sent(smtp_sink)[0].mail
    assert mail["Subject"] == f"[#{number}] Got it: <script>alert(1)</script> help ({number})"
    text, html = _texts(mail)
    assert f"Support has ticket {number} about “<script>alert(1)</script> help”." in text
    assert "{ticket.__class__} {{ settings.SECRET_KEY }} {% debug %} {unknown}" in text
    assert settings.SECRET_KEY not in text and settings.SECRET_KEY not in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; help" in html


def test_placeholders_are_replaced_by_plain_substitution():
    values = {"ticket_number": "7", "subject": "{customer_name}", "customer_name": "Ann", "team_name": "T"}

    assert fill_placeholders("#{ticket_number}: {subject} {nope} {0} {}", values) == "#7: {customer_name} {nope} {0} {}"
    assert unknown_placeholders("{ticket_number} {ticket.pk} {nope} {nope}") == ["nope"]


def test_a_reply_to_an_open_ticket_gets_no_acknowledgement(deliver, acknowledging, smtp_sink):  # noqa: F811
    deliver(build_mail(message_id="<thread@customer.example>"))
    smtp_sink.deliveries.clear()

    reply = deliver(build_mail(body="More detail", in_reply_to="<thread@customer.example>"))

    assert reply.state == RawInboundState.PROCESSED and reply.auto_reply is None
    assert sent(smtp_sink) == []
    assert Message.objects.filter(author_kind=AuthorKind.SYSTEM).count() == 1


def test_a_follow_up_of_a_closed_ticket_is_acknowledged_with_its_new_number(
    deliver, acknowledging, smtp_sink, support_team  # noqa: F811
):
    first = deliver(build_mail(message_id="<closed@customer.example>"))
    agent = make_agent(support_team)
    ticket_update(ticket=first.ticket, actor=agent, status=Status.SOLVED)
    ticket_update(ticket=first.ticket, actor=agent, status=Status.CLOSED)
    smtp_sink.deliveries.clear()

    reply = deliver(build_mail(body="It is back", in_reply_to="<closed@customer.example>"))

    assert reply.ticket != first.ticket
    [delivery] = sent(smtp_sink)
    assert f"[#{reply.ticket.number}]" in delivery.mail["Subject"]


def test_no_acknowledgement_unless_the_team_switched_it_on(deliver, support_team, smtp_sink):  # noqa: F811
    TeamEmailSettings.objects.create(team=support_team, acknowledgement_enabled=False)

    row = deliver(build_mail())

    assert row.ticket is not None
    assert sent(smtp_sink) == []
    assert not Message.objects.filter(author_kind=AuthorKind.SYSTEM).exists()


@pytest.mark.parametrize(
    "headers",
    [{"Auto-Submitted": "auto-replied"}, {"Auto-Submitted": "auto-generated"}, {"Precedence": "bulk"},
     {"List-Id": "<news.customer.example>"}, {"X-Autoreply": "yes"}, {"Return-Path": "<>"}],
)
def test_automatic_mail_gets_a_ticket_but_no_acknowledgement(deliver, acknowledging, smtp_sink, headers):  # noqa: F811
    row = deliver(build_mail(headers=headers))

    assert row.state == RawInboundState.PROCESSED and row.ticket is not None
    assert row.is_auto_submitted
    assert sent(smtp_sink) == []
    assert not Message.objects.filter(author_kind=AuthorKind.SYSTEM).exists()
    assert "No acknowledgement: automatic mail" in row.note


def test_no_acknowledgement_to_a_null_envelope_sender(deliver, acknowledging, smtp_sink):  # noqa: F811
    row = deliver(build_mail(), envelope_sender="")

    assert row.ticket is not None
    assert sent(smtp_sink) == []
    assert "null envelope sender" in row.note


def test_no_acknowledgement_to_our_own_address_even_when_an_admin_releases_it(
    deliver, acknowledging, smtp_sink, django_capture_on_commit_callbacks  # noqa: F811
):
    row = deliver(build_mail(sender=f"Support <{SUPPORT_ADDRESS}>"), envelope_sender=SUPPORT_ADDRESS)
    assert row.state == RawInboundState.SUSPENDED

    with django_capture_on_commit_callbacks(execute=True):
        raw_inbound_release(raw_inbound_id=row.pk, actor=None)
    row.refresh_from_db()

    assert row.state == RawInboundState.PROCESSED and row.ticket is not None
    assert sent(smtp_sink) == []
    assert "one of our own addresses" in row.note


def test_at_most_five_acknowledgements_a_sender_an_hour(deliver, acknowledging, smtp_sink):  # noqa: F811
    rows = [deliver(build_mail(subject=f"Question {n}")) for n in range(6)]

    assert Ticket.objects.count() == 6
    assert len(sent(smtp_sink)) == 5
    assert [row.auto_reply is not None for row in rows] == [True] * 5 + [False]
    assert "5 automatic replies to ann@customer.example in the last hour" in rows[5].note
    # Another sender is not held back by Ann's count.
    deliver(build_mail(sender="bob@customer.example", subject="Mine"), envelope_sender="bob@customer.example")
    assert sent(smtp_sink)[-1].recipients == ["bob@customer.example"]

    # An hour later Ann is acknowledged again.
    RawInbound.objects.update(processed_at=RawInbound.objects.earliest("pk").processed_at - timedelta(hours=1, seconds=1))
    deliver(build_mail(sender="ANN@customer.example", subject="Later"))
    assert len(sent(smtp_sink)) == 7


def test_the_hourly_limit_is_a_setting(deliver, acknowledging, smtp_sink, settings):  # noqa: F811
    settings.HELPDESK_EMAIL_AUTO_REPLIES_PER_HOUR = 1

    deliver(build_mail(subject="one"))
    deliver(build_mail(subject="two"))

    assert len(sent(smtp_sink)) == 1


@pytest.mark.django_db(transaction=True)
def test_mail_over_the_real_smtp_listener_is_acknowledged(celery_eager, support_team, smtp_sink):  # noqa: F811
    TeamEmailSettings.objects.create(team=support_team, acknowledgement_enabled=True)
    handler = IntakeHandler(max_workers=2)
    port = free_port()
    controller = IntakeController(handler, host="127.0.0.1", port=port)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail("ann@customer.example", [SUPPORT_ADDRESS], build_mail(subject="Over SMTP"))
            client.sendmail("ann@customer.example", [SUPPORT_ADDRESS],
                            build_mail(subject="Out of office", headers={"Auto-Submitted": "auto-replied"}))
    finally:
        controller.stop()
        handler.close()

    assert Ticket.objects.count() == 2
    [delivery] = sent(smtp_sink)
    assert "Over SMTP" in delivery.mail["Subject"]
    assert delivery.mail["Auto-Submitted"] == "auto-replied"


@pytest.mark.parametrize("sender", ["postmaster@customer.example", "MAILER-DAEMON@customer.example"])
def test_no_acknowledgement_to_a_system_sender(deliver, acknowledging, smtp_sink, sender):  # noqa: F811
    row = deliver(build_mail(sender=sender, subject="Your account summary"), envelope_sender=sender)

    assert row.ticket is not None
    assert sent(smtp_sink) == []
    assert "No acknowledgement: automatic mail (System sender" in row.note


@pytest.mark.django_db(transaction=True)
def test_workers_in_parallel_never_send_more_than_the_hourly_limit(celery_eager, support_team, smtp_sink):  # noqa: F811
    TeamEmailSettings.objects.create(team=support_team, acknowledgement_enabled=True)
    # Stored directly (no processing queued), then processed by eight workers at once.
    rows = [
        RawInbound.objects.create(door=Door.SMTP, raw=raw, size=len(raw), sha256=str(n),
                                  envelope_sender="ann@customer.example", envelope_recipients=[SUPPORT_ADDRESS])
        for n, raw in enumerate(build_mail(subject=f"Parallel {n}") for n in range(8))
    ]
    start = threading.Barrier(len(rows))

    def work(row_id: int) -> None:
        try:
            start.wait()
            raw_inbound_process(raw_inbound_id=row_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(row.pk,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert Ticket.objects.count() == 8
    assert RawInbound.objects.filter(auto_reply__isnull=False).count() == 5
    assert len(sent(smtp_sink)) == 5


@pytest.mark.parametrize(
    ("sender", "headers", "why"),
    [("noreply@shop.example", {}, "takes no replies"), ("No-Reply+orders@shop.example", {}, "takes no replies"),
     ("do-not-reply@shop.example", {}, "takes no replies"),
     ("ann@customer.example", {"X-Loop": "helpdesk@other.example"}, "X-Loop present"),
     ("ann@customer.example", {"X-Zammad-Loop": "1"}, "X-Zammad-Loop present"),
     ("ann@customer.example", {"List-Unsubscribe": "<https://shop.example/u>"}, "List-Unsubscribe present")],
)
def test_no_acknowledgement_to_no_reply_senders_or_other_systems_mail(
    deliver, acknowledging, smtp_sink, sender, headers, why  # noqa: F811
):
    row = deliver(build_mail(sender=sender, headers=headers), envelope_sender=sender)

    assert row.ticket is not None
    assert sent(smtp_sink) == []
    assert "No acknowledgement: " in row.note and why in row.note


def test_a_person_whose_name_merely_starts_with_no_is_acknowledged(deliver, acknowledging, smtp_sink):  # noqa: F811
    deliver(build_mail(sender="noreen@customer.example"), envelope_sender="noreen@customer.example")

    assert [delivery.recipients for delivery in sent(smtp_sink)] == [["noreen@customer.example"]]
