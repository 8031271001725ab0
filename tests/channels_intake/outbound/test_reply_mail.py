"""Agents' public replies reach the requester by email: through a real SMTP sink on loopback, with
the headers that thread the customer's answer back, never an internal note, never a header
injected, retried while the server says "later", and never sent for a reply that was rolled back."""

from __future__ import annotations

import pytest
from django.db import transaction

from channels_intake.email.tokens import reply_address
from channels_intake.models import Door, RawInboundState
from channels_intake.services import raw_inbound_store
from channels_intake.tasks import deliver_message_email, retry_countdown
from tests.channels_intake.helpers import SUPPORT_ADDRESS, build_mail
from tests.factories import make_agent, make_customer, make_ticket
from tickets.models import Channel, DeliveryState, Event, Message, Ticket
from tickets.services import IncomingFile, ticket_add_note, ticket_reply

pytestmark = pytest.mark.django_db

NOTE = "Internal: this customer owes us 300 dollars"


@pytest.fixture
def deliver_inbound(celery_eager, support_team, django_capture_on_commit_callbacks):
    """Deliver raw mail as the SMTP listener does and run its processing."""

    def deliver(raw: bytes, *, recipients: tuple[str, ...] = (SUPPORT_ADDRESS,)):
        with django_capture_on_commit_callbacks(execute=True):
            row = raw_inbound_store(
                raw=raw, door=Door.SMTP, envelope_sender="ann@customer.example", envelope_recipients=recipients
            )
        row.refresh_from_db()
        return row

    return deliver


@pytest.fixture
def agent(support_team):
    return make_agent(support_team, display_name="Ana Agent")


@pytest.fixture
def reply(celery_eager_retrying, django_capture_on_commit_callbacks):
    """An agent's public reply, its on-commit delivery run; returns the message as it ended."""

    def reply(ticket: Ticket, agent, text: str = "Please restart the printer.", **kwargs) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            message = ticket_reply(ticket=ticket, actor=agent, body_text=text, **kwargs)
        message.refresh_from_db()
        return message

    return reply


def _texts(mail) -> tuple[str, str]:
    return (
        mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n"),
        mail.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n"),
    )


def test_agent_reply_to_an_email_ticket_is_mailed_with_the_headers_that_thread_it(
    smtp_sink, deliver_inbound, agent, reply
):
    row = deliver_inbound(build_mail(message_id="<first@customer.example>", body="My printer is on fire."))
    ticket = row.ticket
    ticket_add_note(ticket=ticket, actor=agent, body_text=NOTE)

    message = reply(
        ticket, agent,
        files=[IncomingFile(name="steps.pdf", content_type="application/pdf", content=b"%PDF-1.4 steps")],
    )

    assert message.delivery_state == DeliveryState.SENT
    assert message.channel == Channel.EMAIL
    [delivery] = smtp_sink.deliveries
    assert delivery.recipients == ["ann@customer.example"]
    assert delivery.sender == SUPPORT_ADDRESS
    mail = delivery.mail
    assert mail["Message-ID"] == f"<{message.external_id}>"
    assert message.external_id.endswith("@example.com")
    assert mail["In-Reply-To"] == "<first@customer.example>"
    assert mail["References"] == "<first@customer.example>"
    assert mail["Reply-To"] == reply_address(SUPPORT_ADDRESS, ticket.pk)
    assert mail["Subject"] == f"Re: [#{ticket.number}] Printer on fire"
    assert mail["From"] == '"Ana Agent (Support)" <support@example.com>'
    assert mail["To"] == "Ann Customer <ann@customer.example>"
    assert mail["Auto-Submitted"] is None  # a person wrote it: the customer's autoresponder may answer
    text, html = _texts(mail)
    assert text.startswith("Please restart the printer.\n")
    assert "> My printer is on fire." in text  # the recent thread, quoted
    assert f"Ticket #{ticket.number}" in text
    assert "Please restart the printer." in html and "My printer is on fire." in html
    [attachment] = list(mail.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content_type()) == ("steps.pdf", "application/pdf")
    assert attachment.get_content() == b"%PDF-1.4 steps"
    # The note is in no part of the mail, encoded or not.
    assert b"owes us" not in delivery.raw
    assert "owes us" not in text + html


