"""Attachment downloads: only for who may see the message, and never able to run in our origin."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_agent, make_customer, make_team, make_ticket
from tickets.models import Attachment
from tickets.services import IncomingFile, ticket_add_note

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def support():
    return make_team("Support", slug="support")


@pytest.fixture
def alice():
    return make_customer(email="alice@example.com", name="Alice")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def attach(customer, name: str, content: bytes, content_type: str, team=None) -> Attachment:
    ticket = make_ticket(requester=customer, team=team,
                         files=[IncomingFile(name=name, content_type=content_type, content=content)])
    return ticket.attachments.get()


def url(attachment: Attachment) -> str:
    return f"/attachments/{attachment.pk}/"


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def assert_safe_download(response, *, ascii_name: str, utf8_name: str) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{utf8_name}"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize(("name", "content_type"), [
    ("page.html", "text/html"),
    ("drawing.svg", "image/svg+xml"),
    ("app.js", "application/javascript"),
    ("feed.xml", "application/xml"),
    ("page.xhtml", "application/xhtml+xml"),
    ("report.pdf", "application/pdf"),
])
def test_active_and_other_types_are_downloads_of_octet_stream(alice, name, content_type):
    attachment = attach(alice, name, HTML, content_type)

    response = signed_in(alice.user).get(url(attachment))

    assert_safe_download(response, ascii_name=name, utf8_name=name)
    assert body_of(response) == HTML


def test_real_png_is_shown_inline(alice):
    attachment = attach(alice, "screen.png", PNG, "image/png")

    response = signed_in(alice.user).get(url(attachment))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == "inline; filename=\"screen.png\"; filename*=UTF-8''screen.png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert body_of(response) == PNG


def test_html_declared_as_png_is_still_a_download(alice):
    attachment = attach(alice, "innocent.png", HTML, "image/png")

    response = signed_in(alice.user).get(url(attachment))

    assert_safe_download(response, ascii_name="innocent.png", utf8_name="innocent.png")


def test_xss_file_name_is_neutralised_in_headers(alice):
    """osTicket CVE-2020-24917: the upload name `"><img src=x onerror=alert(1)>.png`."""
    attachment = attach(alice, '"><img src=x onerror=alert(1)>.png', HTML, "text/html")

    response = signed_in(alice.user).get(url(attachment))

    disposition = response["Content-Disposition"]
    assert disposition == (
        "attachment; filename=\"'><img src=x onerror=alert(1)>.png\"; "
        "filename*=UTF-8''%27%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.png"
    )
    assert disposition.count('"') == 2
    assert response["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(("given", "stored"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
    ("report\x00.pdf.exe", "report.pdf.exe"),
    ("invoice\u202egpj.exe", "invoicegpj.exe"),
    ("\u2066evil\u2069.txt", "evil.txt"),
    ("line\r\nSet-Cookie: x=1.txt", "lineSet-Cookie: x=1.txt"),
])
def test_path_nul_bidi_and_newlines_are_neutralised(alice, given, stored):
    attachment = attach(alice, given, b"data", "application/octet-stream")

    response = signed_in(alice.user).get(url(attachment))

    assert attachment.filename == stored
    disposition = response["Content-Disposition"]
    assert "/" not in disposition.split("filename*=")[0]
    assert "\u202e" not in disposition and "\x00" not in disposition and "\n" not in disposition
    assert ".." not in disposition
    assert response.status_code == 200


def test_non_ascii_name_uses_rfc5987(alice):
    attachment = attach(alice, "發票 2024.pdf", b"%PDF", "application/pdf")

    response = signed_in(alice.user).get(url(attachment))

    assert response["Content-Disposition"] == (
        "attachment; filename=\"__ 2024.pdf\"; filename*=UTF-8''%E7%99%BC%E7%A5%A8%202024.pdf"
    )


def test_other_customer_gets_404_and_no_bytes(alice):
    attachment = attach(alice, "private.pdf", b"%PDF secret", "application/pdf")
    bob = make_customer(email="bob@example.com")

    response = signed_in(bob.user).get(url(attachment))

    assert response.status_code == 404
    assert b"secret" not in response.content


def test_guessed_ids_are_404(alice):
    attachment = attach(alice, "mine.pdf", b"%PDF", "application/pdf")
    client = signed_in(alice.user)

    for guessed in (attachment.pk + 1, attachment.pk + 1000, 0):
        assert client.get(f"/attachments/{guessed}/").status_code == 404


def test_customer_cannot_download_an_attachment_of_an_internal_note(alice, support):
    agent = make_agent(support)
    ticket = make_ticket(requester=alice, team=support)
    note = ticket_add_note(ticket=ticket, actor=agent, body_text="see memo",
                           files=[IncomingFile(name="memo.txt", content_type="text/plain", content=b"internal")])
    attachment = note.attachments.get()

    assert signed_in(alice.user).get(url(attachment)).status_code == 404
    assert signed_in(agent).get(url(attachment)).status_code == 200


def test_agent_outside_the_team_gets_404(alice, support):
    attachment = attach(alice, "log.txt", b"log", "text/plain", team=support)
    outsider = make_agent(make_team("Billing", slug="billing"))

    assert signed_in(outsider).get(url(attachment)).status_code == 404
    assert signed_in(make_agent(support)).get(url(attachment)).status_code == 200


def test_anonymous_is_sent_to_sign_in(alice):
    attachment = attach(alice, "log.txt", b"log", "text/plain")

    response = Client().get(url(attachment))

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/attachments/{attachment.pk}/"


def test_download_is_get_only(alice):
    attachment = attach(alice, "log.txt", b"log", "text/plain")

    assert signed_in(alice.user).post(url(attachment)).status_code == 405
