"""The demo's SLA configuration: two calendars and three policies, found-or-created by name.

* "Support hours (Shanghai)": 09:00–18:00 Monday–Friday in Asia/Shanghai, with China's public
  holidays (and weekend make-up workdays) of this year and next imported.
* "24/7": always open.
* Policies, first match wins: "Demo: 1-minute response" (tag `demo-sla`: answer within one minute,
  so `make run` shows a warning after 30 s and a breach with its escalation within a minute),
  "Urgent 24/7" (urgent tickets, calendar hours), "Standard" (the rest, business hours).

Existing rows are left as an admin may have edited them; only missing ones are created.
"""

from __future__ import annotations

from django.utils import timezone

from tickets.models import BusinessHours, SlaPolicy, User
from tickets.sla.services import business_hours_import_holidays

SHANGHAI_CALENDAR = "Support hours (Shanghai)"
ALWAYS_OPEN_CALENDAR = "24/7"
DEMO_TAG = "demo-sla"
DEMO_POLICY = "Demo: 1-minute response"
URGENT_POLICY = "Urgent 24/7"
STANDARD_POLICY = "Standard"
ESCALATION_TAG = "sla-escalated"

_ALL_METRICS_CALENDAR_TIME = {
    "first_response_business_hours": False, "next_response_business_hours": False, "resolution_business_hours": False,
}


def ensure_calendars() -> tuple[BusinessHours, BusinessHours]:
    shanghai, _ = BusinessHours.objects.get_or_create(
        name=SHANGHAI_CALENDAR,
        defaults={"timezone": "Asia/Shanghai", "weekly": {str(day): ["09:00-18:00"] for day in range(5)}},
    )
    this_year = timezone.localdate().year
    for year in (this_year, this_year + 1):
        # One query when already imported; the import itself skips dates the calendar has.
        if not shanghai.holidays.filter(source=f"imported: CN {year}").exists():
            business_hours_import_holidays(calendar=shanghai, country="CN", year=year)
    always_open, _ = BusinessHours.objects.get_or_create(
        name=ALWAYS_OPEN_CALENDAR, defaults={"timezone": "UTC", "always_open": True}
    )
    return shanghai, always_open


def ensure_sla(users: dict[str, User]) -> list[SlaPolicy]:
    """Create the demo calendars and policies if missing; returns the policies in match order."""
    shanghai, always_open = ensure_calendars()
    manager = users.get("manager")
    specs = [
        (DEMO_POLICY, {
            "position": 1, "tags": [DEMO_TAG], "calendar": always_open, **_ALL_METRICS_CALENDAR_TIME,
            "targets": {priority: {"first_response": 1} for priority in ("low", "normal", "high", "urgent")},
            "warning_percent": 50, "escalate_priority": "raise", "escalate_add_tag": ESCALATION_TAG,
        }),
        (URGENT_POLICY, {
            "position": 10, "priorities": ["urgent"], "calendar": always_open, **_ALL_METRICS_CALENDAR_TIME,
            "targets": {"urgent": {"first_response": 30, "next_response": 60, "resolution": 240}},
            "warning_percent": 75, "escalate_add_tag": ESCALATION_TAG,
        }),
        (STANDARD_POLICY, {
            "position": 100, "calendar": shanghai,
            "targets": {
                "low": {"first_response": 480, "next_response": 960, "resolution": 4800},
                "normal": {"first_response": 240, "next_response": 480, "resolution": 2400},
                "high": {"first_response": 60, "next_response": 120, "resolution": 960},
            },
            "warning_percent": 75, "escalate_priority": "raise",
        }),
    ]
    policies = []
    for name, defaults in specs:
        policy, created = SlaPolicy.objects.get_or_create(name=name, defaults=defaults)
        if created and manager is not None and name != STANDARD_POLICY:
            policy.escalate_notify.add(manager)
        policies.append(policy)
    return policies
