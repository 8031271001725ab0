"""The routing and automation demo (issue 9's acceptance through `make run`): the demo teams route by
round-robin and skills along an escalation path, demo triggers, automations and macros exist and are
valid, and the demo customer has tickets by email, chat and phone."""

from __future__ import annotations

import pytest

from tickets.demo import DEMO_CUSTOMER_EMAIL
from tickets.demo.automation import seed_automation
from tickets.demo.base import ensure_base_data
from tickets.models import Channel, Macro, MacroTranslation, RoutingStrategy, Rule, RuleKind, Team, Ticket
from tickets.rules.vocabulary import validate_actions, validate_conditions

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_base():
    ensure_base_data(tickets=0)


def test_demo_teams_route_by_round_robin_and_skills_along_an_escalation_path(demo_base):
    seed_automation()

    teams = {team.slug: team for team in Team.objects.select_related("escalates_to")}
    assert teams["support"].routing_strategy == RoutingStrategy.ROUND_ROBIN
    assert teams["support"].first_contact_ownership is True
    assert teams["billing"].routing_strategy == RoutingStrategy.SKILL_BASED
    assert teams["tech"].routing_strategy == RoutingStrategy.SKILL_BASED
    assert teams["support"].escalates_to.slug == "tech"
    assert teams["tech"].escalates_to.slug == "engineering"
    assert teams["engineering"].memberships.filter(is_lead=True).exists()


def test_demo_rules_and_macros_exist_and_pass_validation(demo_base):
    seed_automation()

    triggers = Rule.objects.filter(kind=RuleKind.TRIGGER, is_active=True)
    automations = Rule.objects.filter(kind=RuleKind.AUTOMATION, is_active=True)
    assert triggers.count() >= 5 and automations.count() >= 3
    for rule in Rule.objects.all():
        assert validate_conditions(rule.conditions) == rule.conditions
        assert validate_actions(rule.actions) == rule.actions
        assert rule.events or rule.kind == RuleKind.AUTOMATION
    assert Macro.objects.filter(owner__isnull=True, team__isnull=True).exists()  # shared with everyone
    assert Macro.objects.filter(team__slug="billing").exists()
    assert Macro.objects.filter(owner__username="agent").exists()  # a personal one
    assert set(MacroTranslation.objects.values_list("language", flat=True)) == {"zh-hans", "zh-hant"}
    for macro in Macro.objects.all():
        assert validate_actions(macro.actions, for_macro=True) == macro.actions


def test_demo_customer_has_tickets_by_email_chat_and_phone(demo_base):
    seed_automation()

    channels = set(Ticket.objects.filter(requester__email=DEMO_CUSTOMER_EMAIL).values_list("channel", flat=True))
    assert {Channel.EMAIL, Channel.CHAT, Channel.PHONE} <= channels
    phone_ticket = Ticket.objects.get(requester__email=DEMO_CUSTOMER_EMAIL, channel=Channel.PHONE)
    assert phone_ticket.messages.filter(body_text__contains="3 min 5 s").exists()  # the logged call's entry


def test_seeding_twice_adds_nothing_and_keeps_an_admins_routing_choice(demo_base):
    seed_automation()
    Team.objects.filter(slug="billing").update(routing_strategy=RoutingStrategy.MANUAL)
    counts = (Rule.objects.count(), Macro.objects.count(), Ticket.objects.count())

    seed_automation()

    assert (Rule.objects.count(), Macro.objects.count(), Ticket.objects.count()) == counts
    assert Team.objects.get(slug="billing").routing_strategy == RoutingStrategy.MANUAL


def test_demo_customer_pages_have_a_health_trend(demo_base):
    from tickets.models import HealthSnapshot

    seed_automation()

    days = HealthSnapshot.objects.filter(customer__email=DEMO_CUSTOMER_EMAIL).values_list("day", flat=True)
    assert len(set(days)) == 13  # a week apart over 12 weeks, and today
    seed_automation()
    assert HealthSnapshot.objects.filter(customer__email=DEMO_CUSTOMER_EMAIL).count() == 13
