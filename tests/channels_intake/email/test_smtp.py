"""The SMTP door, spoken to by a real smtplib client over a socket: the listener runs in a thread of
the test (or as the real `manage.py run_smtp_intake` process where the database must go away)."""

from __future__ import annotations

import os
import select
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from channels_intake.email.smtp import IntakeController, IntakeHandler
from channels_intake.email.tokens import reply_address
from channels_intake.models import Door, RawInbound, RawInboundState
from tests.channels_intake.helpers import SUPPORT_ADDRESS, TcpProxy, build_mail, free_port
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)
MANAGE = Path(django_settings.BASE_DIR) / "manage.py"


@pytest.fixture
def start_listener(celery_eager, support_team):
    """Start the listener in this process (call after changing settings it reads); returns the port."""
    running = []

    def start() -> int:
        handler = IntakeHandler(max_workers=2)
        port = free_port()
        controller = IntakeController(handler, host="127.0.0.1", port=port)
        controller.start()
        running.append((controller, handler))
        return port

    yield start
    for controller, handler in running:
        controller.stop()
        handler.close()


@pytest.fixture
def port(start_listener):
    return start_listener()


def send(port: int, raw: bytes, *, sender: str = "ann@customer.example", recipients=(SUPPORT_ADDRESS,)) -> dict:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail(sender, list(recipients), raw)


def test_mail_delivered_over_smtp_becomes_a_ticket(port, support_team):
    refused = send(port, build_mail(subject="Printer on fire", message_id="<smtp-1@customer.example>"))

    assert refused == {}
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.team, ticket.channel) == ("Printer on fire", support_team, "email")
    row = RawInbound.objects.get()
    assert (row.door, row.state, row.ticket) == (Door.SMTP, RawInboundState.PROCESSED, ticket)
    assert (row.envelope_sender, row.envelope_recipients, row.remote_addr) == (
        "ann@customer.example", [SUPPORT_ADDRESS], "127.0.0.1"
    )
    assert b"Message-ID: <smtp-1@customer.example>" in bytes(row.raw)


def test_replies_thread_by_references_and_by_subject_tags(port):
    send(port, build_mail(message_id="<smtp-parent@customer.example>"))
    ticket = Ticket.objects.get()

    send(port, build_mail(subject="unrelated words", body="one", references="<smtp-parent@customer.example>"))
    send(port, build_mail(subject=f"回复：[#{ticket.number}] Printer on fire", body="two"))
    send(port, build_mail(subject=f"RE: [#{ticket.number}] Printer on fire", body="three"))

    assert Ticket.objects.count() == 1
    assert list(ticket.messages.order_by("id").values_list("body_text", flat=True)) == [
        "It started this morning.", "one", "two", "three"
    ]