def test_the_customers_answer_to_the_mailed_reply_threads_back_to_the_ticket(
    smtp_sink, deliver_inbound, agent, reply
):
    ticket = deliver_inbound(build_mail(message_id="<first@customer.example>")).ticket
    reply(ticket, agent)
    sent = smtp_sink.deliveries[0].mail

    # Only References point at our mail: no tag in the subject, sent to the plain team address.
    answer = deliver_inbound(build_mail(
        subject="Still burning", body="It did not help.", message_id="<answer@customer.example>",
        references=f"<first@customer.example> {sent['Message-ID']}",
    ))

    assert answer.state == RawInboundState.PROCESSED
    assert answer.ticket == ticket
    assert Ticket.objects.count() == 1
    assert list(ticket.messages.order_by("pk").values_list("body_text", flat=True))[-1] == "It did not help."


def test_a_reply_on_a_web_ticket_is_mailed_and_the_answer_to_its_reply_to_address_threads_back(
    smtp_sink, deliver_inbound, support_team, agent, reply
):
    ticket = make_ticket(requester=make_customer(email="ann@customer.example", name="Ann"), team=support_team)

    message = reply(ticket, agent)

    assert (message.channel, message.delivery_state) == (Channel.WEB, DeliveryState.SENT)
    sent = smtp_sink.deliveries[0].mail
    assert sent["In-Reply-To"] is None and sent["References"] is None
    answer = deliver_inbound(
        build_mail(to=sent["Reply-To"], subject="Thanks", body="Works now.", message_id="<thanks@customer.example>"),
        recipients=(str(sent["Reply-To"]),),
    )
    assert answer.state == RawInboundState.PROCESSED
    assert answer.ticket == ticket
    assert Ticket.objects.count() == 1


def test_a_bounce_of_the_mailed_reply_marks_it_bounced_on_its_ticket(smtp_sink, deliver_inbound, agent, reply):
    from tests.channels_intake.email.test_processing import dsn_for

    ticket = deliver_inbound(build_mail(message_id="<first@customer.example>")).ticket
    message = reply(ticket, agent)
    sent_id = smtp_sink.deliveries[0].mail["Message-ID"].strip("<>")

    report = deliver_inbound(dsn_for(sent_id, "ann@customer.example"))

    message.refresh_from_db()
    assert message.delivery_state == DeliveryState.BOUNCED
    assert (report.ticket, report.message) == (ticket, message)
    assert Ticket.objects.count() == 1


def test_a_second_reply_answers_the_customers_latest_mail_and_references_the_whole_thread(
    smtp_sink, deliver_inbound, agent, reply
):
    ticket = deliver_inbound(build_mail(message_id="<first@customer.example>")).ticket
    first = reply(ticket, agent)
    deliver_inbound(build_mail(message_id="<second@customer.example>", in_reply_to=f"<{first.external_id}>"))

    second = reply(ticket, agent, text="Try the other tray.")

    # (The agent also got a notification of the customer's second mail: tickets.notifications.)
    mail = [d for d in smtp_sink.deliveries if d.recipients == ["ann@customer.example"]][1].mail
    assert mail["In-Reply-To"] == "<second@customer.example>"
    assert mail["References"] == f"<first@customer.example> <{first.external_id}> <second@customer.example>"
    assert mail["Message-ID"] == f"<{second.external_id}>"
    assert first.external_id != second.external_id


def test_chinese_subject_and_names_are_encoded_and_read_back_intact(smtp_sink, support_team, reply):
    customer = make_customer(email="zhang@customer.example", name="张三")
    ticket = make_ticket(requester=customer, team=support_team, subject="打印机着火了，怎么办？")
    agent = make_agent(support_team, display_name="李客服")

    reply(ticket, agent, text="请先关闭电源。")

    delivery = smtp_sink.deliveries[0]
    header_block = delivery.raw.split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()  # RFC 2047 encoded words, no raw 8-bit headers
    mail = delivery.mail
    assert mail["Subject"] == f"Re: [#{ticket.number}] 打印机着火了，怎么办？"
    assert mail["To"].addresses[0].display_name == "张三"
    assert mail["From"].addresses[0].display_name == "李客服 (Support)"
    assert _texts(mail)[0].startswith("请先关闭电源。")


