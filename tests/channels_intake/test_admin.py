"""The failed-mail inbox of the admin site: see why, download the raw message, retry after a fix."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_intake.models import Door, RawInbound, RawInboundState
from channels_intake.services import raw_inbound_store
from tests.channels_intake.helpers import build_mail
from tests.factories import make_user
from tickets.models import Role, Ticket

pytestmark = pytest.mark.django_db
LIST_URL = "/admin/channels_intake/rawinbound/"


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def store(celery_eager, support_team, django_capture_on_commit_callbacks):
    def store(raw: bytes) -> RawInbound:
        with django_capture_on_commit_callbacks(execute=True):
            row = raw_inbound_store(raw=raw, door=Door.SMTP, envelope_recipients=["support@example.com"])
        row.refresh_from_db()
        return row

    return store


def test_failed_mail_is_listed_with_its_reason(admin_client, store):
    store(build_mail(subject="Fine"))
    failed = store(b"\x00\x01 not a mail at all")

    response = admin_client.get(LIST_URL, {"state__exact": "failed"})

    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert rows == [failed]
    assert "not an e-mail" in response.content.decode() or "header" in response.content.decode()


def test_message_page_shows_error_and_headers_and_offers_download_and_retry(admin_client, store, settings):
    settings.HELPDESK_MAX_UPLOAD_BYTES = 100
    row = store(build_mail(subject="With a big file", attachments=[("big.bin", "application/octet-stream", b"x" * 500)]))

    response = admin_client.get(f"{LIST_URL}{row.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "too large" in page
    assert "Subject: With a big file" in page  # the headers as received
    assert f"{LIST_URL}{row.pk}/download/" in page
    assert f'action="{LIST_URL}{row.pk}/retry/"' in page


def test_download_is_the_raw_message_byte_for_byte_as_an_attachment(admin_client, store):
    raw = build_mail(subject="<script>alert(1)</script>", body="<html><script>alert(2)</script></html>")
    row = store(raw)

    response = admin_client.get(f"{LIST_URL}{row.pk}/download/")

    assert response.status_code == 200
    assert response.content == raw
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == f'attachment; filename="inbound-{row.pk}.eml"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_retry_after_a_fix_processes_the_kept_message(admin_client, store, settings, django_capture_on_commit_callbacks):
    settings.HELPDESK_MAX_UPLOAD_BYTES = 100
    row = store(build_mail(subject="Manual attached", attachments=[("manual.pdf", "application/pdf", b"%PDF" * 100)]))
    assert row.state == RawInboundState.FAILED
    settings.HELPDESK_MAX_UPLOAD_BYTES = 10_000  # the admin raised the limit

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{LIST_URL}{row.pk}/retry/")

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.state, row.error, row.attempts) == (RawInboundState.PROCESSED, "", 2)
    ticket = Ticket.objects.get()
    assert ticket.subject == "Manual attached"
    assert ticket.attachments.get().filename == "manual.pdf"


def test_retry_action_leaves_processed_mail_alone(admin_client, store, django_capture_on_commit_callbacks):
    row = store(build_mail())

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(LIST_URL, {"action": "retry_selected", "_selected_action": [row.pk]}, follow=True)

    assert "were not failed" in response.content.decode() or "was not failed" in response.content.decode()
    row.refresh_from_db()
    assert (row.state, row.attempts) == (RawInboundState.PROCESSED, 1)
    assert Ticket.objects.count() == 1


def test_retry_needs_a_post(admin_client, store):
    row = store(b"junk")

    assert admin_client.get(f"{LIST_URL}{row.pk}/retry/").status_code == 405


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER])
def test_only_admins_reach_the_inbox_and_the_raw_mail(client, store, role):
    row = store(build_mail())
    client.force_login(make_user(role=role, is_staff=True))

    for url in (LIST_URL, f"{LIST_URL}{row.pk}/download/", f"{LIST_URL}{row.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
    assert client.post(f"{LIST_URL}{row.pk}/retry/").status_code == 302


def test_list_never_loads_the_raw_bytes(admin_client, store):
    for index in range(5):
        store(build_mail(subject=f"Mail {index}"))

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(LIST_URL)

    assert response.status_code == 200
    listing = [query["sql"] for query in queries.captured_queries if "channels_intake_rawinbound" in query["sql"]]
    assert listing and all('"channels_intake_rawinbound"."raw"' not in sql for sql in listing)
