"""The widget's HTTP API: CORS per widget, visitor tokens, and each rule tried from the wrong side."""

from __future__ import annotations

import uuid

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from channels_intake.chat import services
from channels_intake.chat.models import Chat
from channels_intake.chat.tokens import visitor_token_issue
from tests.channels_intake.chat.chat_factories import SHOP, go_online, make_widget, start_chat
from tests.factories import make_agent, make_team
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db
EVIL = "https://evil.example"


@pytest.fixture
def team():
    return make_team(name="Support", slug="support")


@pytest.fixture
def widget(team):
    return make_widget(team, greeting={"en": "Hi there"})


@pytest.fixture
def agent(team):
    return go_online(make_agent(team, display_name="Bob Agent"))


@pytest.fixture
def client():
    return APIClient()


def bearer(chat: Chat) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {visitor_token_issue(chat=chat)}"}


def test_widget_settings_answer_cors_for_its_allowed_origin(client, widget, agent):
    response = client.get(f"/api/v1/chat/widgets/{widget.key}/", HTTP_ORIGIN=SHOP)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Credentials" not in response
    assert "Origin" in response["Vary"]
    body = response.json()
    assert (body["online"], body["greeting"], body["team"]) == (True, {"en": "Hi there"}, "Support")
    assert body["max_upload_bytes"] > 0