def test_the_mail_is_written_in_the_customers_language(smtp_sink, support_team, reply):
    customer = make_customer(email="zhang@customer.example", name="张三")
    customer.language = "zh-hans"
    customer.save(update_fields=["language"])
    ticket = make_ticket(requester=customer, team=support_team, body="打印机坏了。")
    agent = make_agent(support_team, display_name="李客服")

    reply(ticket, agent, text="请先关闭电源。")

    text, html = _texts(smtp_sink.deliveries[0].mail)
    assert f"工单 #{ticket.number}。直接回复此邮件即可继续对话。" in text
    assert "张三 于 " in text and "> 打印机坏了。" in text
    assert '<html lang="zh-hans">' in html


def test_cr_lf_in_subject_and_names_cannot_inject_headers(smtp_sink, support_team, reply):
    customer = make_customer(email="ann@customer.example", name="Ann\r\nBcc: victim@evil.example")
    ticket = make_ticket(requester=customer, team=support_team)
    Ticket.objects.filter(pk=ticket.pk).update(subject="Help\r\nBcc: victim@evil.example\nX-Injected: yes")
    ticket.refresh_from_db()
    agent = make_agent(support_team, display_name="Ana\nX-Injected: yes")

    message = reply(ticket, agent)

    assert message.delivery_state == DeliveryState.SENT
    [delivery] = smtp_sink.deliveries
    assert delivery.recipients == ["ann@customer.example"]
    mail = delivery.mail
    assert mail["Bcc"] is None and mail["X-Injected"] is None
    assert mail["Subject"] == f"Re: [#{ticket.number}] Help Bcc: victim@evil.example X-Injected: yes"
    assert mail["To"].addresses[0].display_name == "Ann Bcc: victim@evil.example"
    assert mail["From"].addresses[0].display_name == "Ana X-Injected: yes (Support)"


def test_a_server_that_says_later_is_tried_again_until_it_takes_the_mail(smtp_sink, support_team, agent, reply, settings):
    settings.HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES = 5
    smtp_sink.refuse_first = 2
    smtp_sink.refuse_with = "451 4.3.0 Try again later"
    ticket = make_ticket(requester=make_customer(email="ann@customer.example"), team=support_team)

    message = reply(ticket, agent)

    assert smtp_sink.attempts == 3
    assert len(smtp_sink.deliveries) == 1
    assert message.delivery_state == DeliveryState.SENT


def test_retries_spent_leave_the_message_failed_with_an_audit_event(smtp_sink, support_team, agent, reply, settings):
    settings.HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES = 2
    smtp_sink.refuse_with = "451 4.3.0 Try again later"
    ticket = make_ticket(requester=make_customer(email="ann@customer.example"), team=support_team)

    message = reply(ticket, agent)

    assert smtp_sink.attempts == 3  # the first try and two retries
    assert smtp_sink.deliveries == []
    assert message.delivery_state == DeliveryState.FAILED
    event = Event.objects.get(ticket=ticket, field="delivery_state")
    assert event.to_value["message"] == message.pk
    assert event.to_value["state"] == DeliveryState.FAILED
    assert "451" in event.to_value["error"]


def test_a_permanent_refusal_fails_at_once(smtp_sink, support_team, agent, reply, settings):
    settings.HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES = 5
    smtp_sink.refuse_with = "554 5.7.1 Message rejected"
    ticket = make_ticket(requester=make_customer(email="ann@customer.example"), team=support_team)

    message = reply(ticket, agent)

    assert smtp_sink.attempts == 1
    assert message.delivery_state == DeliveryState.FAILED


def test_no_server_at_all_is_retried_then_failed(support_team, agent, reply, settings):
    from tests.channels_intake.helpers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5
    settings.HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES = 1
    ticket = make_ticket(requester=make_customer(email="ann@customer.example"), team=support_team)

    message = reply(ticket, agent)

    assert message.delivery_state == DeliveryState.FAILED
    assert "ConnectionRefusedError" in Event.objects.get(ticket=ticket, field="delivery_state").to_value["error"]


