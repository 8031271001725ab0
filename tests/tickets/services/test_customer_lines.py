"""ticket_customer_lines_append: many customers' lines at once, each as ticket_reply would store it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from helpdesk import realtime
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import BusinessHours, Event, Message, SlaPolicy, SlaTimer, Status, Ticket, TimerState
from tickets.services import ticket_reply, ticket_set_status
from tickets.services.ticket_messages import AppendedLine, CustomerLine, ticket_customer_lines_append

pytestmark = pytest.mark.django_db


def line(ticket: Ticket, body: str, external_id: str, customer_id: int | None = None) -> CustomerLine:
    return CustomerLine(ticket_id=ticket.pk, customer_id=customer_id or ticket.requester_id, body_text=body,
                        external_id=external_id)


def append(*lines: CustomerLine) -> list:
    return ticket_customer_lines_append(lines=list(lines), channel="chat", via="chat")


def thread(ticket: Ticket) -> list[tuple[str, str]]:
    return list(ticket.messages.order_by("id").values_list("author_kind", "body_text"))


def test_lines_of_several_tickets_are_stored_in_order_with_their_events_and_counts(monkeypatch,
                                                                                   django_capture_on_commit_callbacks):
    team = make_team()
    first, second = make_ticket(team=team), make_ticket(team=team)
    sent: list = []
    monkeypatch.setattr(realtime, "send_many", lambda deliveries: sent.extend(deliveries))

    with django_capture_on_commit_callbacks(execute=True):
        results = append(line(first, "one", "c:1"), line(second, "hello", "c:2"), line(first, "two", "c:3"))

    assert all(isinstance(result, AppendedLine) and result.is_new for result in results)
    assert thread(first)[-2:] == [("customer", "one"), ("customer", "two")]
    assert thread(second)[-1] == ("customer", "hello")
    first.refresh_from_db()
    assert first.message_count == 3 and first.last_customer_message_at == results[0].created_at
    added = Event.objects.filter(kind="reply_added", actor_kind="customer", via="chat")
    assert sorted(added.values_list("to_value__message", flat=True)) == sorted(r.message_id for r in results)
    # The same realtime event a single reply sends, to the ticket's groups, one per line.
    to_first = [event for groups, event in sent if realtime.ticket_group(first.pk) in groups]
    assert [event["message"]["id"] for event in to_first] == [results[0].message_id, results[2].message_id]
    assert to_first[0]["type"] == "ticket.message_added" and to_first[0]["ticket"]["number"] == first.number
    customer_events = [event for groups, event in sent if groups == [realtime.customer_group(first.requester_id)]]
    assert len(customer_events) == 2


def test_a_line_sent_again_is_stored_once_in_the_same_batch_and_later():
    ticket = make_ticket()

    results = append(line(ticket, "where is it?", "c:1"), line(ticket, "where is it?", "c:1"))
    again = append(line(ticket, "where is it?", "c:1"))

    assert [result.is_new for result in results + again] == [True, False, False]
    assert len({result.message_id for result in results + again}) == 1
    ticket.refresh_from_db()
    assert ticket.message_count == 2
    assert Event.objects.filter(ticket=ticket, kind="reply_added").count() == 1


def test_a_line_on_a_solved_ticket_reopens_it_as_a_single_reply_would():
    team = make_team()
    ticket = make_ticket(team=team)
    agent = make_agent(team)
    ticket_set_status(ticket=ticket, status=Status.SOLVED, actor=agent)

    [result] = append(line(ticket, "It broke again", "c:1"))

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.reopen_count == 1 and result.is_new
    assert Event.objects.filter(ticket=ticket, kind="reopened", actor_kind="customer").count() == 1
    assert thread(ticket)[-1] == ("customer", "It broke again")


def test_the_first_line_after_an_agents_answer_starts_the_next_response_clock_and_later_lines_leave_it():
    calendar = BusinessHours.objects.create(name="Always", timezone="UTC", always_open=True)
    SlaPolicy.objects.create(name="Chat", position=1, calendar=calendar, targets={
        "normal": {"first_response": 5, "next_response": 10, "resolution": 600}})
    team = make_team()
    ticket = make_ticket(team=team)
    agent = make_agent(team)
    ticket_reply(ticket=ticket, actor=agent, body_text="Hello, how can I help?")

    [first] = append(line(ticket, "My order", "c:1"))
    timer = SlaTimer.objects.get(ticket=ticket, metric="next_response", is_current=True)
    started_by = Ticket.objects.get(pk=ticket.pk).last_customer_message_at
    [second] = append(line(ticket, "It is #42", "c:2"))

    assert first.is_new and timer.state == TimerState.RUNNING and timer.started_at == started_by
    timer_after = SlaTimer.objects.get(ticket=ticket, metric="next_response", is_current=True)
    assert (timer_after.pk, timer_after.started_at, timer_after.due_at) == (timer.pk, timer.started_at, timer.due_at)
    assert second.is_new


def test_a_line_from_someone_else_than_the_requester_is_refused_and_the_others_stand():
    ticket, other_ticket = make_ticket(), make_ticket()
    stranger = make_customer()

    results = append(line(ticket, "not mine", "c:1", customer_id=stranger.pk), line(other_ticket, "mine", "c:2"))

    assert isinstance(results[0], PermissionDenied)
    assert not Message.objects.filter(author_customer=stranger).exists()
    assert isinstance(results[1], AppendedLine) and thread(other_ticket)[-1] == ("customer", "mine")


def test_lines_of_a_channel_that_calls_for_agent_mail_queue_it_and_chat_lines_do_not(
        monkeypatch, django_capture_on_commit_callbacks):
    from tickets import notifications

    queued: list[int] = []
    monkeypatch.setattr(notifications, "enqueue_notifications", queued.append)
    ticket = make_ticket(team=make_team())

    with django_capture_on_commit_callbacks(execute=True):
        [chat_line] = append(line(ticket, "typed in the chat", "c:1"))
        [other] = ticket_customer_lines_append(lines=[line(ticket, "sent by text message", "sms:1")], channel="api",
                                               via="sms")

    events = {event.to_value["message"]: event.pk for event in Event.objects.filter(kind="reply_added")}
    assert queued == [events[other.message_id]]
    assert chat_line.message_id in events
