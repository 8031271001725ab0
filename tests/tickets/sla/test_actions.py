"""What a fired SLA warning or breach does: who is told (mail over SMTP to a loopback sink, once),
and the policy's escalation, made through the ticket service with its audit events.

Times are relative to the ticket's creation (a 24/7 policy, calendar minutes), so the tests hold
whether or not the ticket services already started the timers when the ticket was created.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.channels_intake.outbound.conftest import celery_eager_retrying, smtp_sink  # noqa: F401 - fixtures
from tests.factories import make_agent, make_team, make_ticket, make_user
from tickets.models import Event, NotificationDelivery, NotificationState, Priority, Role, SlaPolicy, Ticket
from tickets.notifications import sla_recipients
from tickets.sla.actions import sla_fire_actions
from tickets.sla.services import SlaFiring, sla_scan_due, sla_timers_sync
from tickets.tasks import notify_agents

pytestmark = pytest.mark.django_db

SITE = "https://help.example.com"
# First response due after 60 calendar minutes, warned at 45.
TARGETS = {priority: {"first_response": 60} for priority in ("low", "normal", "high", "urgent")}


@pytest.fixture(autouse=True)
def _site(settings, celery_eager_retrying):  # noqa: F811 - the imported fixture
    settings.HELPDESK_SITE_URL = SITE
    settings.HELPDESK_EMAIL_OUTBOUND_RETRY_SECONDS = 0
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def support():
    return make_team("Support", slug="support")


@pytest.fixture
def billing():
    return make_team("Billing", slug="billing")


@pytest.fixture
def agent(support):
    return make_agent(support, display_name="Ana Agent", email="ana@staff.example")


@pytest.fixture
def teammate(support):
    return make_agent(support, display_name="Tom Mate", email="tom@staff.example")


@pytest.fixture
def manager():
    return make_user(role=Role.MANAGER, display_name="Mia Manager", email="mia@staff.example")


@pytest.fixture
def policy(manager):
    policy = SlaPolicy.objects.create(
        name="Round the clock", position=1, targets=TARGETS, warning_percent=75,
        first_response_business_hours=False, escalate_priority="raise", escalate_add_tag="sla-escalated",
    )
    policy.escalate_notify.add(manager)
    return policy


@pytest.fixture
def scan(django_capture_on_commit_callbacks):
    """One scan tick at `minutes` after the ticket's creation, actions on, on-commit callbacks run."""

    def scan(ticket: Ticket, minutes: float, on_fire=sla_fire_actions) -> list[SlaFiring]:
        with django_capture_on_commit_callbacks(execute=True):
            return sla_scan_due(now=ticket.created_at + timedelta(minutes=minutes), on_fire=on_fire)

    return scan


def open_ticket(**fields) -> Ticket:
    ticket = make_ticket(subject="Printer on fire", **fields)
    sla_timers_sync(ticket=ticket, now=ticket.created_at, reason="created")
    return Ticket.objects.get(pk=ticket.pk)


def mails_to(sink, address: str) -> list:
    return [delivery.mail for delivery in sink.deliveries if address in delivery.recipients]


def text_of(mail) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


# --- breach -----------------------------------------------------------------------------------------


def test_breach_escalates_once_through_the_ticket_service(smtp_sink, scan, policy, support, agent):  # noqa: F811
    ticket = open_ticket(team=support, assignee=agent, priority=Priority.NORMAL)

    fired = scan(ticket, 61)
    assert [firing.kind for firing in fired] == ["breach"]
    assert scan(ticket, 90) == []

    ticket.refresh_from_db()
    assert ticket.priority == Priority.HIGH  # raised one step, once
    assert "sla-escalated" in ticket.tags
    priority_event = Event.objects.get(ticket=ticket, kind="priority_changed")
    assert (priority_event.from_value, priority_event.to_value) == ("normal", "high")
    assert (priority_event.via, priority_event.actor_user) == ("sla", None)
    tags_event = Event.objects.get(ticket=ticket, kind="tags_changed")
    assert "sla-escalated" in tags_event.to_value and tags_event.via == "sla"
    assert Event.objects.filter(ticket=ticket, kind="sla_breached").count() == 1


