"""The phone services: matching callers, recording calls on tickets, logging calls, merging customers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from channels_intake.phone import services
from channels_intake.phone.models import Call, CallDirection, CallDisposition, CallProvider, CallState
from channels_intake.phone.numbers import normalize_number
from tests.factories import make_customer, make_ticket
from tickets.models import Channel, Customer, Message, Ticket, Visibility

pytestmark = pytest.mark.django_db


def test_numbers_are_normalised_to_e164_in_the_default_region(settings):
    settings.HELPDESK_PHONE_DEFAULT_REGION = "CN"
    assert normalize_number("138 1234 5678") == "+8613812345678"
    assert normalize_number("008613812345678") == "+8613812345678"
    assert normalize_number("+1 415-555-0100") == "+14155550100"
    assert normalize_number("anonymous") == ""
    settings.HELPDESK_PHONE_DEFAULT_REGION = "US"
    assert normalize_number("(415) 555-0100") == "+14155550100"


def test_caller_matches_a_customer_by_any_of_their_numbers():
    customer = make_customer()
    customer.phone_numbers = ["+8613900000000", "+8613812345678"]
    customer.save()

    assert services.customer_for_number(number="138-1234-5678") == customer
    assert Customer.objects.count() == 1


def test_unknown_caller_gets_a_new_customer_with_the_number():
    created = services.customer_for_number(number="13812345678", name="Wang Fang")

    assert created.name == "Wang Fang"
    assert created.phone_numbers == ["+8613812345678"]
    assert services.customer_for_number(number="+86 138 1234 5678") == created
    assert Customer.objects.count() == 1


def test_answered_call_becomes_a_call_message_on_a_new_phone_ticket(phone_team, phone_agent):
    ended = timezone.now()
    call = services.call_record_completed(
        provider=CallProvider.ASTERISK, call_id="1700000000.1", direction=CallDirection.INBOUND,
        from_number="13812345678", to_number="4008001234", caller_name="Wang Fang", started_at=ended - timedelta(seconds=200),
        answered_at=ended - timedelta(seconds=185), ended_at=ended, duration_seconds=185, answered=True,
        agent=phone_agent,
    )

    assert call.state == CallState.ENDED
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.PHONE
    assert ticket.requester.phone_numbers == ["+8613812345678"]
    assert ticket.requester.name == "Wang Fang"
    assert ticket.assignee == phone_agent
    assert "callback" not in ticket.tags
    message = ticket.messages.get()
    assert message.channel == Channel.PHONE
    assert message.call == call
    assert "Inbound call from +86 138 1234 5678" in message.body_text
    assert "3 min 5 s" in message.body_text


def test_the_same_completed_call_twice_is_recorded_once(phone_team):
    kwargs = {
        "provider": CallProvider.ASTERISK, "call_id": "1700000000.2", "direction": CallDirection.INBOUND,
        "from_number": "13812345678", "to_number": "4008001234", "caller_name": "", "started_at": timezone.now(),
        "answered_at": None, "ended_at": timezone.now(), "duration_seconds": 0, "answered": False,
    }
    first = services.call_record_completed(**kwargs)
    again = services.call_record_completed(**kwargs)

    assert first is not None and again is None
    assert Call.objects.count() == 1
    ticket = Ticket.objects.get()
    assert ticket.tags == ["callback"]
    assert ticket.subject == "Call back +86 138 1234 5678"


def test_unanswered_outbound_call_is_only_recorded(phone_team):
    call = services.call_record_completed(
        provider=CallProvider.CSV, call_id="x1", direction=CallDirection.OUTBOUND, from_number="101",
        to_number="13812345678", caller_name="", started_at=timezone.now(), answered_at=None,
        ended_at=timezone.now(), duration_seconds=0, answered=False,
    )

    assert call.state == CallState.MISSED
    assert not Ticket.objects.exists()


def test_agent_logs_a_call_on_an_existing_ticket_as_an_internal_call_entry(phone_team, phone_agent):
    ticket = make_ticket(team=phone_team)

    message = services.call_log(
        actor=phone_agent, ticket=ticket, direction=CallDirection.OUTBOUND, number="13812345678",
        duration_seconds=95, notes="Promised a refund by Friday.", disposition=CallDisposition.FOLLOW_UP,
    )

    assert message.ticket == ticket
    assert message.visibility == Visibility.INTERNAL
    assert message.channel == Channel.PHONE
    assert message.author_user == phone_agent
    assert "Outbound call to +86 138 1234 5678" in message.body_text
    assert "Promised a refund by Friday." in message.body_text
    assert message.call.disposition == CallDisposition.FOLLOW_UP
    assert message.call.provider == CallProvider.MANUAL


def test_agent_logs_a_call_without_a_ticket_as_a_new_phone_ticket(phone_team, phone_agent):
    message = services.call_log(
        actor=phone_agent, ticket=None, direction=CallDirection.INBOUND, number="+8613812345678",
        duration_seconds=60, notes="Asked about invoices.", disposition=CallDisposition.RESOLVED,
    )

    ticket = message.ticket
    assert ticket.channel == Channel.PHONE
    assert ticket.requester.phone_numbers == ["+8613812345678"]
    # The notes are the agent's: kept on the call, not in the customer's public message.
    assert "Asked about invoices." not in message.body_text
    assert message.call.notes == "Asked about invoices."


def test_customer_cannot_log_a_call(phone_team):
    customer = make_customer()
    ticket = make_ticket(requester=customer, team=phone_team)

    with pytest.raises(PermissionDenied):
        services.call_log(
            actor=customer.user, ticket=ticket, direction=CallDirection.INBOUND, number="13812345678",
            duration_seconds=1, notes="", disposition="",
        )
    assert not Call.objects.exists()
    assert ticket.messages.count() == 1


def test_merging_a_phone_customer_moves_numbers_tickets_and_calls(phone_team, phone_agent):
    call = services.call_record_completed(
        provider=CallProvider.GENERIC, call_id="c1", direction=CallDirection.INBOUND, from_number="13812345678",
        to_number="", caller_name="", started_at=None, answered_at=None, ended_at=timezone.now(),
        duration_seconds=30, answered=True,
    )
    phone_customer = call.customer
    known = make_customer(email="wang@example.com")
    known.phone_numbers = ["+8613900000000"]
    known.save()

    services.customer_merge_into(source=phone_customer, target=known, actor=phone_agent)

    known.refresh_from_db()
    assert known.phone_numbers == ["+8613900000000", "+8613812345678"]
    assert not Customer.objects.filter(pk=phone_customer.pk).exists()
    assert Ticket.objects.get().requester == known
    assert Message.objects.get().author_customer == known
    assert Call.objects.get().customer == known
    assert services.customer_for_number(number="13812345678") == known


def test_merging_writes_an_audit_event_on_each_moved_ticket_and_refuses_two_logins(phone_team, phone_agent):
    call = services.call_record_completed(
        provider=CallProvider.GENERIC, call_id="c2", direction=CallDirection.INBOUND, from_number="13812345678",
        to_number="", caller_name="", started_at=None, answered_at=None, ended_at=timezone.now(),
        duration_seconds=30, answered=True,
    )
    known = make_customer(email="wang@example.com")

    services.customer_merge_into(source=call.customer, target=known, actor=phone_agent)

    event = Ticket.objects.get().events.get(kind="requester_changed")
    assert (event.actor_user, event.to_value) == (phone_agent, known.name)
    with pytest.raises(ValidationError):
        services.customer_merge_into(source=make_customer(), target=known, actor=phone_agent)


def test_customer_cannot_merge_customers(phone_team):
    first, second = make_customer(), make_customer()

    with pytest.raises(PermissionDenied):
        services.customer_merge_into(source=first, target=second, actor=first.user)
    assert Customer.objects.count() == 2
