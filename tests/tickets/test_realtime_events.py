"""Payloads of realtime events sent by services, and who receives them."""

import pytest

from helpdesk import realtime
from tests.factories import make_agent, make_team, make_ticket
from tests.realtime_helpers import events_during
from tickets.services import ticket_add_note, ticket_reply, ticket_update

pytestmark = pytest.mark.django_db(transaction=True)




def test_status_change_reaches_team_and_ticket_groups_with_minimal_payload():
    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)
    events = events_during(
        [realtime.team_group(team.pk)], lambda: ticket_update(ticket=ticket, actor=agent, status="pending")
    )

    assert [e["type"] for e in events] == ["ticket.updated"]
    assert events[0]["ticket"]["number"] == ticket.number
    assert events[0]["ticket"]["status"] == "pending"
    assert events[0]["changes"] == {"status": "pending"}
    # Only ids and changed values travel over the socket, never message bodies or customer data.
    assert "subject" not in events[0]["ticket"]


def test_internal_note_never_reaches_the_customer_group():
    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)
    group = realtime.customer_group(ticket.requester_id)

    assert events_during([group], lambda: ticket_add_note(ticket=ticket, actor=agent, body_text="secret")) == []

    events = events_during([group], lambda: ticket_reply(ticket=ticket, actor=agent, body_text="public"))
    assert [e["type"] for e in events] == ["ticket.message_added"]
    assert events[0]["ticket"] == {"number": ticket.number, "status": "open"}


def test_nothing_is_sent_when_the_transaction_rolls_back():
    from django.db import transaction

    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)
    def change_then_fail():
        with pytest.raises(RuntimeError), transaction.atomic():
            ticket_update(ticket=ticket, actor=agent, priority="urgent")
            raise RuntimeError("abort")

    assert events_during([realtime.team_group(team.pk)], change_then_fail) == []
    ticket.refresh_from_db()
    assert ticket.priority == "normal"