def test_two_targets_missed_in_one_scan_escalate_the_ticket_one_step(smtp_sink, scan, policy, support, agent):  # noqa: F811
    # First response and resolution both due at the hour: the scan that finds them late fires both
    # breaches (two events, two notices) but raises the priority once, not normal → urgent.
    policy.targets = {priority: {"first_response": 60, "resolution": 60} for priority in ("normal", "high")}
    policy.save()
    ticket = open_ticket(team=support, assignee=agent, priority=Priority.NORMAL)

    fired = scan(ticket, 61)

    assert sorted(firing.metric for firing in fired if firing.kind == "breach") == ["first_response", "resolution"]
    ticket.refresh_from_db()
    assert ticket.priority == Priority.HIGH
    assert Event.objects.filter(ticket=ticket, kind="priority_changed").count() == 1
    assert Event.objects.filter(ticket=ticket, kind="sla_breached").count() == 2


def test_an_agent_who_switched_sla_mail_off_gets_none_but_the_manager_still_does(smtp_sink, scan, policy, support,  # noqa: F811
                                                                                  agent, manager):
    agent.notify_on_sla = False
    agent.save(update_fields=["notify_on_sla"])
    ticket = open_ticket(team=support, assignee=agent)

    scan(ticket, 61)

    assert mails_to(smtp_sink, "ana@staff.example") == []
    assert len(mails_to(smtp_sink, "mia@staff.example")) == 1


def test_breach_mails_the_assignee_and_the_policys_manager_once(smtp_sink, scan, policy, support, agent, teammate,  # noqa: F811
                                                                manager):
    ticket = open_ticket(team=support, assignee=agent)

    scan(ticket, 61)
    scan(ticket, 120)

    [to_agent] = mails_to(smtp_sink, "ana@staff.example")
    [to_manager] = mails_to(smtp_sink, "mia@staff.example")
    assert mails_to(smtp_sink, "tom@staff.example") == []  # the ticket has an assignee: not the whole team
    assert len(smtp_sink.deliveries) == 2
    assert to_agent["Subject"] == f"[#{ticket.number}] SLA breached (First response): Printer on fire"
    assert to_agent["Auto-Submitted"] == "auto-generated"
    text = text_of(to_agent)
    assert f"SLA breached on ticket #{ticket.number} “Printer on fire”: First response was due on" in text
    assert "Policy: Round the clock" in text
    assert f"{SITE}/agent/tickets/{ticket.number}/" in text
    assert to_manager["Subject"] == to_agent["Subject"]

    # The task run again for the same event (a redelivered message) mails nobody twice.
    event = Event.objects.get(ticket=ticket, kind="sla_breached")
    assert notify_agents.delay(event.pk).get() == 0
    assert len(smtp_sink.deliveries) == 2
    assert sorted(NotificationDelivery.objects.values_list("recipient__email", "kind", "state")) == [
        ("ana@staff.example", "sla_breached", NotificationState.SENT),
        ("mia@staff.example", "sla_breached", NotificationState.SENT),
    ]


def test_a_crash_after_the_actions_undoes_them_and_the_next_scan_acts_once(smtp_sink, scan, policy, support, agent):  # noqa: F811
    ticket = open_ticket(team=support, assignee=agent, priority=Priority.LOW)

    def act_then_crash(firing: SlaFiring) -> None:
        sla_fire_actions(firing)
        raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError):
        scan(ticket, 61, on_fire=act_then_crash)

    ticket.refresh_from_db()
    assert (ticket.priority, ticket.tags) == (Priority.LOW, [])
    assert not Event.objects.filter(ticket=ticket, kind__in=["sla_breached", "priority_changed"]).exists()
    assert smtp_sink.deliveries == []

    scan(ticket, 62)

    ticket.refresh_from_db()
    assert ticket.priority == Priority.NORMAL
    assert len(mails_to(smtp_sink, "ana@staff.example")) == 1


def test_priority_never_goes_above_urgent_or_down(policy, scan, support, agent):
    policy.escalate_priority = Priority.HIGH
    policy.save()
    urgent = open_ticket(team=support, assignee=agent, priority=Priority.URGENT)
    low = open_ticket(team=support, assignee=agent, priority=Priority.LOW)

    scan(urgent, 61)

    assert Ticket.objects.get(pk=urgent.pk).priority == Priority.URGENT
    assert Ticket.objects.get(pk=low.pk).priority == Priority.HIGH
    assert not Event.objects.filter(ticket=urgent, kind="priority_changed").exists()