def test_widget_api_refuses_other_origins_without_cors_headers(client, widget):
    for response in (
        client.get(f"/api/v1/chat/widgets/{widget.key}/", HTTP_ORIGIN=EVIL),
        client.options(f"/api/v1/chat/widgets/{widget.key}/chats/", HTTP_ORIGIN=EVIL,
                       HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"),
        client.post(f"/api/v1/chat/widgets/{widget.key}/chats/", {"name": "Eve", "question": "hi"}, format="json",
                    HTTP_ORIGIN=EVIL),
    ):
        assert response.status_code == 403
        assert "Access-Control-Allow-Origin" not in response
    assert not Chat.objects.exists()


def test_our_own_site_may_use_any_widget(client, widget, settings):
    settings.HELPDESK_SITE_URL = "http://127.0.0.1:8000"

    response = client.get(f"/api/v1/chat/widgets/{widget.key}/", HTTP_ORIGIN="http://127.0.0.1:8000")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"


def test_preflight_allows_the_authorization_header_and_no_credentials(client, widget):
    chat = start_chat(widget)

    response = client.options(f"/api/v1/chat/chats/{chat.pk}/messages/", HTTP_ORIGIN=SHOP,
                              HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                              HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization")

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response


def test_inactive_or_unknown_widget_is_refused(client, widget):
    widget.is_active = False
    widget.save()

    assert client.get(f"/api/v1/chat/widgets/{widget.key}/", HTTP_ORIGIN=SHOP).status_code == 404
    assert client.get("/api/v1/chat/widgets/nope/").status_code == 404
    response = client.post(f"/api/v1/chat/widgets/{widget.key}/chats/", {"name": "Ann", "question": "hi"},
                           format="json", HTTP_ORIGIN=SHOP)
    assert response.status_code == 404
    assert not Chat.objects.exists()


def test_inactive_widget_refuses_its_chats_tokens(client, widget):
    chat = start_chat(widget)
    widget.is_active = False
    widget.save()

    assert client.get(f"/api/v1/chat/chats/{chat.pk}/messages/", **bearer(chat)).status_code == 404


def test_start_returns_a_token_and_the_websocket_address(client, widget, agent):
    response = client.post(f"/api/v1/chat/widgets/{widget.key}/chats/",
                           {"name": "Ann", "email": "", "question": "Where is my parcel?", "language": "en",
                            "deflect": False}, format="json", HTTP_ORIGIN=SHOP)

    assert response.status_code == 201, response.content
    body = response.json()
    chat = Chat.objects.get()
    assert (body["chat"], body["state"], chat.origin) == (chat.pk, "offered", SHOP)
    assert body["ws_url"] == f"ws://testserver/ws/chat/visitor/?token={body['token']}"
    assert client.get(f"/api/v1/chat/chats/{chat.pk}/", HTTP_AUTHORIZATION=f"Bearer {body['token']}").json()[
        "state"] == "offered"


def test_start_while_nobody_is_online_asks_for_an_offline_message(client, widget):
    response = client.post(f"/api/v1/chat/widgets/{widget.key}/chats/", {"name": "Ann", "question": "hi",
                                                                        "deflect": False},
                           format="json", HTTP_ORIGIN=SHOP)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "offline"
    assert not Chat.objects.exists()


def test_a_token_for_one_chat_cannot_read_or_write_another(client, widget, agent):
    mine, theirs = start_chat(widget), start_chat(widget, question="Private matter")
    services.chat_accept(chat=theirs, agent=agent)

    read = client.get(f"/api/v1/chat/chats/{theirs.pk}/messages/", **bearer(mine))
    end = client.post(f"/api/v1/chat/chats/{theirs.pk}/end/", {}, format="json", **bearer(mine))
    rate = client.post(f"/api/v1/chat/chats/{theirs.pk}/rating/", {"rating": 1}, format="json", **bearer(mine))
    upload = client.post(f"/api/v1/chat/chats/{theirs.pk}/files/",
                         {"client_id": "x", "files": SimpleUploadedFile("a.txt", b"hi", "text/plain")}, **bearer(mine))

    assert [r.status_code for r in (read, end, rate, upload)] == [404, 404, 404, 404]
    theirs.refresh_from_db()
    assert (theirs.state, theirs.rating) == ("active", None)
    assert Message.objects.filter(ticket=theirs.ticket).count() == 1


def test_forged_expired_or_missing_tokens_are_refused(client, widget, settings):
    chat = start_chat(widget)
    forged = signing.dumps({"c": chat.pk, "v": str(chat.visitor_id)}, salt="chat-visitor", key="not-our-secret")
    wrong_visitor = signing.dumps({"c": chat.pk, "v": str(uuid.uuid4())}, salt="chat-visitor")
    url = f"/api/v1/chat/chats/{chat.pk}/messages/"

    assert client.get(url).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {wrong_visitor}").status_code == 404
    good = bearer(chat)
    settings.HELPDESK_CHAT_TOKEN_MAX_AGE_SECONDS = -1
    assert client.get(url, **good).status_code == 401


def test_messages_endpoint_never_shows_internal_notes(client, widget, agent):
    chat = start_chat(widget)
    services.chat_accept(chat=chat, agent=agent)
    reply = services.chat_agent_message(chat=chat, agent=agent, body="On its way")
    services.chat_agent_message(chat=chat, agent=agent, body="Customer is rude", is_internal=True)
    first = Message.objects.filter(ticket=chat.ticket).order_by("pk").first()

    response = client.get(f"/api/v1/chat/chats/{chat.pk}/messages/?after={first.pk}", **bearer(chat))

    assert response.status_code == 200
    messages = response.json()["messages"]
    assert [(m["id"], m["author"], m["author_name"], m["body"], m["is_internal"]) for m in messages] == [
        (reply.pk, "agent", "Bob Agent", "On its way", False)]
    assert "Customer is rude" not in response.content.decode()


def test_deflection_path_over_http(client, team, agent):
    widget = make_widget(team, deflection_enabled=True)
    response = client.post(f"/api/v1/chat/widgets/{widget.key}/chats/",
                           {"name": "Ann", "question": "Reset password?", "deflect": True}, format="json",
                           HTTP_ORIGIN=SHOP)
    assert response.json()["state"] == "deflecting"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}
    chat_id = response.json()["chat"]

    deflected = client.post(f"/api/v1/chat/chats/{chat_id}/deflected/", {}, format="json", **auth)

    assert deflected.json()["state"] == "ended" and deflected.json()["end_reason"] == "deflected"
    assert Ticket.objects.get().status == "solved"
    assert client.post(f"/api/v1/chat/chats/{chat_id}/human/", {}, format="json", **auth).json()["state"] == "ended"


def test_visitor_ends_then_rates_the_chat(client, widget, agent):
    chat = start_chat(widget)
    services.chat_accept(chat=chat, agent=agent)

    ended = client.post(f"/api/v1/chat/chats/{chat.pk}/end/", {}, format="json", **bearer(chat))
    bad = client.post(f"/api/v1/chat/chats/{chat.pk}/rating/", {"rating": 9}, format="json", **bearer(chat))
    rated = client.post(f"/api/v1/chat/chats/{chat.pk}/rating/", {"rating": 5, "comment": "Great"}, format="json",
                        **bearer(chat))

    assert ended.json()["end_reason"] == "visitor_left"
    assert Ticket.objects.get().status == "open"  # left open for a follow-up
    assert bad.status_code == 400
    assert rated.json() == {"rating": 5, "comment": "Great"}


def test_file_upload_is_held_to_the_ticket_limits(client, widget, agent, settings):
    chat = start_chat(widget)
    settings.HELPDESK_MAX_UPLOAD_BYTES = 10

    too_big = client.post(f"/api/v1/chat/chats/{chat.pk}/files/",
                          {"client_id": "f1", "files": SimpleUploadedFile("a.txt", b"x" * 11, "text/plain")},
                          **bearer(chat))
    fine = client.post(f"/api/v1/chat/chats/{chat.pk}/files/",
                       {"client_id": "f2", "body": "receipt",
                        "files": SimpleUploadedFile("a.txt", b"x" * 10, "text/plain")}, **bearer(chat))

    assert too_big.status_code == 400
    assert fine.status_code == 201, fine.content
    assert [a["name"] for a in fine.json()["attachments"]] == ["a.txt"]


def test_offline_message_over_http(client, widget):
    response = client.post(f"/api/v1/chat/widgets/{widget.key}/offline/",
                           {"name": "Ann", "email": "ann@example.org", "message": "Call me", "language": "en"},
                           format="json", HTTP_ORIGIN=SHOP)

    assert response.status_code == 201
    ticket = Ticket.objects.get(number=response.json()["ticket"])
    assert ticket.tags == ["chat-offline"]


def test_widget_api_is_rate_limited_per_address(client, widget, settings):
    settings.HELPDESK_CHAT_API_RATE_LIMIT = "3/min"

    codes = [client.get(f"/api/v1/chat/widgets/{widget.key}/", HTTP_ORIGIN=SHOP).status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]


def test_transcript_request_over_http(client, widget, agent, celery_eager, mailoutbox,
                                     django_capture_on_commit_callbacks):
    chat = start_chat(widget)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/chat/chats/{chat.pk}/transcript/", {"email": "ann@example.org"},
                               format="json", **bearer(chat))

    assert response.status_code == 202
    assert mailoutbox[0].to == ["ann@example.org"]


