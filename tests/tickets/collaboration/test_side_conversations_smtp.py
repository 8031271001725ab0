"""A side conversation end to end over real sockets: our mail leaves through the SMTP backend to a
sink, the supplier's answer comes in through the SMTP intake listener (its RCPT check included)."""

from __future__ import annotations

import smtplib

import pytest

from channels_intake.email.smtp import IntakeController, IntakeHandler
from channels_intake.models import RawInbound, RawInboundState
from tests.channels_intake.helpers import build_mail, free_port
from tests.channels_intake.outbound.conftest import celery_eager_retrying, smtp_sink  # noqa: F401 - fixtures
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.collaboration.side_conversations import side_conversation_start
from tickets.models import SideConversationMessage, Ticket

pytestmark = pytest.mark.django_db(transaction=True)
MAILBOX = "desk@example.com"
SUPPLIER = "parts@supplier.example"


@pytest.fixture
def listener(celery_eager):
    handler = IntakeHandler(max_workers=2)
    port = free_port()
    controller = IntakeController(handler, host="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()
    handler.close()


def test_an_answer_over_smtp_lands_in_the_side_conversation_and_nowhere_else(
    smtp_sink, celery_eager_retrying, listener  # noqa: F811 - the imported fixtures
):
    desk = make_team("Desk", slug="desk", email_addresses=[MAILBOX])
    agent = make_agent(desk, username="sam", display_name="Sam Agent")
    requester = make_customer(email="ann@customer.example", name="Ann")
    ticket = make_ticket(team=desk, requester=requester, subject="Printer on fire")
    conversation = side_conversation_start(ticket=ticket, actor=agent, participants=SUPPLIER, subject="Fuser?",
                                           body_text="Do you have one in stock?")
    [ours] = [delivery.mail for delivery in smtp_sink.deliveries if delivery.recipients == [SUPPLIER]]
    reply_to = str(ours["Reply-To"])
    assert reply_to == f"desk+sc-{conversation.token}@example.com"

    answer = build_mail(sender=f"Parts Desk <{SUPPLIER}>", to=reply_to, subject="Re: Fuser?",
                        body="Yes, one left.", message_id="<smtp-answer@supplier.example>",
                        in_reply_to=str(ours["Message-ID"]))
    with smtplib.SMTP("127.0.0.1", listener, timeout=30) as client:
        refused = client.sendmail(SUPPLIER, [reply_to], answer)
        # A made-up side-conversation address is refused at RCPT like a bad reply token.
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail(SUPPLIER, ["desk+sc-notatoken@example.com"], answer)

    assert refused == {}
    row = RawInbound.objects.get()
    assert row.state == RawInboundState.PROCESSED
    stored = SideConversationMessage.objects.get(direction="inbound")
    assert (stored.conversation_id, stored.from_email, stored.body_text) == (conversation.pk, SUPPLIER,
                                                                             "Yes, one left.")
    assert Ticket.objects.count() == 1
    assert ticket.messages.count() == 1
    assert all(requester.email not in delivery.recipients for delivery in smtp_sink.deliveries)
