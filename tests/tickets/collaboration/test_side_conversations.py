"""Side conversations by email: an agent writes a third party from a ticket; the answers come back
through the real intake into the conversation, never into the requester's thread."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from channels_intake.email.processing import raw_inbound_process
from channels_intake.models import Door, RawInbound, RawInboundState
from channels_intake.services import raw_inbound_store
from helpdesk import realtime
from tests.channels_intake.helpers import build_mail
from tests.channels_intake.outbound.conftest import celery_eager_retrying, smtp_sink  # noqa: F401 - fixtures
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tests.realtime_helpers import events_during
from tickets.collaboration.side_conversation_tasks import side_conversation_message_send
from tickets.collaboration.side_conversations import (
    side_conversation_close,
    side_conversation_message_deliver,
    side_conversation_reopen,
    side_conversation_reply,
    side_conversation_start,
)
from tickets.models import (
    DeliveryState,
    Event,
    Message,
    SideConversation,
    SideConversationMessage,
    SideConversationState,
    Status,
    Ticket,
)

pytestmark = pytest.mark.django_db
MAILBOX = "desk@example.com"
SUPPLIER = "parts@supplier.example"


@pytest.fixture
def desk():
    return make_team("Desk", slug="desk", email_addresses=[MAILBOX])


@pytest.fixture
def agent(desk):
    return make_agent(desk, username="sam", display_name="Sam Agent")


@pytest.fixture
def requester():
    return make_customer(email="ann@customer.example", name="Ann")


@pytest.fixture
def ticket(desk, requester):
    return make_ticket(team=desk, requester=requester, subject="Printer on fire", body="Smoke since this morning.")


@pytest.fixture
def sink(smtp_sink, celery_eager_retrying, settings):  # noqa: F811 - the imported fixtures
    settings.HELPDESK_EMAIL_OUTBOUND_RETRY_SECONDS = 0
    return smtp_sink


@pytest.fixture
def start(agent, ticket, django_capture_on_commit_callbacks):
    """Start a conversation as a request does (its mail task runs on commit)."""

    def start(**kwargs):
        arguments = {"ticket": ticket, "actor": agent, "participants": f"Parts Desk <{SUPPLIER}>",
                     "subject": "Spare fuser for model X?", "body_text": "Do you have a fuser in stock?", **kwargs}
        with django_capture_on_commit_callbacks(execute=True):
            return side_conversation_start(**arguments)

    return start


@pytest.fixture
def deliver(celery_eager, django_capture_on_commit_callbacks):
    """Store a mail as the SMTP door does and run its processing task; returns the row as it ended."""

    def deliver(raw: bytes, *, recipients: tuple[str, ...] = (MAILBOX,)) -> RawInbound:
        with django_capture_on_commit_callbacks(execute=True):
            row = raw_inbound_store(raw=raw, door=Door.SMTP, envelope_sender=SUPPLIER, envelope_recipients=recipients)
        row.refresh_from_db()
        return row

    return deliver


def supplier_answer(mail, *, body: str = "Yes, shipping one today.", message_id: str = "<answer-1@supplier.example>",
                    to: str | None = None, in_reply_to: bool = True) -> bytes:
    """The supplier's mail client answering `mail` (ours): to its Reply-To, threaded on its Message-ID."""
    return build_mail(
        sender=f"Parts Desk <{SUPPLIER}>", to=to or str(mail["Reply-To"]), subject=f"Re: {mail['Subject']}",
        body=f"{body}\n\nOn Monday, Sam Agent wrote:\n> Do you have a fuser in stock?",
        message_id=message_id,
        in_reply_to=str(mail["Message-ID"]) if in_reply_to else None,
        references=str(mail["Message-ID"]) if in_reply_to else None,
    )


# --- starting and writing ---------------------------------------------------------------------------


def test_starting_mails_the_participants_from_the_team_mailbox_with_the_conversation_reply_address(
    sink, start, ticket, agent
):
    Message.objects.filter(ticket=ticket).update(body_text="Smoke since this morning.")
    conversation = start(participants=f"Parts Desk <{SUPPLIER}>; Ops@Supplier.example", quote_latest_public=True)

    message = conversation.messages.get()
    assert (message.direction, message.delivery_state, message.author_user) == ("outbound", "sent", agent)
    [delivery] = sink.deliveries
    mail = delivery.mail
    assert delivery.recipients == [SUPPLIER, "ops@supplier.example"]
    assert delivery.sender == MAILBOX
    assert str(mail["From"]) == f'"Sam Agent (Desk)" <{MAILBOX}>'
    assert str(mail["To"]) == f"{SUPPLIER}, ops@supplier.example"
    assert str(mail["Reply-To"]) == f"desk+sc-{conversation.token}@example.com"
    assert str(mail["Message-ID"]) == f"<{message.message_id}>"
    assert message.message_id.startswith(f"sc-{conversation.token}.") and message.message_id.endswith("@example.com")
    assert str(mail["Subject"]) == "Spare fuser for model X?"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Do you have a fuser in stock?" in text
    assert "> Smoke since this morning." in text  # the ticket's latest public message, quoted on request
    assert conversation.participants == [SUPPLIER, "ops@supplier.example"]
    assert len(conversation.token) == 24
    event = Event.objects.get(ticket=ticket, kind="side_conversation_started")
    assert event.to_value == {"conversation": conversation.pk, "subject": "Spare fuser for model X?",
                              "participants": [SUPPLIER, "ops@supplier.example"]}
    assert event.actor_user == agent