def test_breach_moves_the_ticket_to_the_escalation_team_and_its_lead(policy, scan, support, billing, agent):
    billing_lead = make_user(role=Role.TEAM_LEAD, teams=[billing], lead_of=[billing])
    policy.escalate_to_team = billing
    policy.escalate_assign_to_lead = True
    policy.save()
    ticket = open_ticket(team=support, assignee=agent)

    scan(ticket, 61)

    ticket.refresh_from_db()
    assert (ticket.team, ticket.assignee) == (billing, billing_lead)
    assert Event.objects.filter(ticket=ticket, kind="team_changed", via="sla").exists()


def test_escalation_events_name_the_sla_as_actor(policy, scan, support, agent):
    ticket = open_ticket(team=support, assignee=agent)

    scan(ticket, 61)

    assert Event.objects.get(ticket=ticket, kind="priority_changed").actor_kind == "sla"


def test_escalation_to_another_team_keeps_priority_and_tag(policy, scan, support, billing, agent):
    policy.escalate_to_team = billing
    policy.save()
    ticket = open_ticket(team=support, assignee=agent, priority=Priority.NORMAL)

    fired = scan(ticket, 61)

    assert [firing.kind for firing in fired] == ["breach"]
    ticket.refresh_from_db()
    assert (ticket.team, ticket.priority, "sla-escalated" in ticket.tags) == (billing, Priority.HIGH, True)
    assert Event.objects.filter(ticket=ticket, kind="sla_breached").count() == 1


# --- warning ----------------------------------------------------------------------------------------


def test_warning_mails_the_team_of_an_unassigned_ticket_and_does_not_escalate(smtp_sink, scan, policy, support,  # noqa: F811
                                                                             agent, teammate, billing):
    outsider = make_agent(billing, email="out@staff.example")
    ticket = open_ticket(team=support, priority=Priority.NORMAL)

    fired = scan(ticket, 46)

    assert [firing.kind for firing in fired] == ["warning"]
    assert sorted(address for delivery in smtp_sink.deliveries for address in delivery.recipients) == [
        "ana@staff.example", "tom@staff.example",
    ]
    assert mails_to(smtp_sink, outsider.email) == []
    [mail] = mails_to(smtp_sink, "ana@staff.example")
    assert mail["Subject"] == f"[#{ticket.number}] SLA warning (First response): Printer on fire"
    assert "First response is due on" in text_of(mail)
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.tags) == (Priority.NORMAL, [])
    assert not mails_to(smtp_sink, "mia@staff.example")  # the manager hears of breaches only


def test_a_warning_answered_before_its_mail_left_is_not_sent(smtp_sink, policy, support, agent,  # noqa: F811
                                                             django_capture_on_commit_callbacks):
    ticket = open_ticket(team=support, assignee=agent)
    sla_scan_due(now=ticket.created_at + timedelta(minutes=46), on_fire=sla_fire_actions)  # mail task not run yet
    answered = ticket.created_at + timedelta(minutes=50)
    Ticket.objects.filter(pk=ticket.pk).update(first_responded_at=answered, last_agent_reply_at=answered)
    sla_timers_sync(ticket=Ticket.objects.get(pk=ticket.pk), now=answered, reason="replied")

    event = Event.objects.get(ticket=ticket, kind="sla_warning")
    assert notify_agents.delay(event.pk).get() == 0
    assert smtp_sink.deliveries == []


def test_recipients_are_staff_who_may_see_the_ticket(policy, support, billing, agent, manager):
    outsider = make_user(role=Role.AGENT, teams=[billing])
    policy.escalate_notify.add(outsider)
    inactive = make_agent(support, is_active=False)
    ticket = open_ticket(team=support)

    breach = sla_recipients(ticket=ticket, policy=policy, is_breach=True)
    warning = sla_recipients(ticket=ticket, policy=policy, is_breach=False)

    assert outsider not in breach and inactive not in breach
    assert set(breach) == {agent, manager}
    assert warning == [agent]
