"""Followers: who may follow (or make others follow) a ticket, and the mails they get for the
customer's replies and status changes, never for their own changes."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.tickets.collaboration.conftest import logged_in, mails_to, text_of
from tickets.collaboration import selectors
from tickets.collaboration.services import follower_add, follower_remove
from tickets.models import Event, NotificationDelivery, TicketFollower
from tickets.services import ticket_assign, ticket_reply, ticket_update, tickets_close_solved

pytestmark = pytest.mark.django_db


# --- who may follow ---------------------------------------------------------------------------------


def test_an_agent_follows_and_unfollows_a_ticket_and_both_are_audited(ticket, ada):
    follower_add(ticket=ticket, user=ada, actor=ada)
    follower_add(ticket=ticket, user=ada, actor=ada)  # twice: still one follower, one event

    assert selectors.ticket_followers(ticket=ticket) == [ada]
    assert list(selectors.followed_tickets(user=ada)) == [ticket]
    assert follower_remove(ticket=ticket, user=ada, actor=ada) is True
    assert follower_remove(ticket=ticket, user=ada, actor=ada) is False
    assert list(Event.objects.filter(ticket=ticket, kind__startswith="follower_").values_list("kind", flat=True)
                .order_by("pk")) == ["follower_added", "follower_removed"]


def test_an_agent_of_another_team_cannot_follow(ticket, bill):
    with pytest.raises(PermissionDenied):
        follower_add(ticket=ticket, user=bill, actor=bill)

    assert not TicketFollower.objects.exists()


def test_a_plain_agent_cannot_make_a_colleague_follow_or_unfollow(ticket, ada, bo):
    with pytest.raises(PermissionDenied):
        follower_add(ticket=ticket, user=bo, actor=ada)
    follower_add(ticket=ticket, user=bo, actor=bo)
    with pytest.raises(PermissionDenied):
        follower_remove(ticket=ticket, user=bo, actor=ada)

    assert selectors.ticket_followers(ticket=ticket) == [bo]


def test_the_teams_lead_and_a_manager_add_agents_of_the_team(ticket, lena, mona, ada, bo):
    follower_add(ticket=ticket, user=ada, actor=lena)
    follower_add(ticket=ticket, user=bo, actor=mona)
    follower_remove(ticket=ticket, user=ada, actor=mona)

    assert selectors.ticket_followers(ticket=ticket) == [bo]
    event = Event.objects.get(ticket=ticket, kind="follower_added", to_value__user=ada.pk)
    assert event.actor_user == lena


def test_a_lead_cannot_add_someone_who_cannot_see_the_ticket(ticket, lena, bill):
    with pytest.raises(ValidationError):
        follower_add(ticket=ticket, user=bill, actor=lena)

    assert not TicketFollower.objects.exists()


def test_a_lead_of_another_team_cannot_add_followers(ticket, billing, ada, mona):
    from tests.factories import make_user
    from tickets.models import Role

    other_lead = make_user(role=Role.TEAM_LEAD, teams=[billing], lead_of=[billing])
    with pytest.raises(PermissionDenied):
        follower_add(ticket=ticket, user=ada, actor=other_lead)


# --- what they get ----------------------------------------------------------------------------------


def test_a_follower_gets_the_customers_reply_like_the_assignee(outbox, act, ticket, alice, ada, bo):
    ticket_assign(ticket=ticket, assignee=ada, actor=ada)
    follower_add(ticket=ticket, user=bo, actor=bo)

    act(ticket_reply, ticket=ticket, actor=alice.user, body_text="Still burning!")

    assert sorted(r for d in outbox.deliveries for r in d.recipients) == ["ada@staff.example", "bo@staff.example"]
    [mail] = mails_to(outbox, "bo@staff.example")
    assert mail["Subject"] == f"[#{ticket.number}] Alice replied: Printer on fire"
    assert "Still burning!" in text_of(mail)


def test_a_follower_who_switched_customer_reply_mail_off_gets_none(outbox, act, ticket, alice, bo):
    bo.notify_on_customer_reply = False
    bo.save()
    follower_add(ticket=ticket, user=bo, actor=bo)

    act(ticket_reply, ticket=ticket, actor=alice.user, body_text="Hello?")

    assert mails_to(outbox, bo.email) == []


def test_a_follower_hears_of_a_colleagues_status_change_but_not_of_their_own(outbox, act, ticket, ada, bo):
    follower_add(ticket=ticket, user=ada, actor=ada)
    follower_add(ticket=ticket, user=bo, actor=bo)

    act(ticket_update, ticket=ticket, actor=ada, status="pending")

    assert mails_to(outbox, ada.email) == []
    [mail] = mails_to(outbox, bo.email)
    assert mail["Subject"] == f"[#{ticket.number}] Status changed to Pending: Printer on fire"
    assert f"Ada Agent changed the status of ticket #{ticket.number} “Printer on fire” from New to Pending." in text_of(mail)
    assert NotificationDelivery.objects.get(recipient=bo).kind == "status_changed"


def test_a_status_change_without_followers_queues_no_notification(outbox, act, ticket, ada):
    act(ticket_update, ticket=ticket, actor=ada, status="pending")

    assert outbox.deliveries == []
    assert NotificationDelivery.objects.count() == 0


def test_a_customer_reply_that_reopens_mails_the_follower_once(outbox, act, ticket, alice, ada, bo):
    follower_add(ticket=ticket, user=bo, actor=bo)
    ticket_update(ticket=ticket, actor=ada, status="solved")

    act(ticket_reply, ticket=ticket, actor=alice.user, body_text="Not fixed.")

    [mail] = mails_to(outbox, bo.email)
    assert "replied" in mail["Subject"]


def test_the_automatic_close_of_a_solved_ticket_mails_no_follower(outbox, act, ticket, ada, bo, settings):
    follower_add(ticket=ticket, user=bo, actor=bo)
    ticket_update(ticket=ticket, actor=ada, status="solved")
    settings.HELPDESK_AUTO_CLOSE_DAYS = 0

    assert act(tickets_close_solved) == 1

    assert mails_to(outbox, bo.email) == []


def test_a_follower_who_lost_access_gets_nothing(outbox, act, ticket, alice, bo):
    follower_add(ticket=ticket, user=bo, actor=bo)
    bo.team_memberships.all().delete()

    act(ticket_reply, ticket=ticket, actor=alice.user, body_text="Anyone?")

    assert mails_to(outbox, bo.email) == []


# --- pages ------------------------------------------------------------------------------------------


def test_follow_button_and_followed_list(ticket, ada):
    client = logged_in(ada)
    panel = client.get(f"/agent/tickets/{ticket.number}/collaboration/").content.decode()
    assert "data-follow" in panel and "Nobody follows this ticket." in panel

    response = client.post(f"/agent/tickets/{ticket.number}/follow/")

    assert response.status_code == 302
    assert selectors.ticket_followers(ticket=ticket) == [ada]
    panel = client.get(f"/agent/tickets/{ticket.number}/collaboration/").content.decode()
    assert "data-unfollow" in panel and "Ada Agent" in panel
    following = client.get("/agent/following/").content.decode()
    assert f"#{ticket.number} Printer on fire" in following
    client.post(f"/agent/tickets/{ticket.number}/unfollow/")
    assert selectors.ticket_followers(ticket=ticket) == []


def test_another_teams_agent_gets_404_from_the_follow_pages(ticket, bill):
    client = logged_in(bill)

    assert client.get(f"/agent/tickets/{ticket.number}/collaboration/").status_code == 404
    assert client.post(f"/agent/tickets/{ticket.number}/follow/").status_code == 404
    assert not TicketFollower.objects.exists()


def test_a_plain_agent_posting_another_follower_changes_nothing(ticket, ada, bo):
    response = logged_in(ada).post(f"/agent/tickets/{ticket.number}/followers/add/", {"user": bo.pk}, follow=True)

    assert response.status_code == 200
    assert "Only a lead of the ticket&#x27;s team or a manager" in response.content.decode()
    assert not TicketFollower.objects.exists()


def test_a_lead_adds_a_follower_from_the_panel(ticket, lena, bo):
    client = logged_in(lena)
    panel = client.get(f"/agent/tickets/{ticket.number}/collaboration/").content.decode()
    assert f'<option value="{bo.pk}">Bo Agent</option>' in panel

    client.post(f"/agent/tickets/{ticket.number}/followers/add/", {"user": bo.pk})

    assert selectors.ticket_followers(ticket=ticket) == [bo]


def test_customers_and_anonymous_visitors_cannot_follow(ticket, alice):
    assert logged_in(alice.user).post(f"/agent/tickets/{ticket.number}/follow/").status_code == 403
    from django.test import Client

    response = Client().post(f"/agent/tickets/{ticket.number}/follow/")
    assert response.status_code == 302 and "login" in response["Location"]
    assert not TicketFollower.objects.exists()