def test_the_requester_gets_nothing_and_the_ticket_thread_is_untouched(sink, start, ticket, requester):
    before = list(ticket.messages.values_list("pk", flat=True))

    start()

    assert all(requester.email not in delivery.recipients for delivery in sink.deliveries)
    assert list(ticket.messages.values_list("pk", flat=True)) == before
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_an_agent_reply_threads_on_the_earlier_messages_and_reopens_a_closed_conversation(
    sink, start, agent, django_capture_on_commit_callbacks
):
    conversation = start()
    first = conversation.messages.get()
    side_conversation_close(conversation=conversation, actor=agent)

    with django_capture_on_commit_callbacks(execute=True):
        reply = side_conversation_reply(conversation=conversation, actor=agent, body_text="Any news?")

    conversation.refresh_from_db()
    assert conversation.state == SideConversationState.OPEN
    mail = sink.deliveries[-1].mail
    assert str(mail["Subject"]) == "Re: Spare fuser for model X?"
    assert str(mail["In-Reply-To"]) == f"<{first.message_id}>"
    assert str(mail["References"]) == f"<{first.message_id}>"
    assert str(mail["Message-ID"]) == f"<{reply.message_id}>"
    kinds = list(Event.objects.filter(ticket=conversation.ticket).order_by("pk").values_list("kind", flat=True))
    assert kinds[-4:] == ["side_conversation_started", "side_conversation_closed", "side_conversation_reopened",
                          "side_conversation_sent"]


@pytest.mark.parametrize(
    ("participants", "expected"),
    [
        ("not-an-address", "Not a valid email address: not-an-address"),
        (f"{SUPPLIER}, bob@", "Not a valid email address: bob@"),
        ("", "Add the email address of at least one participant."),
        ("Ann <ann@customer.example>", "The requester (ann@customer.example) cannot take part in a side conversation"),
        (f"{MAILBOX}", "This helpdesk's own address cannot take part: desk@example.com"),
        (f"desk+sc-{'a' * 24}@example.com", "This helpdesk's own address cannot take part"),
        (", ".join(f"p{n}@supplier.example" for n in range(11)), "at most 10 participants"),
    ],
)
def test_bad_participants_are_refused_with_a_clear_error_and_nothing_is_stored_or_sent(
    sink, start, ticket, participants, expected
):
    with pytest.raises(ValidationError) as refused:
        start(participants=participants)

    assert any(expected in text for text in refused.value.message_dict["participants"])
    assert not SideConversation.objects.exists()
    assert not SideConversationMessage.objects.exists()
    assert not Event.objects.filter(kind__startswith="side_conversation").exists()
    assert sink.deliveries == []


def test_an_empty_subject_or_message_is_refused(sink, start):
    with pytest.raises(ValidationError) as refused:
        start(subject="  ", body_text="\n")

    assert set(refused.value.message_dict) == {"subject", "body"}
    assert not SideConversation.objects.exists()
    assert sink.deliveries == []


def test_an_agent_of_another_team_cannot_start_or_write_or_close(sink, start, ticket):
    conversation = start()
    outsider = make_agent(make_team("Billing", slug="billing"))

    with pytest.raises(PermissionDenied):
        side_conversation_start(ticket=ticket, actor=outsider, participants=SUPPLIER, subject="x", body_text="y")
    with pytest.raises(PermissionDenied):
        side_conversation_reply(conversation=conversation, actor=outsider, body_text="y")
    with pytest.raises(PermissionDenied):
        side_conversation_close(conversation=conversation, actor=outsider)

    assert SideConversation.objects.count() == 1
    assert conversation.messages.count() == 1
    conversation.refresh_from_db()
    assert conversation.state == SideConversationState.OPEN
    assert len(sink.deliveries) == 1


