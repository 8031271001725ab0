"""Editing a policy or calendar: new timers follow at once; open ones only when the admin chooses
"Recompute open timers" (or when the ticket next changes its target)."""

from __future__ import annotations

from datetime import UTC, date

import pytest
from django.urls import reverse

from tests.factories import make_user
from tests.tickets.sla.conftest import local, ticket_at
from tickets.models import BusinessHoliday, Event, Role, SlaTimer
from tickets.sla.services import sla_recompute_tickets, sla_timers_sync

pytestmark = pytest.mark.django_db

FRIDAY_1755 = local(2026, 12, 4, 17, 55)
SATURDAY = local(2026, 12, 5, 12, 0)


def first_response(ticket) -> SlaTimer:
    return SlaTimer.objects.get(ticket=ticket, metric="first_response", is_current=True)


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True))
    return client


def test_a_holiday_added_later_moves_an_open_timer_only_when_recomputed(policy, office_hours):
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")
    assert first_response(ticket).due_at == local(2026, 12, 7, 9, 55)

    BusinessHoliday.objects.create(calendar=office_hours, date=date(2026, 12, 7), name="Office closed")
    sla_timers_sync(ticket=ticket, now=SATURDAY, reason="status_changed")  # an ordinary change: kept
    assert first_response(ticket).due_at == local(2026, 12, 7, 9, 55)

    assert sla_recompute_tickets(ticket_ids=[ticket.pk], now=SATURDAY, reason="calendar_changed") == 1

    assert first_response(ticket).due_at == local(2026, 12, 8, 9, 55)  # Monday is off now: Tuesday
    ticket.refresh_from_db()
    assert ticket.sla_due_at == local(2026, 12, 8, 9, 55)
    event = Event.objects.filter(ticket=ticket, kind="sla_updated", field="first_response").get()
    assert event.to_value["previous_due_at"] == local(2026, 12, 7, 9, 55).astimezone(UTC).isoformat()
    # Done once: a second run finds nothing to change and writes nothing.
    assert sla_recompute_tickets(ticket_ids=[ticket.pk], now=SATURDAY, reason="calendar_changed") == 0
    assert Event.objects.filter(ticket=ticket, kind="sla_updated").count() == 2  # first response + resolution


def test_a_breached_target_stays_breached_when_recomputed(policy, office_hours):
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")
    SlaTimer.objects.filter(ticket=ticket, metric="first_response").update(breached_at=local(2026, 12, 7, 9, 55))

    BusinessHoliday.objects.create(calendar=office_hours, date=date(2026, 12, 7), name="Office closed")
    sla_recompute_tickets(ticket_ids=[ticket.pk], now=local(2026, 12, 7, 11, 0), reason="calendar_changed")

    timer = first_response(ticket)
    assert (timer.due_at, timer.breached_at) == (local(2026, 12, 7, 9, 55), local(2026, 12, 7, 9, 55))


def test_admin_saves_a_calendar_with_recompute_and_open_timers_follow(admin_client, celery_eager, policy, office_hours,
                                                                      django_capture_on_commit_callbacks):
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")
    page = admin_client.get(reverse("admin:tickets_businesshours_change", args=[office_hours.pk])).content.decode()
    assert 'name="recompute_open_timers"' in page
    BusinessHoliday.objects.create(calendar=office_hours, date=date(2026, 12, 7), name="Office closed")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:tickets_businesshours_changelist"), {
            "action": "recompute_open_timers", "_selected_action": [office_hours.pk],
        }, follow=True)

    assert "Open timers are being recomputed in the background." in response.content.decode()
    # Recomputed at the wall clock (after the Friday start): Monday is a holiday now.
    assert first_response(ticket).due_at == local(2026, 12, 8, 9, 55)


def test_admin_saves_a_policy_with_a_new_target_and_recompute(admin_client, celery_eager, policy,
                                                              django_capture_on_commit_callbacks):
    ticket = ticket_at(FRIDAY_1755)
    sla_timers_sync(ticket=ticket, now=FRIDAY_1755, reason="created")
    form = {
        "name": policy.name, "position": policy.position, "is_active": "on", "calendar": policy.calendar_id,
        "targets": '{"normal": {"first_response": 120, "resolution": 480}}',
        "first_response_business_hours": "on", "next_response_business_hours": "on",
        "resolution_business_hours": "on", "pause_statuses": "pending,on_hold", "warning_percent": 75,
        "resolution_on_reopen": "continue", "escalate_priority": "", "priorities": "", "channels": "",
        "ticket_types": "", "customer_tiers": "", "tags": "",
    }

    admin_client.post(reverse("admin:tickets_slapolicy_change", args=[policy.pk]), form)
    assert first_response(ticket).due_at == local(2026, 12, 7, 9, 55)  # saved without recompute: unchanged

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:tickets_slapolicy_change", args=[policy.pk]),
                                     {**form, "recompute_open_timers": "on"})

    assert response.status_code == 302, response.content.decode()[:2000]
    timer = first_response(ticket)
    assert (timer.target_minutes, timer.due_at) == (120, local(2026, 12, 7, 10, 55))