def test_unknown_recipient_is_refused_at_rcpt_and_nothing_is_stored(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail("ann@customer.example")
        code, text = client.rcpt("nobody@example.com")

    assert code == 550
    assert b"no such mailbox" in text
    assert RawInbound.objects.count() == 0


def test_forged_reply_token_is_refused_at_rcpt_and_a_genuine_one_accepted(port):
    send(port, build_mail())
    ticket = Ticket.objects.get()
    genuine = reply_address(SUPPORT_ADDRESS, ticket.pk)
    local, domain = genuine.split("@")
    forged = f"{local[:-4]}{'abcd' if not local.endswith('abcd') else 'efgh'}@{domain}"

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(port, build_mail(to=forged), recipients=[forged])
    assert refused.value.recipients[forged][0] == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(port, build_mail(to="support+whatever@example.com"), recipients=["support+whatever@example.com"])

    assert send(port, build_mail(sender="colleague@customer.example", to=genuine, subject="hi", body="via token"),
                sender="colleague@customer.example", recipients=[genuine]) == {}
    assert RawInbound.objects.count() == 2
    assert ticket.messages.order_by("id").last().body_text == "via token"


def test_size_is_advertised_and_larger_mail_refused(start_listener, settings):
    settings.HELPDESK_EMAIL_MAX_BYTES = 20_000
    port = start_listener()
    big = build_mail(body="x" * 30_000)

    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        assert client.has_extn("size")
        assert client.esmtp_features["size"] == "20000"
        # An honest client declares the size and is refused at MAIL FROM.
        code, _ = client.mail("ann@customer.example", options=[f"SIZE={len(big)}"])
        assert code == 552
        client.rset()
        # One that does not declare it is refused after DATA, with nothing stored.
        client.mail("ann@customer.example")
        client.rcpt(SUPPORT_ADDRESS)
        code, _ = client.data(big)
        assert code == 552

    assert RawInbound.objects.count() == 0
    assert send(port, build_mail(body="small")) == {}
    assert RawInbound.objects.count() == 1


def test_long_lines_are_accepted_not_bounced(port):
    raw = build_mail(subject="Long HTML line").replace(b"It started this morning.", b"word " * 2000)

    assert send(port, raw) == {}
    assert Ticket.objects.get().messages.get().body_text.count("word") == 2000


def test_same_mail_through_smtp_and_http_makes_one_message(port, client, settings):
    settings.HELPDESK_EMAIL_INTAKE_TOKEN = "relay-secret-0123456789"
    raw = build_mail(message_id="<both-doors@customer.example>")

    send(port, raw)
    response = client.post("/api/v1/intake/email/", data=raw, content_type="message/rfc822",
                           headers={"authorization": "Bearer relay-secret-0123456789"})

    assert response.status_code == 202
    assert Message.objects.count() == 1
    states = dict(RawInbound.objects.values_list("door", "state"))
    assert states == {Door.SMTP: RawInboundState.PROCESSED, Door.HTTP: RawInboundState.DUPLICATE}


def test_bounce_over_smtp_marks_the_outbound_message(port):
    from tests.channels_intake.email.test_processing import dsn_for
    from tests.factories import make_agent
    from tickets.models import Channel, DeliveryState
    from tickets.services import ticket_reply

    send(port, build_mail())
    ticket = Ticket.objects.get()
    agent = make_agent(ticket.team)
    outbound = ticket_reply(ticket=ticket, actor=agent, body_text="Answer", channel=Channel.EMAIL,
                            external_id="smtp-out-1@helpdesk.example")

    send(port, dsn_for("smtp-out-1@helpdesk.example", "ann@customer.example"), sender="")

    outbound.refresh_from_db()
    assert outbound.delivery_state == DeliveryState.BOUNCED
    assert Ticket.objects.count() == 1


def _self_signed_certificate(directory: Path) -> tuple[str, str]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_starttls_is_offered_and_can_be_required(start_listener, settings, tmp_path):
    import ssl

    settings.HELPDESK_SMTP_INTAKE_TLS_CERT, settings.HELPDESK_SMTP_INTAKE_TLS_KEY = _self_signed_certificate(tmp_path)
    settings.HELPDESK_SMTP_INTAKE_REQUIRE_STARTTLS = True
    port = start_listener()
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # our self-signed test certificate

    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert client.mail("ann@customer.example")[0] == 530  # plain text refused
        client.starttls(context=context)
        client.ehlo()
        assert client.sendmail("ann@customer.example", [SUPPORT_ADDRESS], build_mail(subject="Over TLS")) == {}

    assert Ticket.objects.get().subject == "Over TLS"


def test_unparseable_mail_over_smtp_lands_in_the_failed_inbox_for_admins(port, client):
    from tests.factories import make_user
    from tickets.models import Role

    junk = b"\x00\x01\x02 this is no mail at all\r\n"

    assert send(port, junk) == {}

    row = RawInbound.objects.get()
    assert row.state == RawInboundState.FAILED
    assert row.error
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True))
    listing = client.get("/admin/channels_intake/rawinbound/", {"state__exact": "failed"})
    assert list(listing.context["cl"].result_list) == [row]
    download = client.get(f"/admin/channels_intake/rawinbound/{row.pk}/download/")
    assert download.content == junk


# --- the real command, in its own process ------------------------------------------------------


def _database_url(*, port: int | None = None) -> str:
    params = connection.settings_dict
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return f"postgres://{params['USER']}{password}@{params['HOST']}:{port or params['PORT']}/{params['NAME']}"


@pytest.fixture
def run_command():
    """Start `manage.py run_smtp_intake` with the given database URL; wait for its banner line."""
    processes = []

    def start(database_url: str) -> tuple[int, str]:
        port = free_port()
        env = {**os.environ, "DATABASE_URL": database_url, "CELERY_TASK_ALWAYS_EAGER": "1",
               "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, str(MANAGE), "run_smtp_intake", "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        processes.append(process)
        ready, _, _ = select.select([process.stdout], [], [], 60)
        banner = process.stdout.readline() if ready else ""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                smtplib.SMTP("127.0.0.1", port, timeout=2).quit()
                break
            except OSError:
                time.sleep(0.1)
        return port, banner

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=15)


def test_command_prints_its_port_and_answers_451_while_the_database_is_unreachable(run_command, support_team):
    closed_port = free_port()
    port, banner = run_command(_database_url(port=closed_port))

    assert banner.strip() == f"SMTP intake listening on 127.0.0.1:{port} (messages up to 35 MB)"
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail("ann@customer.example")
        code, _ = client.rcpt(SUPPORT_ADDRESS)
    assert code == 451
    assert RawInbound.objects.count() == 0


def test_database_lost_during_data_answers_451_and_the_retry_is_stored_once(run_command, support_team):
    proxy = TcpProxy((connection.settings_dict["HOST"], int(connection.settings_dict["PORT"])))
    proxy.start()
    port, _ = run_command(_database_url(port=proxy.port))
    raw = build_mail(message_id="<outage@customer.example>")
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.ehlo()
            client.mail("ann@customer.example")
            assert client.rcpt(SUPPORT_ADDRESS)[0] == 250
            proxy.cut()  # the database goes away between RCPT and DATA
            code, text = client.data(raw)
        assert (code, text[:5]) == (451, b"4.3.0")
        assert RawInbound.objects.count() == 0

        proxy.resume()  # the sending server tries again later
        assert send(port, raw) == {}
    finally:
        proxy.cut()

    row = RawInbound.objects.get()
    assert row.state == RawInboundState.PROCESSED
    assert Ticket.objects.get().messages.get().external_id == "outage@customer.example"