def test_closing_and_reopening_are_recorded_once(sink, start, agent):
    conversation = start()

    side_conversation_close(conversation=conversation, actor=agent)
    side_conversation_close(conversation=conversation, actor=agent)
    conversation.refresh_from_db()
    assert conversation.state == SideConversationState.CLOSED
    side_conversation_reopen(conversation=conversation, actor=agent)
    conversation.refresh_from_db()

    assert conversation.state == SideConversationState.OPEN
    kinds = list(Event.objects.filter(kind__startswith="side_conversation").order_by("pk").values_list("kind", flat=True))
    assert kinds == ["side_conversation_started", "side_conversation_closed", "side_conversation_reopened"]


# --- delivery ---------------------------------------------------------------------------------------


def test_a_server_that_is_down_is_tried_again_and_then_the_message_is_sent(sink, start):
    sink.refuse_with, sink.refuse_first = "451 4.3.0 Try again later", 2

    conversation = start()

    message = conversation.messages.get()
    assert message.delivery_state == DeliveryState.SENT
    assert sink.attempts == 3
    assert len(sink.deliveries) == 1


def test_a_permanent_refusal_leaves_the_message_failed_and_sending_again_does_nothing(sink, start):
    sink.refuse_with = "550 5.1.1 No such mailbox"

    conversation = start()

    message = conversation.messages.get()
    assert message.delivery_state == DeliveryState.FAILED
    assert side_conversation_message_deliver(message_id=message.pk).name == "NOTHING_TO_DO"
    assert side_conversation_message_send.apply(args=[message.pk]).get() == "NOTHING_TO_DO"
    assert sink.deliveries == []


def test_nothing_is_mailed_when_email_replies_are_off(sink, start, settings):
    settings.HELPDESK_EMAIL_REPLIES = False

    conversation = start()

    assert conversation.messages.get().delivery_state == ""
    assert sink.deliveries == []


# --- answers through the intake ----------------------------------------------------------------------


def test_a_participants_answer_lands_in_the_conversation_not_in_the_ticket(sink, start, deliver, ticket, requester):
    conversation = start()
    sink_before = len(sink.deliveries)
    ticket_messages = list(ticket.messages.values_list("pk", flat=True))

    row = deliver(supplier_answer(sink.deliveries[0].mail), recipients=(f"desk+sc-{conversation.token}@example.com",))

    assert row.state == RawInboundState.PROCESSED
    assert row.ticket_id == ticket.pk and row.message_id is None
    assert row.note == f"Added to side conversation #{conversation.pk} on ticket #{ticket.number}."
    answer = conversation.messages.get(direction="inbound")
    assert answer.from_email == SUPPLIER
    assert answer.body_text == "Yes, shipping one today."  # the quoted history of our own mail is left out
    assert answer.message_id == "answer-1@supplier.example"
    assert answer.body_html == "<p>Yes, shipping one today.</p>"
    assert Ticket.objects.count() == 1
    assert list(ticket.messages.values_list("pk", flat=True)) == ticket_messages
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    # Only the agent who started the conversation hears of it (the ticket has no assignee); the
    # requester gets nothing.
    assert [delivery.recipients for delivery in sink.deliveries[sink_before:]] == [["sam@staff.example"]]
    event = Event.objects.get(ticket=ticket, kind="side_conversation_reply")
    assert (event.actor_user, event.actor_kind, event.via) == (None, "system", "email")
    assert event.to_value == {"conversation": conversation.pk, "subject": conversation.subject, "from": SUPPLIER}


def test_an_answer_is_found_by_its_references_alone_or_by_the_reply_address_alone(sink, start, deliver):
    conversation = start()
    ours = sink.deliveries[0].mail

    by_references = deliver(supplier_answer(ours, to=MAILBOX, message_id="<by-refs@supplier.example>"))
    by_address = deliver(supplier_answer(ours, in_reply_to=False, message_id="<by-address@supplier.example>"),
                         recipients=(f"desk+sc-{conversation.token}@example.com",))

    assert (by_references.state, by_address.state) == (RawInboundState.PROCESSED, RawInboundState.PROCESSED)
    assert set(conversation.messages.filter(direction="inbound").values_list("message_id", flat=True)) == {
        "by-refs@supplier.example", "by-address@supplier.example"
    }
    assert Ticket.objects.count() == 1


def test_an_answer_delivered_twice_is_stored_once(sink, start, deliver):
    conversation = start()
    raw = supplier_answer(sink.deliveries[0].mail)

    first = deliver(raw)
    second = deliver(raw)
    # The same mail fetched again through another door, processed once more by hand.
    third = raw_inbound_store(raw=raw, door=Door.IMAP, envelope_sender=SUPPLIER, envelope_recipients=[MAILBOX])
    raw_inbound_process(raw_inbound_id=third.pk)
    third.refresh_from_db()

    assert first.state == RawInboundState.PROCESSED
    assert (second.state, third.state) == (RawInboundState.DUPLICATE, RawInboundState.DUPLICATE)
    assert conversation.messages.filter(direction="inbound").count() == 1
    assert Event.objects.filter(kind="side_conversation_reply").count() == 1
    assert Ticket.objects.count() == 1


