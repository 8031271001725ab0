"""Every rule action, run by a trigger on a real ticket: fields, routing, notes, mail to the
requester, agents and teams (real SMTP to a loopback sink, tasks eager, on-commit executed),
macros and escalation. Webhooks have their own file."""

from __future__ import annotations

import pytest

from channels_intake.chat.presence import presence_write
from tests.channels_intake.outbound.conftest import celery_eager_retrying, smtp_sink  # noqa: F401 - fixtures
from tests.factories import make_agent, make_customer, make_team, make_ticket
from tests.tickets.rules.conftest import make_rule
from tickets.models import (
    AuthorKind,
    CustomFieldDefinition,
    Event,
    Macro,
    Message,
    NotificationDelivery,
    RoutingStrategy,
    RuleRun,
    Status,
    TeamMembership,
    Visibility,
)
from tickets.rules.tasks import rule_emails_send

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _site(settings):
    settings.HELPDESK_SITE_URL = "https://help.example.com"
    settings.LANGUAGE_CODE = "en"
    settings.HELPDESK_EMAIL_OUTBOUND_RETRY_SECONDS = 0


def run_of(rule) -> RuleRun:
    return RuleRun.objects.get(rule=rule)


@pytest.mark.parametrize(("action", "field", "expected"), [
    ({"type": "set_status", "value": "pending"}, "status", "pending"),
    ({"type": "set_priority", "value": "urgent"}, "priority", "urgent"),
    ({"type": "set_type", "value": "problem"}, "type", "problem"),
    ({"type": "add_tags", "value": ["vip", "billing"]}, "tags", ["start", "vip", "billing"]),
    ({"type": "remove_tags", "value": ["start"]}, "tags", []),
])
def test_field_actions_change_the_ticket_as_the_rule(team, action, field, expected):
    rule = make_rule(actions=[action])

    ticket = make_ticket(team=team, tags=["start"])

    ticket.refresh_from_db()
    assert getattr(ticket, field) == expected
    event = Event.objects.get(ticket=ticket, field=field, via=f"rule:{rule.pk}")
    assert event.actor_kind == "automation"
    assert run_of(rule).outcome == "applied"


def test_set_team_moves_the_ticket_and_assign_gives_it_to_an_agent(team, agent):
    billing = make_team(name="Billing")
    billing_agent = make_agent(billing)
    make_rule(position=1, actions=[{"type": "set_team", "value": str(billing.pk)},
                                   {"type": "assign", "value": str(billing_agent.pk)}])

    ticket = make_ticket(team=team)

    ticket.refresh_from_db()
    assert (ticket.team, ticket.assignee, ticket.status) == (billing, billing_agent, Status.OPEN)


def test_assign_empty_unassigns(team, agent):
    make_rule(events=["updated"], all=[{"field": "ticket.priority", "operator": "changed_to", "value": "low"}],
              actions=[{"type": "assign", "value": ""}])
    ticket = make_ticket(team=team)
    from tickets.services import ticket_update

    ticket_update(ticket=ticket, actor=agent, assignee=agent)
    ticket_update(ticket=ticket, actor=agent, priority="low")

    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_set_custom_field_keeps_the_other_fields(team):
    CustomFieldDefinition.objects.create(key="plan", label="Plan", field_type="text")
    CustomFieldDefinition.objects.create(key="region", label="Region", field_type="text")
    make_rule(actions=[{"type": "set_custom_field", "key": "plan", "value": "enterprise"}])

    ticket = make_ticket(team=team, custom_fields={"region": "APAC"})

    ticket.refresh_from_db()
    assert ticket.custom_fields == {"region": "APAC", "plan": "enterprise"}


def test_assign_by_routing_hands_the_ticket_to_the_teams_routing(team):
    routed = make_team(name="Routed", routing_strategy=RoutingStrategy.ROUND_ROBIN)
    online = make_agent(routed)
    presence_write(user_id=online.pk, status="online")
    rule = make_rule(actions=[{"type": "assign", "value": "routing"}])

    ticket = make_ticket(team=routed)

    ticket.refresh_from_db()
    assert ticket.assignee == online
    assert Event.objects.filter(ticket=ticket, kind="assignee_changed", via=f"rule:{rule.pk}").exists()
    assert run_of(rule).actions == [{"type": "assign", "result": f"assigned to {online.pk}"}]