def test_kb_search_answers_cors_for_widget_origins_only(client, widget):
    allowed = client.get("/api/v1/kb/search?q=password&source=chat_widget&limit=3", HTTP_ORIGIN=SHOP)
    other = client.get("/api/v1/kb/search?q=password&source=chat_widget&limit=3", HTTP_ORIGIN=EVIL)

    assert allowed.status_code == 200 and allowed["Access-Control-Allow-Origin"] == SHOP
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other
    assert "Access-Control-Allow-Credentials" not in allowed


def test_demo_widget_is_seeded_for_the_local_addresses(team, monkeypatch):
    from channels_intake.chat.demo import seed_chat_widget

    monkeypatch.setenv("HELPDESK_PORT", "8123")
    widget = seed_chat_widget()
    again = seed_chat_widget()

    assert widget.pk == again.pk and widget.key == "demo-widget" and widget.team == team
    assert {"http://localhost:8000", "http://127.0.0.1:8000", "http://127.0.0.1:8123"} <= set(again.allowed_origins)


def test_admin_lists_widgets_and_chats(client, widget, admin_user):
    chat = start_chat(widget)
    client.force_login(admin_user)

    assert client.get("/admin/channels_intake/chatwidget/").status_code == 200
    assert client.get(f"/admin/channels_intake/chatwidget/{widget.pk}/change/").status_code == 200
    assert client.get(f"/admin/channels_intake/chat/{chat.pk}/change/").status_code == 200
    response = client.post(f"/admin/channels_intake/chatwidget/{widget.pk}/change/", {
        "name": "Shop", "key": widget.key, "team": widget.team_id, "is_active": "on",
        "allowed_origins": "https://shop.example/path", "prechat_fields": "{}", "greeting": "{}",
    })
    assert response.status_code == 200 and "is not an origin" in response.content.decode()


def test_widget_and_messages_endpoints_cost_few_queries(client, widget, agent, django_assert_max_num_queries):
    chat = start_chat(widget)
    for number in range(5):
        services.chat_agent_message(chat=chat, agent=agent, body=f"line {number}")
    auth = bearer(chat)

    with django_assert_max_num_queries(3):
        assert client.get(f"/api/v1/chat/widgets/{widget.key}/", HTTP_ORIGIN=SHOP).status_code == 200
    with django_assert_max_num_queries(6):
        response = client.get(f"/api/v1/chat/chats/{chat.pk}/messages/", HTTP_ORIGIN=SHOP, **auth)
    assert len(response.json()["messages"]) == 6
