"""The embedded default's local SMTP sink: what the helpdesk sends is kept, and an admin sees it
(headers, text, HTML, attachments) without any mail leaving the machine."""

from __future__ import annotations

import re
import smtplib

import pytest
from aiosmtpd.controller import Controller

from channels_intake.management.commands.run_smtp_sink import SinkHandler
from channels_intake.models import OutboundCapture
from tests.channels_intake.helpers import SUPPORT_ADDRESS, build_mail, free_port
from tests.factories import make_agent, make_customer, make_ticket, make_user
from tickets.models import DeliveryState, Role
from tickets.services import IncomingFile, ticket_reply

pytestmark = pytest.mark.django_db(transaction=True)
LIST_URL = "/admin/channels_intake/outboundcapture/"


@pytest.fixture
def sink(settings):
    """The sink command's handler behind a real SMTP server on loopback, the email backend pointed at it."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "", ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield port
    controller.stop()
    handler.close()


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True))
    return client


def test_a_mailed_reply_is_kept_by_the_sink_and_shown_to_admins(sink, celery_eager, support_team, admin_client):
    customer = make_customer(email="zhang@customer.example", name="张三")
    ticket = make_ticket(requester=customer, team=support_team, subject="发票问题")
    agent = make_agent(support_team, display_name="Ana Agent")

    message = ticket_reply(
        ticket=ticket, actor=agent, body_text="Here is the <invoice>.",
        files=[IncomingFile(name="发票.pdf", content_type="application/pdf", content=b"%PDF-1.4 invoice")],
    )

    message.refresh_from_db()
    assert message.delivery_state == DeliveryState.SENT
    capture = OutboundCapture.objects.get()
    assert capture.envelope_recipients == ["zhang@customer.example"]
    assert capture.envelope_sender == SUPPORT_ADDRESS
    assert capture.subject == f"Re: [#{ticket.number}] 发票问题"
    assert capture.to_header == "张三 <zhang@customer.example>"

    listing = admin_client.get(LIST_URL).content.decode()
    assert f"Re: [#{ticket.number}] 发票问题" in listing

    page = admin_client.get(f"{LIST_URL}{capture.pk}/change/").content.decode()
    assert "Reply-To: support+" in page
    assert "Here is the &lt;invoice&gt;." in page  # the text body, escaped
    assert re.search(r'<iframe sandbox title="HTML body" srcdoc="[^"]*Here is the &amp;lt;invoice&amp;gt;', page)
    assert "发票.pdf" in page

    attachment = admin_client.get(f"{LIST_URL}{capture.pk}/attachment/0/")
    assert attachment.status_code == 200
    assert attachment.content == b"%PDF-1.4 invoice"
    assert attachment["Content-Type"] == "application/octet-stream"
    assert attachment["Content-Disposition"].startswith("attachment;")
    eml = admin_client.get(f"{LIST_URL}{capture.pk}/download/")
    assert eml.content == bytes(OutboundCapture.objects.get().raw)
    assert eml["Content-Type"] == "message/rfc822"
    assert admin_client.get(f"{LIST_URL}{capture.pk}/attachment/1/").status_code == 404


def test_any_mail_handed_to_the_sink_is_kept_as_sent(sink):
    raw = build_mail(sender="support@example.com", to="someone@elsewhere.example", subject="Plain")

    with smtplib.SMTP("127.0.0.1", sink, timeout=10) as client:
        refused = client.sendmail("support@example.com", ["someone@elsewhere.example"], raw)

    assert refused == {}
    capture = OutboundCapture.objects.get()
    # SMTP's line ends are CRLF and its DATA ends with one: the same message, as the wire carried it.
    assert bytes(capture.raw).replace(b"\r\n", b"\n").rstrip(b"\n") == raw.replace(b"\r\n", b"\n").rstrip(b"\n")
    assert (capture.subject, capture.to_header) == ("Plain", "someone@elsewhere.example")


def test_agents_cannot_see_the_sent_mail(sink, client):
    OutboundCapture.objects.create(subject="Secret", size=3, raw=b"x\r\n")
    client.force_login(make_agent())

    response = client.get(LIST_URL)

    assert response.status_code in (302, 403)
    assert b"Secret" not in response.content
    assert client.get(f"{LIST_URL}{OutboundCapture.objects.get().pk}/download/").status_code in (302, 403)
