"""The admin's user page and the notification log: what an administrator sees and can change."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_agent, make_team, make_ticket, make_user
from tickets import events
from tickets.models import NotificationDelivery, NotificationState, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True))
    return client


def test_admin_sees_and_switches_off_an_agents_notification_mails(admin_client):
    agent = make_agent(make_team())
    url = reverse("admin:tickets_user_change", args=[agent.pk])

    page = admin_client.get(url).content.decode()
    assert 'name="notify_on_assignment"' in page
    assert 'name="notify_on_customer_reply"' in page

    form = admin_client.get(url).context["adminform"].form
    data = {key: value for key, value in form.initial.items() if value is not None and not isinstance(value, list)}
    data.update({
        "username": agent.username, "role": agent.role, "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
        "notify_on_customer_reply": "on",  # notify_on_assignment left out: unchecked
        "team_memberships-TOTAL_FORMS": "0", "team_memberships-INITIAL_FORMS": "0",
    })
    data = {key: value for key, value in data.items() if not isinstance(value, bool) or value}
    data.pop("notify_on_assignment", None)
    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    agent.refresh_from_db()
    assert (agent.notify_on_assignment, agent.notify_on_customer_reply) == (False, True)


def test_notification_log_lists_who_was_mailed_and_cannot_be_edited(admin_client):
    team = make_team()
    agent = make_agent(team)
    ticket = make_ticket(team=team)
    event = events.field_changed(ticket=ticket, actor=None, via="web", field="assignee", from_value=None,
                                 to_value=agent.pk)
    NotificationDelivery.objects.create(event=event, recipient=agent, kind="assigned", state=NotificationState.FAILED,
                                        error="550 mailbox unavailable")

    listing = admin_client.get(reverse("admin:tickets_notificationdelivery_changelist"), {"state__exact": "failed"})

    assert listing.status_code == 200
    assert agent.username in listing.content.decode()
    assert admin_client.get(reverse("admin:tickets_notificationdelivery_add")).status_code == 403
