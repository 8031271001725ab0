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
    settings.HELPDESK_EMAIL_MAX_BYTES = 100  # lowered after the door took the mail
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
    settings.HELPDESK_EMAIL_MAX_BYTES = 100
    row = store(build_mail(subject="Manual attached", attachments=[("manual.pdf", "application/pdf", b"%PDF" * 100)]))
    assert row.state == RawInboundState.FAILED
    settings.HELPDESK_EMAIL_MAX_BYTES = 10_000  # the admin raised the limit

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


# --- suspended mail: listed by reason, released by an admin ---------------------------------------

SETTINGS_URL = "/admin/channels_intake/teamemailsettings/"


@pytest.fixture
def spam_screened(support_team):
    from decimal import Decimal

    from channels_intake.models import TeamEmailSettings

    return TeamEmailSettings.objects.create(team=support_team, spam_score_threshold=Decimal("5"))


def test_suspended_mail_is_listed_with_its_reason_and_filtered_by_it(admin_client, store, spam_screened):
    store(build_mail(subject="Fine"))
    spam = store(build_mail(subject="Cheap pills", headers={"X-Spam-Score": "9.1"}))

    response = admin_client.get(LIST_URL, {"suspension_reason__exact": "spam"})

    page = response.content.decode()
    assert list(response.context["cl"].result_list) == [spam]
    assert "Spam (score at or over the team&#x27;s threshold)" in page
    assert "Spam score 9.1 is at or over the team" in page
    assert Ticket.objects.count() == 1
    assert list(admin_client.get(LIST_URL, {"suspension_reason__exact": "loop"}).context["cl"].result_list) == []


def test_suspended_mail_offers_release_not_retry(admin_client, store, spam_screened):
    spam = store(build_mail(subject="Cheap pills", headers={"X-Spam-Score": "9.1"}))
    fine = store(build_mail(subject="Fine"))

    spam_page = admin_client.get(f"{LIST_URL}{spam.pk}/change/").content.decode()
    fine_page = admin_client.get(f"{LIST_URL}{fine.pk}/change/").content.decode()

    assert f'action="{LIST_URL}{spam.pk}/release/"' in spam_page
    assert f'action="{LIST_URL}{spam.pk}/retry/"' not in spam_page
    assert "/release/" not in fine_page


def test_release_button_tickets_the_mail_and_records_the_admin(
    admin_client, store, spam_screened, django_capture_on_commit_callbacks
):
    spam = store(build_mail(subject="Actually a customer", headers={"X-Spam-Score": "9.1"}))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{LIST_URL}{spam.pk}/release/", follow=True)

    assert "Released: it is processed as normal mail." in response.content.decode()
    spam.refresh_from_db()
    assert spam.state == RawInboundState.PROCESSED
    assert Ticket.objects.get().subject == "Actually a customer"
    assert spam.released_by == response.wsgi_request.user
    page = admin_client.get(f"{LIST_URL}{spam.pk}/change/").content.decode()
    assert "/release/" not in page


def test_release_action_releases_suspended_mail_only(
    admin_client, store, spam_screened, django_capture_on_commit_callbacks
):
    spam = store(build_mail(subject="Held", headers={"X-Spam-Score": "9.1"}))
    fine = store(build_mail(subject="Fine"))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            LIST_URL, {"action": "release_selected", "_selected_action": [spam.pk, fine.pk]}, follow=True
        )

    page = response.content.decode()
    assert "1 message released and queued for processing." in page
    assert "1 message was not suspended and was left as it is." in page
    assert Ticket.objects.count() == 2
    fine.refresh_from_db()
    assert fine.attempts == 1


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER])
def test_only_admins_release(client, store, spam_screened, role):
    spam = store(build_mail(headers={"X-Spam-Score": "9.1"}))
    client.force_login(make_user(role=role, is_staff=True))

    assert client.post(f"{LIST_URL}{spam.pk}/release/").status_code == 302
    spam.refresh_from_db()
    assert spam.state == RawInboundState.SUSPENDED


def test_release_needs_a_post(admin_client, store, spam_screened):
    spam = store(build_mail(headers={"X-Spam-Score": "9.1"}))

    assert admin_client.get(f"{LIST_URL}{spam.pk}/release/").status_code == 405
    spam.refresh_from_db()
    assert spam.state == RawInboundState.SUSPENDED


# --- team email settings ------------------------------------------------------------------------


def _settings_form(team, **overrides) -> dict:
    data = {"team": team.pk, "blocked_senders": "", "allowed_senders": "", "spam_score_threshold": "",
            "acknowledgement_subject": "", "acknowledgement_text": ""}
    data.update(overrides)
    return data


def test_team_email_settings_store_sender_lists_one_a_line_normalised(admin_client, support_team):
    from channels_intake.models import TeamEmailSettings

    response = admin_client.post(f"{SETTINGS_URL}add/", _settings_form(
        support_team, blocked_senders="Spam.Example\r\n@Junk.example, bad@Customer.example\r\n\r\nspam.example",
        allowed_senders="boss@customer.example", spam_score_threshold="6.5", acknowledgement_enabled="on",
    ))

    assert response.status_code == 302
    saved = TeamEmailSettings.objects.get(team=support_team)
    assert saved.blocked_senders == ["spam.example", "junk.example", "bad@customer.example"]
    assert saved.allowed_senders == ["boss@customer.example"]
    assert str(saved.spam_score_threshold) == "6.50" and saved.acknowledgement_enabled
    page = admin_client.get(f"{SETTINGS_URL}{support_team.pk}/change/").content.decode()
    assert "spam.example\njunk.example\nbad@customer.example" in page


def test_team_email_settings_refuse_bad_entries_and_unknown_placeholders(admin_client, support_team):
    from channels_intake.models import TeamEmailSettings

    response = admin_client.post(f"{SETTINGS_URL}add/", _settings_form(
        support_team, blocked_senders="spam.example\nnot a domain",
        acknowledgement_text="Hello {customer_name}, {ticket.requester.email}",
    ))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Not an address or a domain: not, a, domain" in errors["blocked_senders"][0]
    assert "{ticket.requester.email}" not in str(errors)  # not a \w+ name: left as text, not an error
    response = admin_client.post(f"{SETTINGS_URL}add/", _settings_form(
        support_team, acknowledgement_subject="Re {ticket_id}",
    ))
    assert "Unknown placeholder {ticket_id}" in str(response.context["adminform"].form.errors["acknowledgement_subject"])
    assert not TeamEmailSettings.objects.exists()