def test_an_answer_reopens_a_closed_conversation(sink, start, deliver, agent):
    conversation = start()
    side_conversation_close(conversation=conversation, actor=agent)

    deliver(supplier_answer(sink.deliveries[0].mail))

    conversation.refresh_from_db()
    assert conversation.state == SideConversationState.OPEN
    reopened = Event.objects.filter(kind="side_conversation_reopened").get()
    assert (reopened.actor_user, reopened.via) == (None, "email")


def test_an_answer_with_html_is_sanitised(sink, start, deliver):
    start()
    ours = sink.deliveries[0].mail
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = SUPPLIER, str(ours["Reply-To"]), "Re: fuser"
    mail["Message-ID"], mail["In-Reply-To"] = "<html-answer@supplier.example>", str(ours["Message-ID"])
    mail.set_content("In stock.")
    mail.add_alternative('<p onclick="steal()">In <b>stock</b>.<script>alert(1)</script></p>'
                         '<a href="javascript:alert(2)">x</a>', subtype="html")

    deliver(mail.as_bytes())

    answer = SideConversationMessage.objects.get(direction="inbound")
    assert "<script" not in answer.body_html and "onclick" not in answer.body_html
    assert "javascript:" not in answer.body_html
    assert "<b>stock</b>" in answer.body_html


def test_a_mail_with_an_unknown_token_or_id_takes_the_usual_path(sink, start, deliver, ticket):
    start()

    row = deliver(build_mail(sender="Zed <zed@elsewhere.example>", subject="Hello", message_id="<new@elsewhere.example>",
                             in_reply_to=f"<sc-{'b' * 24}.0123@example.com>"))

    assert row.state == RawInboundState.PROCESSED
    assert Ticket.objects.count() == 2  # a ticket of its own, as any new mail
    assert not SideConversationMessage.objects.filter(direction="inbound").exists()


def test_the_realtime_event_goes_to_agents_only(sink, start, deliver, ticket, requester):
    conversation = start()
    raw = supplier_answer(sink.deliveries[0].mail)

    heard = events_during(
        [realtime.ticket_group(ticket.pk), realtime.customer_group(requester.pk)], lambda: deliver(raw)
    )

    side_events = [event for event in heard if event["type"] == "side_conversation.updated"]
    assert len(side_events) == 1  # the ticket group only: nothing on the requester's group
    [event] = side_events
    answer = conversation.messages.get(direction="inbound")
    assert event["ticket"]["number"] == ticket.number
    assert event["side_conversation"] == {
        "id": conversation.pk, "state": "open", "change": "received",
        "message": {"id": answer.pk, "direction": "inbound", "delivery_state": ""},
    }
    assert "Yes, shipping" not in str(heard)  # events carry ids, never the text


def test_the_assignee_and_the_starter_are_told_of_an_answer_by_mail_and_nobody_else(
    sink, start, deliver, ticket, desk, requester
):
    colleague = make_agent(desk, username="cy", display_name="Cy Colleague", email="cy@staff.example")
    make_agent(make_team("Billing", slug="billing"), username="bill", email="bill@staff.example")
    Ticket.objects.filter(pk=ticket.pk).update(assignee=colleague)
    conversation = start()

    deliver(supplier_answer(sink.deliveries[0].mail))

    notices = [delivery for delivery in sink.deliveries if delivery.recipients != [SUPPLIER]]
    assert sorted(recipient for delivery in notices for recipient in delivery.recipients) == [
        "cy@staff.example", "sam@staff.example"
    ]
    mail = notices[0].mail
    assert str(mail["Subject"]) == (
        f"[#{ticket.number}] {SUPPLIER} replied in the side conversation “{conversation.subject}”"
    )
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Yes, shipping one today." in text
    assert f"/agent/tickets/{ticket.number}/" in text
    assert all(requester.email not in delivery.recipients for delivery in sink.deliveries)


def test_a_bounce_marks_the_side_conversation_message_bounced_and_opens_nothing(sink, start, deliver, ticket):
    from tests.channels_intake.email.test_processing import dsn_for

    conversation = start()
    ours = conversation.messages.get()

    row = deliver(dsn_for(ours.message_id, SUPPLIER))

    ours.refresh_from_db()
    assert ours.delivery_state == DeliveryState.BOUNCED
    assert row.state == RawInboundState.PROCESSED
    assert row.note == f"Bounce: side-conversation message #{ours.pk} on ticket #{ticket.number} marked bounced."
    assert Ticket.objects.count() == 1
    assert not conversation.messages.filter(direction="inbound").exists()
