"""The phone channel's demo data (`make run`, seed_demo): the demo agent answers extension 101, and
callback tickets (missed calls, voicemails) have their own SLA: call back within 30 minutes, around
the clock. Existing rows are left as an admin may have edited them."""

from __future__ import annotations

from collections.abc import Callable

from channels_intake.phone.models import AgentExtension
from channels_intake.phone.services import CALLBACK_TAG
from tickets.models import BusinessHours, Channel, SlaPolicy, User

DEMO_AGENT_USERNAME = "agent"
DEMO_EXTENSION = "101"
CALLBACK_POLICY = "Phone callbacks"
# Before the generic policies of the demo (tickets.demo.sla: 10 and 100), after its 1-minute demo one (1).
CALLBACK_POLICY_POSITION = 5


def seed_phone(*, progress: Callable[[str], None] = lambda _m: None) -> None:
    agent = User.objects.filter(username=DEMO_AGENT_USERNAME).first()
    if (agent is not None and not AgentExtension.objects.filter(user=agent).exists()
            and not AgentExtension.objects.filter(extension=DEMO_EXTENSION).exists()):
        AgentExtension.objects.create(user=agent, extension=DEMO_EXTENSION)
    always_open = BusinessHours.objects.filter(always_open=True).order_by("pk").first()
    SlaPolicy.objects.get_or_create(
        name=CALLBACK_POLICY,
        defaults={
            "position": CALLBACK_POLICY_POSITION, "channels": [Channel.PHONE], "tags": [CALLBACK_TAG],
            "calendar": always_open, "first_response_business_hours": False,
            "next_response_business_hours": False, "resolution_business_hours": False,
            "targets": {priority: {"first_response": 30, "resolution": 480}
                        for priority in ("low", "normal", "high", "urgent")},
            "warning_percent": 50, "escalate_priority": "raise",
        },
    )
    progress(f"Phone: demo agent on extension {DEMO_EXTENSION}; callback tickets under the '{CALLBACK_POLICY}' SLA.")
