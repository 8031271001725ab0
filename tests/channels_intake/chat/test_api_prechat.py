"""The script tag's data-team and the custom pre-chat questions, as the widget sends them to the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from channels_intake.chat.models import Chat
from tests.channels_intake.chat.chat_factories import SHOP, go_online, make_widget
from tests.factories import make_agent, make_team
from tickets.models import CustomFieldDefinition, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def support():
    return make_team(name="Support", slug="support")


@pytest.fixture
def billing():
    return make_team(name="Billing", slug="billing")


@pytest.fixture
def widget(support, billing):
    widget = make_widget(support, prechat_fields={
        "name": {"shown": True, "required": True},
        "email": {"shown": True, "required": False},
        "question": {"shown": True, "required": True},
        "custom": [
            {"key": "order_number", "label": "Order number", "required": True, "max_length": 12},
            {"key": "plan", "label": "Plan", "required": False},
        ],
    })
    widget.other_teams.add(billing)
    return widget


@pytest.fixture
def client():
    return APIClient()


def start(client, widget, **body):
    body = {"name": "Ann", "question": "My invoice is wrong", "fields": {"order_number": "A-1001"}, **body}
    return client.post(f"/api/v1/chat/widgets/{widget.key}/chats/", body, format="json", HTTP_ORIGIN=SHOP)


def test_data_team_sends_the_chat_to_one_of_the_widgets_other_teams(client, widget, billing):
    go_online(make_agent(billing))

    response = start(client, widget, team="billing")

    assert response.status_code == 201, response.json()
    assert Chat.objects.get(pk=response.json()["chat"]).ticket.team == billing
    # The widget's settings for that page say whether Billing (not Support) is online.
    settings_for_page = client.get(f"/api/v1/chat/widgets/{widget.key}/?team=billing", HTTP_ORIGIN=SHOP).json()
    assert (settings_for_page["team"], settings_for_page["online"]) == ("Billing", True)


def test_a_team_the_widget_does_not_allow_is_refused_clearly_and_nothing_is_created(client, widget, support):
    make_team(name="Legal", slug="legal")
    go_online(make_agent(support))

    for response in (
        start(client, widget, team="legal"),
        start(client, widget, team="no-such-team"),
        client.get(f"/api/v1/chat/widgets/{widget.key}/?team=legal", HTTP_ORIGIN=SHOP),
        client.post(f"/api/v1/chat/widgets/{widget.key}/offline/", {
            "email": "ann@example.com", "message": "Hello", "team": "legal"}, format="json", HTTP_ORIGIN=SHOP),
    ):
        assert response.status_code == 400
        assert "team" in str(response.json())
    assert not Ticket.objects.exists()


def test_no_data_team_means_the_widgets_own_team(client, widget, support):
    go_online(make_agent(support))

    response = start(client, widget)

    assert response.status_code == 201
    assert Chat.objects.get(pk=response.json()["chat"]).ticket.team == support


def test_custom_answers_fill_matching_ticket_fields_and_the_rest_stay_on_the_chat(client, widget, support):
    CustomFieldDefinition.objects.create(key="order_number", label="Order number", field_type="text")
    go_online(make_agent(support))

    response = start(client, widget, fields={"order_number": " A-1001 ", "plan": "Pro"})

    assert response.status_code == 201, response.json()
    chat = Chat.objects.select_related("ticket").get(pk=response.json()["chat"])
    assert chat.ticket.custom_fields == {"order_number": "A-1001"}
    assert chat.prechat_values == {"plan": "Pro"}


def test_custom_answers_are_held_to_the_widgets_rules(client, widget, support):
    go_online(make_agent(support))

    missing = start(client, widget, fields={"plan": "Pro"})
    too_long = start(client, widget, fields={"order_number": "A" * 13})
    unknown = start(client, widget, fields={"order_number": "A-1", "favourite_colour": "blue"})
    not_text = start(client, widget, fields={"order_number": {"nested": True}})

    assert [response.status_code for response in (missing, too_long, unknown, not_text)] == [400] * 4
    assert "order_number" in str(missing.json()) and "required" in str(missing.json())
    assert "12" in str(too_long.json())
    assert "favourite_colour" in str(unknown.json())
    assert "order_number" in str(not_text.json())
    assert not Chat.objects.exists()


def test_an_answer_of_the_wrong_type_for_its_ticket_field_is_refused(client, widget, support):
    CustomFieldDefinition.objects.create(key="order_number", label="Order number", field_type="number")
    go_online(make_agent(support))

    response = start(client, widget, fields={"order_number": "not-a-number"})

    assert response.status_code == 400
    assert "Order number" in str(response.json())
    assert not Chat.objects.exists()
