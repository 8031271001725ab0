"""Files an agent sends in a chat reach the visitor as signed, expiring download links, and only
the public files of the visitor's own chat can be downloaded with them."""

from __future__ import annotations

import base64
import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from channels_intake.chat import files, services
from channels_intake.chat.models import Chat
from channels_intake.chat.tokens import visitor_token_issue
from tests.channels_intake.chat.chat_factories import go_online, make_widget, start_chat
from tests.channels_intake.chat.socket_helpers import next_of_type, open_visitor, run
from tests.factories import PASSWORD, make_agent, make_team
from tickets.models import Attachment
from tickets.services import IncomingFile


@pytest.fixture
def team():
    return make_team(name="Support", slug="support")


@pytest.fixture
def widget(team):
    return make_widget(team)


@pytest.fixture
def agent(team):
    return go_online(make_agent(team, display_name="Bo Agent"))


def active_chat(widget, agent) -> Chat:
    chat = start_chat(widget)
    services.chat_accept(chat=chat, agent=agent)
    return chat


def incoming(name: str, content: bytes) -> IncomingFile:
    return IncomingFile(name=name, content_type="application/pdf", content=content, size=len(content))


def send_file(chat: Chat, agent, *, name: str = "invoice.pdf", content: bytes = b"%PDF-1.4 invoice",
              is_internal: bool = False):
    return services.chat_agent_message(chat=chat, agent=agent, body="Here it is", is_internal=is_internal,
                                       files=[incoming(name, content)])


def visitor_messages(chat: Chat) -> list[dict]:
    response = APIClient().get(f"/api/v1/chat/chats/{chat.pk}/messages/",
                               HTTP_AUTHORIZATION=f"Bearer {visitor_token_issue(chat=chat)}")
    assert response.status_code == 200
    return response.json()["messages"]


def download(url: str):
    return Client().get(url)  # no session, no cookie: as the visitor's browser opening the link


@pytest.mark.django_db
def test_the_visitor_downloads_a_file_the_agent_sent_through_the_link_in_the_message(widget, agent):
    chat = active_chat(widget, agent)
    send_file(chat, agent)

    [attachment] = visitor_messages(chat)[-1]["attachments"]
    response = download(attachment["url"])

    assert (attachment["name"], attachment["size"]) == ("invoice.pdf", 16)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 invoice"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith('attachment; filename="invoice.pdf"')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_an_agent_sends_a_file_from_the_console_and_the_visitor_gets_its_link(client, widget, agent):
    chat = active_chat(widget, agent)
    client.login(username=agent.username, password=PASSWORD)

    response = client.post(reverse("chat_console:message", args=[chat.pk]), {
        "body": "", "files": SimpleUploadedFile("label.pdf", b"%PDF label", "application/pdf")})

    assert response.status_code == 302
    [attachment] = visitor_messages(chat)[-1]["attachments"]
    assert attachment["name"] == "label.pdf"
    assert b"".join(download(attachment["url"]).streaming_content) == b"%PDF label"
    transcript = client.get(reverse("chat_console:transcript", args=[chat.pk])).content.decode()
    assert "label.pdf" in transcript and "data-chat-file" in transcript


@pytest.mark.django_db
def test_the_console_holds_agent_files_to_the_ticket_upload_limit(client, widget, agent, settings):
    chat = active_chat(widget, agent)
    settings.HELPDESK_MAX_UPLOAD_BYTES = 5
    client.login(username=agent.username, password=PASSWORD)

    response = client.post(reverse("chat_console:message", args=[chat.pk]), {
        "body": "", "files": SimpleUploadedFile("big.pdf", b"x" * 6, "application/pdf")},
        HTTP_X_REQUESTED_WITH="fetch")

    assert response.status_code == 400
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_an_internal_notes_file_never_reaches_the_visitor_even_with_a_genuine_signature(widget, agent):
    chat = active_chat(widget, agent)
    note = send_file(chat, agent, name="internal.pdf", is_internal=True)
    [attachment] = note.attachments.all()

    assert all(message["attachments"] == [] for message in visitor_messages(chat))
    assert download(files.file_url(chat_id=chat.pk, attachment_id=attachment.pk)).status_code == 404


@pytest.mark.django_db
def test_a_link_cannot_be_bent_to_another_chats_file(widget, agent):
    mine = active_chat(widget, agent)
    theirs = active_chat(widget, agent)
    send_file(mine, agent, name="mine.pdf")
    [their_file] = send_file(theirs, agent, name="theirs.pdf").attachments.all()
    my_url = visitor_messages(mine)[-1]["attachments"][0]["url"]

    # Signed for my chat, naming their file (as if an id leaked): refused.
    assert download(files.file_url(chat_id=mine.pk, attachment_id=their_file.pk)).status_code == 404
    # My link with their file's id swapped in: the signature no longer matches.
    token = my_url.rstrip("/").rsplit("/", 1)[-1]
    payload, rest = token.split(":", 1)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["a"] = their_file.pk
    bent = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")
    assert download(reverse("chat_widget:file", args=[f"{bent}:{rest}"])).status_code == 404
    assert download(my_url).status_code == 200


@pytest.mark.django_db
def test_forged_expired_and_inactive_widget_links_are_refused(widget, agent, settings):
    chat = active_chat(widget, agent)
    send_file(chat, agent)
    url = visitor_messages(chat)[-1]["attachments"][0]["url"]

    assert download(reverse("chat_widget:file", args=["not-a-signature"])).status_code == 404
    assert download(url[:-3] + "xx/").status_code == 404
    settings.HELPDESK_CHAT_FILE_URL_MAX_AGE_SECONDS = 1
    time.sleep(2.1)
    assert download(url).status_code == 404
    settings.HELPDESK_CHAT_FILE_URL_MAX_AGE_SECONDS = 3600
    assert download(url).status_code == 200
    widget.is_active = False
    widget.save()
    assert download(url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_visitor_socket_delivers_the_agents_file_as_a_link(widget, agent):
    chat = active_chat(widget, agent)

    async def scenario():
        from channels.db import database_sync_to_async

        visitor = await open_visitor(visitor_token_issue(chat=chat))
        await database_sync_to_async(send_file)(chat, agent)
        frame = await next_of_type(visitor, "message")
        [attachment] = frame["attachments"]
        assert attachment["name"] == "invoice.pdf"
        assert attachment["url"].startswith("/chat/files/")
        await visitor.disconnect()
        response = await database_sync_to_async(download)(attachment["url"])
        assert response.status_code == 200

    run(scenario)
