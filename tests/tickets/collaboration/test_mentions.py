"""@mentions in internal notes: the colleague who may see the ticket gets an event, a mail and a toast;
someone who may not see it gets nothing, and the author is told."""

from __future__ import annotations

import pytest

from helpdesk import realtime
from tests.realtime_helpers import events_during
from tests.tickets.collaboration.conftest import SITE, logged_in, mails_to, text_of
from tickets.collaboration.mentions import mentioned_usernames
from tickets.models import Event, NotificationDelivery
from tickets.services import ticket_add_note, ticket_reply

pytestmark = pytest.mark.django_db


def test_mentioned_usernames_are_found_once_and_addresses_are_not_mentions():
    text = "Ping @Bo and @lena.k, @bo again. Mail ana@example.com or @ada."

    assert mentioned_usernames(text) == ["bo", "lena.k", "ada"]


def test_a_mention_records_an_event_and_mails_the_colleague(outbox, act, ticket, ada, bo):
    note = act(ticket_add_note, ticket=ticket, actor=ada, body_text="@bo can you check the <b>toner</b>?")

    [event] = Event.objects.filter(ticket=ticket, kind="mentioned")
    assert event.actor_user == ada
    assert event.to_value == {"user": bo.pk, "name": "Bo Agent", "message": note.pk}
    assert [user.pk for user in note.mention_outcome.notified] == [bo.pk]
    [mail] = mails_to(outbox, "bo@staff.example")
    assert len(outbox.deliveries) == 1
    assert mail["Subject"] == f"[#{ticket.number}] Ada Agent mentioned you: Printer on fire"
    text = text_of(mail)
    assert f"Ada Agent mentioned you in an internal note on ticket #{ticket.number}" in text
    assert "@bo can you check the <b>toner</b>?" in text
    assert f"{SITE}/agent/tickets/{ticket.number}/" in text
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "&lt;b&gt;toner&lt;/b&gt;" in html and "<b>toner</b>" not in html
    [row] = NotificationDelivery.objects.all()
    assert (row.recipient, row.kind) == (bo, "mentioned")


def test_mentioning_oneself_or_nobody_sends_nothing(outbox, act, ticket, ada):
    act(ticket_add_note, ticket=ticket, actor=ada, body_text="Note to self @ada, and @nobody-here.")

    assert not Event.objects.filter(kind="mentioned").exists()
    assert outbox.deliveries == []


def test_a_mention_in_a_public_reply_notifies_nobody(outbox, act, ticket, ada, bo):
    act(ticket_reply, ticket=ticket, actor=ada, body_text="Thanks, @bo will call you.")

    assert not Event.objects.filter(kind="mentioned").exists()
    assert mails_to(outbox, bo.email) == []


def test_a_mention_of_another_teams_agent_notifies_nobody_and_says_so(outbox, act, ticket, ada, bill):
    note = act(ticket_add_note, ticket=ticket, actor=ada, body_text="@bill do you know this customer?")

    assert note.mention_outcome.notified == []
    assert [user.pk for user in note.mention_outcome.unreachable] == [bill.pk]
    assert not Event.objects.filter(kind="mentioned").exists()
    assert outbox.deliveries == []
    assert NotificationDelivery.objects.count() == 0


def test_a_mention_of_an_inactive_colleague_notifies_nobody(outbox, act, ticket, ada, bo):
    bo.is_active = False
    bo.save()

    act(ticket_add_note, ticket=ticket, actor=ada, body_text="@bo?")

    assert not Event.objects.filter(kind="mentioned").exists()
    assert outbox.deliveries == []


def test_the_agent_is_told_who_was_not_notified(outbox, ticket, ada, bo, bill):
    response = logged_in(ada).post(f"/agent/tickets/{ticket.number}/reply/",
                                   {"visibility": "internal", "body": "@bill and @bo, look"}, follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Not notified (they cannot see this ticket): Bill Billing" in page
    assert list(Event.objects.filter(kind="mentioned").values_list("to_value__user", flat=True)) == [bo.pk]


def test_a_manager_can_be_mentioned_on_any_ticket(outbox, act, ticket, ada, mona):
    act(ticket_add_note, ticket=ticket, actor=ada, body_text="@mona escalating")

    assert len(mails_to(outbox, mona.email)) == 1


def test_the_timeline_says_who_was_mentioned(ticket, ada, bo):
    ticket_add_note(ticket=ticket, actor=ada, body_text="@bo please")

    page = logged_in(ada).get(f"/agent/tickets/{ticket.number}/").content.decode()

    assert "<strong>Ada Agent</strong> mentioned <strong>Bo Agent</strong> in a note" in page


@pytest.mark.django_db(transaction=True)
def test_the_mentioned_agent_gets_a_realtime_event_on_their_own_group(support, ticket, ada, bo):
    sent = events_during([realtime.user_group(bo.pk)],
                         lambda: ticket_add_note(ticket=ticket, actor=ada, body_text="@bo look"))

    mention = [event for event in sent if event["type"] == "ticket.mentioned"]
    assert len(mention) == 1
    assert mention[0]["ticket"]["number"] == ticket.number
    assert mention[0]["ticket"]["team"] == support.pk
    assert mention[0]["by"] == ada.pk
    # Only ids travel: never the note's words.
    assert "look" not in repr(mention[0])


@pytest.mark.django_db(transaction=True)
def test_no_realtime_event_reaches_someone_who_cannot_see_the_ticket(ticket, ada, bill):
    sent = events_during([realtime.user_group(bill.pk)],
                         lambda: ticket_add_note(ticket=ticket, actor=ada, body_text="@bill look"))

    assert sent == []


def test_the_autocomplete_offers_only_staff_who_may_see_the_ticket(ticket, ada, bo, lena, mona, bill, alice):
    response = logged_in(ada).get(f"/agent/tickets/{ticket.number}/mention-candidates/")

    usernames = [user["username"] for user in response.json()["users"]]
    assert usernames == ["ada", "bo", "lena", "mona"]
    assert {"username": "bo", "name": "Bo Agent"} in response.json()["users"]
    assert logged_in(bill).get(f"/agent/tickets/{ticket.number}/mention-candidates/").status_code == 404
    assert logged_in(alice.user).get(f"/agent/tickets/{ticket.number}/mention-candidates/").status_code == 403


def test_a_mention_through_the_api_notifies_too(outbox, django_capture_on_commit_callbacks, ticket, ada, bo):
    from tests.tickets.api.conftest import token_client

    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(ada).post(f"/api/v1/tickets/{ticket.number}/messages/",
                                          {"body": "@bo see above", "visibility": "internal"}, format="json")

    assert response.status_code == 201
    assert len(mails_to(outbox, bo.email)) == 1