def test_back_off_doubles_up_to_its_ceiling(settings):
    settings.HELPDESK_EMAIL_OUTBOUND_RETRY_SECONDS = 30
    settings.HELPDESK_EMAIL_OUTBOUND_RETRY_MAX_SECONDS = 600

    assert [retry_countdown(retries) for retries in range(7)] == [30, 60, 120, 240, 480, 600, 600]


def test_a_reply_rolled_back_with_its_transaction_sends_nothing(
    smtp_sink, support_team, agent, celery_eager, django_capture_on_commit_callbacks
):
    ticket = make_ticket(requester=make_customer(email="ann@customer.example"), team=support_team)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        ticket_reply(ticket=ticket, actor=agent, body_text="Never mind.")
        raise RuntimeError("the view failed after the reply")

    assert callbacks == []
    assert smtp_sink.attempts == 0
    assert not Message.objects.filter(body_text="Never mind.").exists()


def test_delivering_again_sends_nothing_more(smtp_sink, support_team, agent, reply):
    ticket = make_ticket(requester=make_customer(email="ann@customer.example"), team=support_team)
    message = reply(ticket, agent)

    assert deliver_message_email.delay(message.pk).get() == "NOTHING_TO_DO"

    assert len(smtp_sink.deliveries) == 1


def test_notes_customer_messages_and_chat_tickets_are_not_mailed(smtp_sink, support_team, agent, reply):
    customer = make_customer(email="ann@customer.example")
    ticket = make_ticket(requester=customer, team=support_team)
    chat_ticket = make_ticket(requester=customer, team=support_team, channel=Channel.CHAT)

    note = ticket_add_note(ticket=ticket, actor=agent, body_text=NOTE)
    own = reply(ticket, customer.user, text="Any news?")
    on_chat = reply(chat_ticket, agent)

    # The only mail is the agent's notification of the customer's message (tickets.notifications).
    assert [d.recipients for d in smtp_sink.deliveries] == [[agent.email]]
    assert [note.delivery_state, own.delivery_state, on_chat.delivery_state] == ["", "", ""]
    assert on_chat.channel == Channel.WEB


def test_a_requester_without_an_address_gets_no_mail(smtp_sink, support_team, agent, reply):
    ticket = make_ticket(requester=make_customer(with_login=False, email="x@customer.example"), team=support_team)
    ticket.requester.email = ""
    ticket.requester.save(update_fields=["email"])

    message = reply(ticket, agent)

    assert message.delivery_state == ""
    assert smtp_sink.attempts == 0


def test_a_reply_whose_task_was_lost_is_sent_by_the_sweep_once_its_retries_would_be_over(
    smtp_sink, support_team, agent, celery_eager_retrying, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from channels_intake.tasks import requeue_undelivered, undelivered_cutoff_seconds

    settings.HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES = 3
    settings.HELPDESK_EMAIL_OUTBOUND_RETRY_SECONDS = 30
    assert undelivered_cutoff_seconds() == 30 + 60 + 120 + 600
    ticket = make_ticket(requester=make_customer(email="ann@customer.example"), team=support_team)
    # Written while the broker was away: stored `queued`, its on-commit task never queued.
    lost = ticket_reply(ticket=ticket, actor=agent, body_text="Lost")
    recent = ticket_reply(ticket=ticket, actor=agent, body_text="Still retrying")
    Message.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(seconds=811))
    Message.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(seconds=790))

    assert requeue_undelivered() == 1

    lost.refresh_from_db()
    recent.refresh_from_db()
    assert (lost.delivery_state, recent.delivery_state) == (DeliveryState.SENT, DeliveryState.QUEUED)
    [delivery] = smtp_sink.deliveries
    assert "Lost" in delivery.mail.get_body(preferencelist=("plain",)).get_content()


def test_only_automatic_mail_is_marked_auto_submitted(support_team, agent):
    from channels_intake.email.outbound import build_reply_email

    ticket = make_ticket(requester=make_customer(email="ann@customer.example"), team=support_team)
    message = ticket_reply(ticket=ticket, actor=agent, body_text="Hello")

    automatic = build_reply_email(message, automatic=True).message()
    written = build_reply_email(message).message()

    assert (automatic["Auto-Submitted"], automatic["X-Auto-Response-Suppress"]) == ("auto-replied", "All")
    assert (written["Auto-Submitted"], written["X-Auto-Response-Suppress"]) == (None, None)
