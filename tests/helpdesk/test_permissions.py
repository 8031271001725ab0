"""Each access rule, and an attempt to break it."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from helpdesk import permissions
from tests.factories import make_agent, make_customer, make_organization, make_team, make_ticket, make_user
from tickets.models import Role

pytestmark = pytest.mark.django_db


def test_customer_sees_only_own_tickets():
    alice, bob = make_customer(), make_customer()
    mine = make_ticket(requester=alice)
    make_ticket(requester=bob)

    assert list(permissions.visible_tickets(alice.user)) == [mine]


def test_customer_gets_404_for_another_customers_ticket_number():
    alice, bob = make_customer(), make_customer()
    bobs = make_ticket(requester=bob)

    with pytest.raises(Http404):
        permissions.access_ticket_by_number(alice.user, bobs.number)


def test_garbage_ticket_numbers_are_404_not_errors():
    alice = make_customer()
    for number in ("abc", None, "1 OR 1=1", 10**30):
        with pytest.raises(Http404):
            permissions.access_ticket_by_number(alice.user, number)


def test_organization_contact_sees_organization_tickets_but_plain_member_does_not():
    org = make_organization()
    contact = make_customer(organization=org, sees_organization_tickets=True)
    member = make_customer(organization=org)
    colleague = make_customer(organization=org)
    colleagues_ticket = make_ticket(requester=colleague)

    assert colleagues_ticket in permissions.visible_tickets(contact.user)
    assert colleagues_ticket not in permissions.visible_tickets(member.user)


def test_agent_sees_only_tickets_of_own_teams():
    support, billing = make_team(), make_team()
    agent = make_agent(support)
    ours = make_ticket(team=support)
    theirs = make_ticket(team=billing)
    no_team = make_ticket(team=None)

    visible = set(permissions.visible_tickets(agent))
    assert visible == {ours}
    assert not permissions.can_view_ticket(agent, theirs)
    assert not permissions.can_view_ticket(agent, no_team)
    with pytest.raises(Http404):
        permissions.access_ticket_by_number(agent, theirs.number)


def test_manager_and_admin_see_everything():
    tickets = {make_ticket(team=make_team()), make_ticket(team=None)}
    for role in (Role.MANAGER, Role.ADMIN):
        user = make_user(role=role)
        assert set(permissions.visible_tickets(user)) == tickets


def test_anonymous_and_inactive_users_see_nothing():
    alice = make_customer()
    make_ticket(requester=alice)
    alice.user.is_active = False
    alice.user.save()

    assert not permissions.visible_tickets(AnonymousUser()).exists()
    assert not permissions.visible_tickets(alice.user).exists()


def test_customer_user_with_staff_role_name_in_display_name_gets_no_staff_rights():
    customer = make_customer(name="Admin")
    assert not permissions.is_staff_member(customer.user)
    assert not permissions.can_see_internal_notes(customer.user)
