"""Calls in the admin site: listed and shown with their webhook events, never edited."""

from __future__ import annotations

import pytest
from django.utils import timezone

from channels_intake.phone import services
from channels_intake.phone.models import CallDirection, CallProvider, CallState
from tests.factories import make_user
from tickets.models import Role

pytestmark = pytest.mark.django_db


def test_admin_lists_and_reads_calls_but_cannot_change_them(client, phone_team):
    outcome = services.call_event_record(
        provider=CallProvider.GENERIC, call_id="pbx-42", event=CallState.MISSED, occurred_at=timezone.now(),
        direction=CallDirection.INBOUND, from_number="13812345678", to_number="", payload={"call_id": "pbx-42"},
    )
    admin = make_user(role=Role.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(admin)

    listing = client.get("/admin/channels_intake/call/")
    detail = client.get(f"/admin/channels_intake/call/{outcome.call.pk}/change/")
    change = client.post(f"/admin/channels_intake/call/{outcome.call.pk}/change/", {"notes": "edited"})

    assert listing.status_code == 200 and "+8613812345678" in listing.content.decode()
    assert detail.status_code == 200 and "pbx-42" in detail.content.decode()
    outcome.call.refresh_from_db()
    assert change.status_code == 403 and outcome.call.notes == ""
    assert client.get("/admin/channels_intake/call/add/").status_code == 403
    assert client.get("/admin/channels_intake/agentextension/").status_code == 200
