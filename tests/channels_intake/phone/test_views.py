"""The phone pages of the workspace: the screen-pop card and its form, "Log a call", "New phone
ticket", the call entry in the thread, merging a caller into a known customer; and who may use them."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from channels_intake.phone import services
from channels_intake.phone.models import Call, CallDirection, CallProvider, CallState
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import Channel, Customer, Status, Ticket, Visibility

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def caller():
    customer = make_customer(email="wang@example.com")
    customer.name = "Wang Fang"
    customer.phone_numbers = ["+8613812345678"]
    customer.save()
    return customer


@pytest.fixture
def ringing_call(phone_agent, phone_team, caller):
    outcome = services.call_event_record(
        provider=CallProvider.GENERIC, call_id="pbx-1", event=CallState.RINGING, occurred_at=timezone.now(),
        direction=CallDirection.INBOUND, from_number="13812345678", to_number="4008001234", agent=phone_agent,
        team=phone_team,
    )
    return outcome.call


def test_screen_pop_shows_the_caller_their_open_tickets_and_the_log_form(phone_agent, phone_team, caller, ringing_call):
    open_ticket = make_ticket(requester=caller, team=phone_team, subject="Parcel never arrived")
    solved = make_ticket(requester=caller, team=phone_team, subject="Old question")
    Ticket.objects.filter(pk=solved.pk).update(status=Status.SOLVED)

    response = client_for(phone_agent).get(f"/agent/phone/calls/{ringing_call.pk}/pop/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Wang Fang" in html and "wang@example.com" in html and "+8613812345678" in html
    assert f"#{open_ticket.number} Parcel never arrived" in html
    assert "Old question" not in html
    assert "Log this call" in html and f'action="/agent/phone/calls/{ringing_call.pk}/log/"' in html


def test_screen_pop_log_puts_the_call_on_the_ticket_the_agent_picks(phone_agent, phone_team, caller, ringing_call):
    open_ticket = make_ticket(requester=caller, team=phone_team)

    response = client_for(phone_agent).post(f"/agent/phone/calls/{ringing_call.pk}/log/", {
        "ticket": str(open_ticket.number), "disposition": "resolved", "notes": "Re-sent the parcel.",
    })

    call = Call.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/agent/tickets/{open_ticket.number}/#message-{call.message_id}"
    assert call.ticket == open_ticket and call.notes == "Re-sent the parcel."
    assert call.message.visibility == Visibility.INTERNAL
    # The call ending afterwards completes that entry; it opens no other ticket.
    services.call_event_record(
        provider=CallProvider.GENERIC, call_id="pbx-1", event=CallState.ENDED, occurred_at=timezone.now(),
        direction=CallDirection.INBOUND, from_number="13812345678", to_number="4008001234", duration_seconds=61,
    )
    assert Ticket.objects.count() == 1
    assert "1 min 1 s" in open_ticket.messages.get(pk=call.message_id).body_text


def test_logging_a_call_that_already_opened_a_ticket_merges_it_into_the_picked_one(
    phone_agent, phone_team, caller, ringing_call
):
    open_ticket = make_ticket(requester=caller, team=phone_team)
    services.call_event_record(
        provider=CallProvider.GENERIC, call_id="pbx-1", event=CallState.ENDED, occurred_at=timezone.now(),
        direction=CallDirection.INBOUND, from_number="13812345678", to_number="", duration_seconds=30,
    )
    call_ticket = Call.objects.get().ticket

    client_for(phone_agent).post(f"/agent/phone/calls/{ringing_call.pk}/log/", {"ticket": str(open_ticket.number),
                                                                               "disposition": "", "notes": ""})

    call_ticket.refresh_from_db()
    assert call_ticket.merged_into == open_ticket and call_ticket.status == Status.CLOSED
    assert Call.objects.get().ticket == open_ticket
    assert open_ticket.messages.filter(channel=Channel.PHONE).count() == 1


def test_agent_who_may_not_take_the_call_gets_404_for_its_pop(ringing_call):
    outsider = make_agent(make_team(name="Billing", slug="billing"))

    assert client_for(outsider).get(f"/agent/phone/calls/{ringing_call.pk}/pop/").status_code == 404
    assert client_for(outsider).post(f"/agent/phone/calls/{ringing_call.pk}/log/", {"ticket": "new"}).status_code == 404
    assert Call.objects.get().message is None


def test_customer_cannot_see_a_screen_pop_or_log_calls(caller, ringing_call, phone_team):
    ticket = make_ticket(requester=caller, team=phone_team)
    client = client_for(caller.user)

    assert client.get(f"/agent/phone/calls/{ringing_call.pk}/pop/").status_code == 403
    assert client.post(f"/agent/phone/calls/{ringing_call.pk}/log/", {"ticket": "new"}).status_code == 403
    assert client.post(f"/agent/phone/tickets/{ticket.number}/log/", {
        "direction": "inbound", "number": "13812345678", "notes": "x", "disposition": "",
    }).status_code == 403
    assert client.post("/agent/phone/new/", {"direction": "inbound", "number": "13812345678"}).status_code == 403
    assert Call.objects.get().message is None
    assert ticket.messages.count() == 1
    assert Ticket.objects.count() == 1


def test_log_a_call_on_a_ticket_shows_a_call_entry_with_a_phone_icon(phone_agent, phone_team, caller):
    ticket = make_ticket(requester=caller, team=phone_team)
    client = client_for(phone_agent)

    response = client.post(f"/agent/phone/tickets/{ticket.number}/log/", {
        "direction": "outbound", "number": "13812345678", "duration_minutes": "2.5", "disposition": "follow_up",
        "notes": "Customer <b>wants</b> a refund.",
    })
    page = client.get(f"/agent/tickets/{ticket.number}/")

    call = Call.objects.get()
    assert response.status_code == 302
    assert call.duration_seconds == 150 and call.direction == CallDirection.OUTBOUND
    html = page.content.decode()
    assert f'data-call-entry="{call.pk}"' in html
    assert "data-phone-icon" in html and "Outbound call" in html
    assert "2:30" in html and "Follow-up needed" in html and "+86 138 1234 5678" in html
    assert "Customer &lt;b&gt;wants&lt;/b&gt; a refund." in html


def test_the_ticket_page_offers_log_a_call_and_stays_within_its_query_budget(
    phone_agent, phone_team, caller, django_assert_max_num_queries
):
    ticket = make_ticket(requester=caller, team=phone_team)
    client = client_for(phone_agent)
    client.get(f"/agent/tickets/{ticket.number}/")  # warm caches (sidebar, directory)
    before = client.get(f"/agent/tickets/{ticket.number}/")
    for number in range(5):
        services.call_log(actor=phone_agent, ticket=ticket, direction="inbound", number="13812345678",
                          duration_seconds=number, notes=f"note {number}", disposition="")

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as without_calls:
        client.get(f"/agent/tickets/{ticket.number}/")
    assert 'id="log-call"' in before.content.decode()
    # Five call entries cost one query more than none: the calls are read together.
    with django_assert_max_num_queries(len(without_calls.captured_queries)):
        page = client.get(f"/agent/tickets/{ticket.number}/")
    assert page.content.decode().count("data-call-entry=") == 5


def test_new_phone_ticket_form_creates_a_phone_ticket_for_an_unknown_caller(phone_agent, phone_team):
    response = client_for(phone_agent).post("/agent/phone/new/", {
        "direction": "inbound", "number": "139 0000 1111", "duration_minutes": "1", "disposition": "resolved",
        "notes": "Asked for opening hours.",
    })

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert ticket.channel == Channel.PHONE
    assert ticket.requester.phone_numbers == ["+8613900001111"]
    assert ticket.assignee == phone_agent
    assert Call.objects.get().notes == "Asked for opening hours."


def test_new_phone_ticket_form_refuses_a_bad_number_and_creates_nothing(phone_agent, phone_team):
    response = client_for(phone_agent).post("/agent/phone/new/", {"direction": "inbound", "number": "call me"})

    assert response.status_code == 400
    assert "Enter a phone number" in response.content.decode()
    assert not Ticket.objects.exists() and not Customer.objects.exists()


def test_caller_created_by_a_call_can_be_merged_into_a_known_customer(phone_agent, phone_team):
    call = services.call_record_completed(
        provider=CallProvider.GENERIC, call_id="c9", direction="inbound", from_number="13700000000", to_number="",
        caller_name="", started_at=None, answered_at=None, ended_at=timezone.now(), duration_seconds=5, answered=True,
    )
    known = make_customer(email="li@example.com")
    client = client_for(phone_agent)

    page = client.get(f"/agent/tickets/{call.ticket.number}/")
    response = client.post(f"/agent/phone/tickets/{call.ticket.number}/merge-customer/", {"target_email": "li@example.com"})

    assert "Merge customer" in page.content.decode()
    assert response.status_code == 302
    known.refresh_from_db()
    assert known.phone_numbers == ["+8613700000000"]
    assert Ticket.objects.get().requester == known


def test_log_a_call_with_a_bad_number_says_why_and_adds_nothing(phone_agent, phone_team, caller):
    ticket = make_ticket(requester=caller, team=phone_team)
    client = client_for(phone_agent)

    response = client.post(f"/agent/phone/tickets/{ticket.number}/log/", {
        "direction": "inbound", "number": "not a number", "disposition": "", "notes": "x",
    }, follow=True)

    assert "Phone number: Enter a phone number" in response.content.decode()
    assert not Call.objects.exists()
    assert ticket.messages.count() == 1


def test_callback_queue_link_lists_the_open_callback_tickets(phone_agent, phone_team):
    services.call_event_record(
        provider=CallProvider.GENERIC, call_id="missed-1", event=CallState.MISSED, occurred_at=timezone.now(),
        direction=CallDirection.INBOUND, from_number="13700000001", to_number="",
    )
    other = make_ticket(team=phone_team, subject="Not a callback")
    client = client_for(phone_agent)
    queue_page = client.get("/agent/tickets/").content.decode()
    link = re.search(r'href="([^"]*tag=callback[^"]*)"', queue_page).group(1).replace("&amp;", "&")

    listing = client.get(link).content.decode()

    callback = Ticket.objects.get(tags__contains=["callback"])
    assert f"#{callback.number}" in listing
    assert f"#{other.number}" not in listing


def test_waiting_calls_come_back_on_every_page_until_logged(phone_agent, phone_team, caller, ringing_call):
    teammate = make_agent(phone_team)
    team_call = services.call_event_record(
        provider=CallProvider.GENERIC, call_id="pbx-team", event=CallState.RINGING, occurred_at=timezone.now(),
        direction=CallDirection.INBOUND, from_number="13700000002", to_number="", team=phone_team,
    ).call
    outsider = make_agent(make_team(name="Billing", slug="billing"))

    def waiting(user) -> set[int]:
        html = client_for(user).get("/agent/phone/calls/waiting/").content.decode()
        return {int(number) for number in re.findall(r'data-phone-pop="(\d+)"', html)}

    assert waiting(phone_agent) == {ringing_call.pk, team_call.pk}
    # A call ringing for one agent is theirs; the team's call is every member's.
    assert waiting(teammate) == {team_call.pk}
    assert waiting(outsider) == set()
    client_for(phone_agent).post(f"/agent/phone/calls/{ringing_call.pk}/log/", {"ticket": "new"})
    assert waiting(phone_agent) == {team_call.pk}
    assert client_for(caller.user).get("/agent/phone/calls/waiting/").status_code == 403
