"""The phone demo data: the demo agent's extension and the callback SLA, which missed calls get."""

from __future__ import annotations

import pytest
from django.utils import timezone

from channels_intake.phone import services
from channels_intake.phone.demo import CALLBACK_POLICY, seed_phone
from channels_intake.phone.models import AgentExtension, CallDirection, CallProvider, CallState
from tests.factories import make_agent, make_team
from tickets.models import SlaPolicy, SlaTimer, Ticket

pytestmark = pytest.mark.django_db


def test_demo_gives_the_agent_extension_101_and_callbacks_an_sla_once():
    support = make_team(name="Support", slug="support")
    agent = make_agent(support, username="agent")

    seed_phone()
    seed_phone()

    assert AgentExtension.objects.get().user == agent
    assert AgentExtension.objects.get().extension == "101"
    assert SlaPolicy.objects.filter(name=CALLBACK_POLICY).count() == 1


def test_a_missed_call_gets_the_callback_sla():
    make_team(name="Support", slug="support")
    seed_phone()

    services.call_event_record(
        provider=CallProvider.GENERIC, call_id="m1", event=CallState.MISSED, occurred_at=timezone.now(),
        direction=CallDirection.INBOUND, from_number="13812345678", to_number="",
    )

    timer = SlaTimer.objects.get(ticket=Ticket.objects.get(), metric="first_response")
    assert timer.policy.name == CALLBACK_POLICY
    assert timer.target_minutes == 30