def test_assign_by_routing_with_nobody_available_is_not_a_failure(team):
    rule = make_rule(actions=[{"type": "assign", "value": "routing"}])  # manual team

    ticket = make_ticket(team=team)

    assert ticket.assignee is None
    assert run_of(rule).outcome == "applied"
    assert run_of(rule).actions == [{"type": "assign", "result": "nobody available"}]


def test_add_note_is_an_internal_note_with_placeholders_filled(team):
    make_rule(actions=[{"type": "add_note", "body": "VIP {{ requester.name }} on #{{ ticket.number }}"}])

    ticket = make_ticket(team=team, requester=make_customer(name="Li Lei"))

    note = Message.objects.get(ticket=ticket, visibility=Visibility.INTERNAL)
    assert note.body_text == f"VIP Li Lei on #{ticket.number}"
    assert (note.author_kind, note.author_user) == (AuthorKind.SYSTEM, None)


def test_placeholders_in_customer_text_are_never_rendered_again(team):
    make_rule(actions=[{"type": "add_note", "body": "From {{ requester.name }}"}])

    ticket = make_ticket(team=team, requester=make_customer(name="{{ agent.name }} {% debug %}"))

    assert Message.objects.get(ticket=ticket, visibility=Visibility.INTERNAL).body_text == (
        "From {{ agent.name }} {% debug %}")


def test_email_requester_mails_the_rendered_text_after_commit(team, smtp_sink, celery_eager_retrying,  # noqa: F811
                                                               django_capture_on_commit_callbacks):
    make_rule(actions=[{"type": "email_requester", "subject": "We got it",
                        "body": "Hello {{ requester.first_name }}, ticket {{ ticket.number }} is with us."}])
    requester = make_customer(email="li.lei@example.com", name="Li Lei")

    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(team=team, requester=requester)

    reply = Message.objects.get(ticket=ticket, author_kind=AuthorKind.SYSTEM, visibility=Visibility.PUBLIC)
    assert reply.body_text == f"Hello Li, ticket {ticket.number} is with us."
    assert [d.recipients for d in smtp_sink.deliveries] == [["li.lei@example.com"]]
    mail = smtp_sink.deliveries[0].mail
    assert f"ticket {ticket.number} is with us" in mail.get_body(("plain",)).get_content()
    assert mail["Auto-Submitted"] == "auto-replied"
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None  # automatic mail is no agent's response


def test_email_requester_mails_under_the_rendered_subject_with_the_ticket_tag(
        team, smtp_sink, celery_eager_retrying, django_capture_on_commit_callbacks):  # noqa: F811
    make_rule(actions=[{"type": "email_requester", "subject": "We got it, {{ requester.first_name }}\r\nBcc: x@evil",
                        "body": "Thanks."}])
    requester = make_customer(email="li.lei@example.com", name="Li Lei")

    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(team=team, requester=requester, subject="Printer on fire")

    mail = smtp_sink.deliveries[0].mail
    # The action's subject, on one line, behind the tag a reply threads by.
    assert mail["Subject"] == f"[#{ticket.number}] We got it, Li Bcc: x@evil"
    assert mail["Bcc"] is None


def test_email_agent_mails_the_assignee_once_after_commit(team, agent, smtp_sink, celery_eager_retrying,  # noqa: F811
                                                           django_capture_on_commit_callbacks):
    rule = make_rule(events=["updated"], all=[{"field": "ticket.priority", "operator": "changed_to",
                                               "value": "urgent"}],
                     actions=[{"type": "email_agent", "recipient": "assignee",
                               "subject": "Urgent: {{ ticket.subject }}", "body": "Please look at it now."}])
    ticket = make_ticket(team=team, subject="Server down")
    from tickets.services import ticket_update

    ticket_update(ticket=ticket, actor=agent, assignee=agent)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_update(ticket=ticket, actor=None, priority="urgent")

    assert [d.recipients for d in smtp_sink.deliveries] == [[agent.email]]
    mail = smtp_sink.deliveries[0].mail
    assert mail["Subject"] == "Urgent: Server down"
    body = mail.get_body(("plain",)).get_content()
    assert "Please look at it now." in body and f"/agent/tickets/{ticket.number}" in body
    event = Event.objects.get(ticket=ticket, kind="rule_applied", via=f"rule:{rule.pk}")
    # A retried task mails nobody twice.
    assert rule_emails_send.delay(event.pk).get() == 0
    assert len(smtp_sink.deliveries) == 1
    assert NotificationDelivery.objects.get(event=event).state == "sent"


