import pytest
from django.core.exceptions import PermissionDenied

from tests.factories import make_agent, make_customer, make_team, make_ticket, make_user
from tickets.models import Event, Role, Status
from tickets.services import ticket_merge, ticket_update, tickets_bulk_update, tickets_close_solved

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return make_team()


def test_each_changed_field_writes_one_event_and_unchanged_writes_none(team):
    agent = make_agent(team)
    ticket = make_ticket(team=team)

    ticket_update(ticket=ticket, actor=agent, priority="high", add_tags=["vip"], ticket_type="incident")
    ticket_update(ticket=ticket, actor=agent, priority="high")

    kinds = sorted(Event.objects.filter(ticket=ticket).exclude(kind="created").values_list("kind", flat=True))
    assert kinds == ["priority_changed", "tags_changed", "type_changed"]
    priority_event = Event.objects.get(ticket=ticket, kind="priority_changed")
    assert (priority_event.from_value, priority_event.to_value, priority_event.actor_user) == ("normal", "high", agent)


def test_assigning_a_new_ticket_opens_it(team):
    agent = make_agent(team)
    ticket = make_ticket(team=team)

    ticket_update(ticket=ticket, actor=agent, assignee=agent)

    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status) == (agent, Status.OPEN)


def test_agent_cannot_assign_to_someone_outside_the_team(team):
    agent = make_agent(team)
    outsider = make_agent(make_team())
    ticket = make_ticket(team=team)

    with pytest.raises(PermissionDenied):
        ticket_update(ticket=ticket, actor=agent, assignee=outsider)
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_agent_cannot_take_a_ticket_off_a_colleague_but_lead_can(team):
    agent, colleague = make_agent(team), make_agent(team)
    lead = make_user(role=Role.TEAM_LEAD, teams=[team], lead_of=[team])
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=colleague, assignee=colleague)

    with pytest.raises(PermissionDenied):
        ticket_update(ticket=ticket, actor=agent, assignee=agent)
    ticket_update(ticket=ticket, actor=lead, assignee=agent)

    ticket.refresh_from_db()
    assert ticket.assignee == agent


def test_moving_team_unassigns_an_assignee_who_is_not_in_the_new_team(team):
    other_team = make_team()
    agent = make_agent(team, other_team)
    only_here = make_agent(team)
    ticket = make_ticket(team=team)
    ticket_update(ticket=ticket, actor=only_here, assignee=only_here)

    ticket_update(ticket=ticket, actor=agent, team=other_team)

    ticket.refresh_from_db()
    assert (ticket.team, ticket.assignee) == (other_team, None)


def test_customer_may_mark_solved_and_reopen_but_nothing_else(team):
    ticket = make_ticket(team=team)
    customer_user = ticket.requester.user

    ticket_update(ticket=ticket, actor=customer_user, status=Status.SOLVED)
    ticket_update(ticket=ticket, actor=customer_user, status=Status.OPEN)
    with pytest.raises(PermissionDenied):
        ticket_update(ticket=ticket, actor=customer_user, priority="urgent")
    with pytest.raises(PermissionDenied):
        ticket_update(ticket=ticket, actor=customer_user, status=Status.PENDING)

    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.reopen_count) == (Status.OPEN, "normal", 1)


def test_bulk_update_reports_refusals_and_applies_the_rest(team):
    agent = make_agent(team)
    mine = make_ticket(team=team)
    closed = make_ticket(team=team)
    ticket_update(ticket=closed, actor=agent, status=Status.SOLVED)
    ticket_update(ticket=closed, actor=agent, status=Status.CLOSED)

    updated, refused = tickets_bulk_update(tickets=[mine, closed], actor=agent, status=Status.PENDING)

    assert updated == 1
    assert [number for number, _ in refused] == [closed.number]
    mine.refresh_from_db()
    assert mine.status == Status.PENDING


def test_merge_moves_thread_and_closes_source(team):
    agent = make_agent(team)
    customer = make_customer()
    target = make_ticket(team=team, requester=customer, subject="Cannot log in")
    source = make_ticket(team=team, requester=customer, subject="Login broken", body="Same again")

    ticket_merge(source=source, target=target, actor=agent)

    source.refresh_from_db()
    target.refresh_from_db()
    assert source.status == Status.CLOSED
    assert source.merged_into == target
    texts = list(target.messages.order_by("id").values_list("body_text", flat=True))
    assert "Same again" in texts
    assert f"#{source.number}" in texts[-1]
    assert target.message_count == 3
    assert Event.objects.filter(ticket=source, kind="merged_into").exists()


def test_merge_refused_for_agent_who_cannot_see_target(team):
    agent = make_agent(team)
    source = make_ticket(team=team)
    hidden = make_ticket(team=make_team())

    with pytest.raises(PermissionDenied):
        ticket_merge(source=source, target=hidden, actor=agent)
    source.refresh_from_db()
    assert source.merged_into is None


def test_auto_close_closes_only_tickets_solved_long_enough(team, settings):
    settings.HELPDESK_AUTO_CLOSE_DAYS = 4
    agent = make_agent(team)
    old, recent = make_ticket(team=team), make_ticket(team=team)
    for ticket in (old, recent):
        ticket_update(ticket=ticket, actor=agent, status=Status.SOLVED)
    from datetime import timedelta

    from django.utils import timezone

    type(old).objects.filter(pk=old.pk).update(solved_at=timezone.now() - timedelta(days=5))

    assert tickets_close_solved() == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.status, recent.status) == (Status.CLOSED, Status.SOLVED)
    assert Event.objects.get(ticket=old, kind="status_changed", to_value="closed").via == "auto_close"


def test_the_system_moves_and_assigns_in_one_change_and_its_events_name_it(team):
    escalation = make_team()
    lead = make_user(role=Role.TEAM_LEAD, teams=[escalation], lead_of=[escalation])
    ticket = make_ticket(team=team, assignee=make_agent(team))

    ticket_update(ticket=ticket, actor=None, team=escalation, assignee=lead, priority="urgent", via="sla",
                  actor_kind="sla")

    ticket.refresh_from_db()
    assert (ticket.team, ticket.assignee, ticket.priority) == (escalation, lead, "urgent")
    changed = Event.objects.filter(ticket=ticket, kind__in=["team_changed", "assignee_changed", "priority_changed"])
    assert sorted((event.kind, event.actor_kind, event.via, event.actor_user_id) for event in changed) == [
        ("assignee_changed", "sla", "sla", None), ("priority_changed", "sla", "sla", None),
        ("team_changed", "sla", "sla", None),
    ]


@pytest.mark.parametrize("who", ["outsider", "inactive", "customer"])
def test_the_system_never_assigns_someone_who_may_not_hold_the_ticket(team, who):
    if who == "outsider":
        person = make_agent(make_team())
    elif who == "inactive":
        person = make_agent(team, is_active=False)
    else:
        person = make_customer(with_login=True).user
    ticket = make_ticket(team=team)

    with pytest.raises(PermissionDenied):
        ticket_update(ticket=ticket, actor=None, assignee=person, via="sla")
    ticket.refresh_from_db()
    assert ticket.assignee is None
