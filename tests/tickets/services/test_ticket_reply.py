import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import Event, Message, Status, Ticket, Visibility
from tickets.services import TicketClosed, ticket_add_note, ticket_reply, ticket_update
from tickets.transitions import TransitionNotAllowed

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return make_team()


@pytest.fixture
def agent(team):
    return make_agent(team)


def test_first_agent_reply_sets_first_response_and_opens_new_ticket(team, agent):
    ticket = make_ticket(team=team)

    message = ticket_reply(ticket=ticket, actor=agent, body_text="We are on it.")

    ticket.refresh_from_db()
    assert message.author_kind == "agent"
    assert ticket.first_responded_at == message.created_at or ticket.first_responded_at is not None
    assert ticket.status == Status.OPEN
    assert ticket.message_count == 2
    assert list(Event.objects.filter(ticket=ticket).values_list("kind", flat=True).order_by("id")) == [
        "created", "reply_added", "status_changed",
    ]


def test_second_reply_keeps_first_response_time(team, agent):
    ticket = make_ticket(team=team)
    ticket_reply(ticket=ticket, actor=agent, body_text="one")
    ticket.refresh_from_db()
    first = ticket.first_responded_at

    ticket_reply(ticket=ticket, actor=agent, body_text="two")

    ticket.refresh_from_db()
    assert ticket.first_responded_at == first


def test_agent_reply_can_set_pending(team, agent):
    ticket = make_ticket(team=team)

    ticket_reply(ticket=ticket, actor=agent, body_text="Please send a screenshot", status=Status.PENDING)

    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING


def test_customer_reply_reopens_pending_ticket_without_counting_a_reopen(team, agent):
    ticket = make_ticket(team=team)
    ticket_reply(ticket=ticket, actor=agent, body_text="screenshot?", status=Status.PENDING)

    ticket_reply(ticket=ticket, actor=ticket.requester.user, body_text="here")

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.reopen_count == 0


def test_customer_reply_on_solved_ticket_reopens_and_counts(team, agent):
    ticket = make_ticket(team=team)
    ticket_reply(ticket=ticket, actor=agent, body_text="fixed", status=Status.SOLVED)
    ticket.refresh_from_db()
    assert ticket.solved_at is not None

    ticket_reply(ticket=ticket, actor=None, author_customer=ticket.requester, body_text="still broken", channel="email")

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.reopen_count == 1
    assert ticket.solved_at is None
    assert Event.objects.filter(ticket=ticket, kind="reopened").count() == 1


def test_customer_message_on_closed_ticket_opens_linked_follow_up(team, agent):
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    ticket_update(ticket=ticket, actor=None, status=Status.CLOSED, via="auto_close")

    message = ticket_reply(ticket=ticket, actor=ticket.requester.user, body_text="new problem")

    follow_up = message.ticket
    assert follow_up.pk != ticket.pk
    assert follow_up.follow_up_of_id == ticket.pk
    assert follow_up.team == team
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.message_count == 1


def test_agent_cannot_reply_on_closed_ticket(team, agent):
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    ticket_update(ticket=ticket, actor=agent, status=Status.CLOSED)

    with pytest.raises(TicketClosed):
        ticket_reply(ticket=ticket, actor=agent, body_text="too late")
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_closed_is_final(team, agent):
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    ticket_update(ticket=ticket, actor=agent, status=Status.CLOSED)

    with pytest.raises(TransitionNotAllowed):
        ticket_update(ticket=ticket, actor=agent, status=Status.OPEN)
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


def test_internal_note_is_staff_only_and_does_not_touch_first_response(team, agent):
    ticket = make_ticket(team=team)

    note = ticket_add_note(ticket=ticket, actor=agent, body_text="customer is VIP")

    ticket.refresh_from_db()
    assert note.visibility == Visibility.INTERNAL
    assert ticket.first_responded_at is None
    assert ticket.status == Status.NEW
    with pytest.raises(PermissionDenied):
        ticket_add_note(ticket=ticket, actor=ticket.requester.user, body_text="sneaky")
    assert Message.objects.filter(ticket=ticket, visibility=Visibility.INTERNAL).count() == 1


def test_customer_cannot_set_status_while_replying(team):
    ticket = make_ticket(team=team)

    with pytest.raises(PermissionDenied):
        ticket_reply(ticket=ticket, actor=ticket.requester.user, body_text="x", status=Status.SOLVED)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


def test_customer_cannot_reply_on_another_customers_ticket(team):
    ticket = make_ticket(team=team)
    stranger = make_customer()

    with pytest.raises(PermissionDenied):
        ticket_reply(ticket=ticket, actor=stranger.user, body_text="hi")
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_empty_reply_is_refused(team, agent):
    ticket = make_ticket(team=team)

    with pytest.raises(ValidationError):
        ticket_reply(ticket=ticket, actor=agent, body_text="   ")
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_duplicate_inbound_reply_is_stored_once(team):
    ticket = make_ticket(team=team)
    customer = ticket.requester

    first = ticket_reply(ticket=ticket, actor=None, author_customer=customer, body_text="a", channel="email",
                         external_id="<m1@x>")
    again = ticket_reply(ticket=ticket, actor=None, author_customer=customer, body_text="a", channel="email",
                         external_id="<m1@x>")

    assert first.pk == again.pk
    assert Message.objects.filter(ticket=ticket).count() == 2


def test_reply_from_customer_without_identity_is_refused(team):
    ticket = make_ticket(team=team)
    with pytest.raises(PermissionDenied):
        ticket_reply(ticket=ticket, actor=None, body_text="who am I")