def test_email_agent_to_an_unassigned_ticket_mails_nobody(team, smtp_sink, celery_eager_retrying,  # noqa: F811
                                                           django_capture_on_commit_callbacks):
    rule = make_rule(actions=[{"type": "email_agent", "recipient": "assignee", "subject": "s", "body": "b"}])
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(team=team)
    assert smtp_sink.deliveries == []
    assert run_of(rule).actions == [{"type": "email_agent", "result": "no recipient"}]


def test_email_team_mails_every_active_member_who_may_see_the_ticket(team, agent, smtp_sink,  # noqa: F811
                                                                     celery_eager_retrying,  # noqa: F811
                                                                     django_capture_on_commit_callbacks):
    colleague = make_agent(team)
    gone = make_agent(team, is_active=False)
    outsider = make_agent(make_team())
    make_rule(actions=[{"type": "email_team", "team": str(team.pk), "subject": "New in {{ ticket.team }}",
                        "body": "Someone take it"}])

    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(team=team)

    recipients = sorted(r for d in smtp_sink.deliveries for r in d.recipients)
    assert recipients == sorted([agent.email, colleague.email])
    assert gone.email not in recipients and outsider.email not in recipients
    assert {d.mail["Subject"] for d in smtp_sink.deliveries} == {"New in Support"}


def test_email_agent_to_a_removed_agent_fails_the_run(team):
    agent = make_agent(team)
    rule = make_rule(actions=[{"type": "add_tags", "value": ["x"]},
                              {"type": "email_agent", "recipient": str(agent.pk), "subject": "s", "body": "b"}])
    TeamMembership.objects.filter(user=agent).delete()
    agent.delete()

    ticket = make_ticket(team=team)

    assert ticket.tags == []
    assert run_of(rule).outcome == "failed"


def test_apply_macro_applies_its_fields_and_adds_its_reply(team):
    macro = Macro.objects.create(title="Refund", reply_text="Your refund for #{{ ticket.number }} is on its way.",
                                 actions=[{"type": "add_tags", "value": ["refund"]},
                                          {"type": "set_status", "value": "pending"}])
    rule = make_rule(actions=[{"type": "apply_macro", "macro": str(macro.pk)}])

    ticket = make_ticket(team=team)

    ticket.refresh_from_db()
    assert (ticket.tags, ticket.status) == (["refund"], Status.PENDING)
    reply = Message.objects.get(ticket=ticket, author_kind=AuthorKind.SYSTEM, visibility=Visibility.PUBLIC)
    assert reply.body_text == f"Your refund for #{ticket.number} is on its way."
    assert run_of(rule).outcome == "applied"
    macro.refresh_from_db()
    assert macro.usage_count == 1


def test_apply_a_deleted_macro_fails_the_run(team):
    rule = make_rule(actions=[{"type": "apply_macro", "macro": "999999"}])
    make_ticket(team=team)
    assert run_of(rule).outcome == "failed"


def test_escalate_moves_the_ticket_to_the_next_level(team):
    level2 = make_team(name="Level 2")
    team.escalates_to = level2
    team.save(update_fields=["escalates_to"])
    rule = make_rule(actions=[{"type": "escalate"}])

    ticket = make_ticket(team=team)

    ticket.refresh_from_db()
    assert (ticket.team, ticket.escalation_level) == (level2, 1)
    assert run_of(rule).actions == [{"type": "escalate", "result": "level 1"}]


def test_actions_run_in_order_and_later_ones_see_earlier_changes(team):
    make_rule(actions=[{"type": "set_priority", "value": "urgent"},
                       {"type": "add_note", "body": "Priority now {{ ticket.priority }}"},
                       {"type": "set_status", "value": "open"}])

    ticket = make_ticket(team=team)

    note = Message.objects.get(ticket=ticket, visibility=Visibility.INTERNAL)
    assert note.body_text == "Priority now Urgent"
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.status) == ("urgent", "open")
    kinds = list(Event.objects.filter(ticket=ticket).exclude(kind="created").order_by("id")
                 .values_list("kind", flat=True))
    assert kinds.index("priority_changed") < kinds.index("note_added") < kinds.index("status_changed")
