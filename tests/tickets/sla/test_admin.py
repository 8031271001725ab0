"""The admin pages for business hours and SLA policies."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from tests.factories import make_user
from tests.tickets.sla.conftest import WEEKDAYS_9_TO_18
from tickets.models import BusinessHours, Role, SlaPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True))
    return client


def test_admin_imports_public_holidays_for_a_country_and_year(admin_client):
    hours = BusinessHours.objects.create(name="London office", timezone="Europe/London", weekly=WEEKDAYS_9_TO_18)

    response = admin_client.post(
        reverse("admin:tickets_businesshours_changelist"),
        {"action": "import_public_holidays", "_selected_action": [hours.pk], "country": "GB", "year": "2026"},
        follow=True,
    )

    assert response.status_code == 200
    assert hours.holidays.filter(date=date(2026, 12, 25), source="imported: GB 2026").exists()
    assert "dates added" in response.content.decode()


def test_admin_pages_for_calendars_and_policies_render(admin_client, policy):
    assert admin_client.get(reverse("admin:tickets_businesshours_change", args=[policy.calendar_id])).status_code == 200
    assert admin_client.get(reverse("admin:tickets_slapolicy_change", args=[policy.pk])).status_code == 200
    assert admin_client.get(reverse("admin:tickets_slapolicy_changelist")).status_code == 200


def test_admin_refuses_a_policy_with_an_unknown_priority(admin_client):
    response = admin_client.post(reverse("admin:tickets_slapolicy_add"), {
        "name": "Bad", "position": 0, "is_active": "on", "targets": '{"critical": {"first_response": 10}}',
        "pause_statuses": "pending,on_hold", "warning_percent": 75, "resolution_on_reopen": "continue",
    })

    assert response.status_code == 200 and "Unknown priority" in response.content.decode()
    assert not SlaPolicy.objects.exists()
