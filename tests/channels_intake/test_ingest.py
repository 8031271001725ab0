import pytest

from channels_intake.base import InboundMessage
from channels_intake.services import ingest
from tests.factories import make_agent, make_customer, make_team
from tickets.models import Customer, Message, Status, Ticket
from tickets.services import ticket_reply, ticket_update

pytestmark = pytest.mark.django_db


def test_unknown_sender_becomes_customer_and_ticket():
    team = make_team(slug="support")

    result = ingest(InboundMessage(channel="email", sender_email="New.Person@Example.org", sender_name="New Person",
                                   subject="Refund", body_text="Please refund", external_id="<1@example.org>",
                                   team_slug="support"))

    assert result.created_ticket
    assert result.ticket.team == team
    assert result.ticket.channel == "email"
    customer = Customer.objects.get()
    assert (customer.email, customer.name) == ("new.person@example.org", "New Person")


def test_redelivery_is_idempotent():
    inbound = InboundMessage(channel="email", sender_email="a@example.org", subject="Hi", body_text="x",
                             external_id="<dup@example.org>")

    first, second = ingest(inbound), ingest(inbound)

    assert first.message.pk == second.message.pk
    assert not second.created_ticket
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 1


def test_message_with_ticket_number_continues_the_requesters_ticket():
    team = make_team()
    agent = make_agent(team)
    customer = make_customer(email="c@example.org")
    first = ingest(InboundMessage(channel="email", sender_email="c@example.org", subject="Hi", body_text="x"))
    ticket_reply(ticket=first.ticket, actor=agent, body_text="answer", status=Status.PENDING)

    follow = ingest(InboundMessage(channel="email", sender_email="c@example.org", subject="Re: Hi", body_text="more",
                                   ticket_number=first.ticket.number))

    assert follow.ticket.pk == first.ticket.pk
    follow.ticket.refresh_from_db()
    assert follow.ticket.status == Status.OPEN
    assert customer.tickets.count() == 1


def test_ticket_number_of_someone_elses_ticket_opens_a_new_ticket():
    victim = ingest(InboundMessage(channel="email", sender_email="victim@example.org", subject="Private", body_text="x"))

    attacker = ingest(InboundMessage(channel="email", sender_email="attacker@example.org", subject="Re: Private",
                                     body_text="let me in", ticket_number=victim.ticket.number))

    assert attacker.ticket.pk != victim.ticket.pk
    assert victim.ticket.messages.count() == 1


def test_message_to_closed_ticket_creates_follow_up():
    first = ingest(InboundMessage(channel="web", sender_email="c@example.org", subject="Hi", body_text="x"))
    ticket_update(ticket=first.ticket, actor=None, status=Status.SOLVED, via="test")
    ticket_update(ticket=first.ticket, actor=None, status=Status.CLOSED, via="test")

    again = ingest(InboundMessage(channel="email", sender_email="c@example.org", subject="Re: Hi", body_text="again",
                                  ticket_number=first.ticket.number))

    assert again.ticket.follow_up_of_id == first.ticket.pk
    assert again.created_ticket


def test_confirmed_ticket_number_lets_another_sender_continue_the_ticket():
    first = ingest(InboundMessage(channel="email", sender_email="ann@example.org", subject="Hi", body_text="x"))

    colleague = ingest(InboundMessage(channel="email", sender_email="bob@example.org", subject="Re: Hi",
                                      body_text="me too", ticket_number=first.ticket.number,
                                      ticket_number_confirmed=True))

    assert colleague.ticket.pk == first.ticket.pk
    assert not colleague.created_ticket
    assert colleague.message.author_customer.email == "bob@example.org"
    assert first.ticket.requester.email == "ann@example.org"


def test_redelivery_reports_the_duplicate_and_the_original_message():
    inbound = InboundMessage(channel="email", sender_email="a@example.org", subject="Hi", body_text="x",
                             external_id="dup-report@example.org")

    first, second = ingest(inbound), ingest(inbound)

    assert (first.is_duplicate, second.is_duplicate) == (False, True)
    assert second.message.external_id == "dup-report@example.org"
