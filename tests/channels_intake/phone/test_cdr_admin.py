"""The admin upload page for call-detail records, its progress page and the JSON status it polls."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels_intake.phone.models import Call, CdrImport, CdrImportState
from tests.factories import make_customer, make_team, make_user
from tickets.models import Role, Ticket

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "phone"
ADD_URL = "/admin/channels_intake/cdrimport/add/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(role=Role.ADMIN, is_staff=True, is_superuser=True, username="boss"))
    return client


def upload(client, name: str = "master_header.csv", **fields: str):
    data = {"file": SimpleUploadedFile(name, (FIXTURES / name).read_bytes(), content_type="text/csv"),
            "format": "asterisk", "timezone": "Asia/Shanghai", "has_header": "", "column_mapping": "", "team": "",
            **fields}
    return client.post(ADD_URL, data)


def test_upload_stores_the_file_queues_the_import_and_shows_its_progress_and_bad_rows(
    admin_client, celery_eager, django_capture_on_commit_callbacks
):
    support = make_team(name="Support", slug="support")
    assert admin_client.get(ADD_URL).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(admin_client, team=str(support.pk))

    cdr_import = CdrImport.objects.get()
    progress_url = f"/admin/channels_intake/cdrimport/{cdr_import.pk}/progress/"
    assert response.status_code == 302 and response["Location"] == progress_url
    assert cdr_import.created_by.username == "boss"
    assert (cdr_import.state, cdr_import.imported_rows) == (CdrImportState.DONE, 5)
    assert set(Ticket.objects.values_list("team", flat=True)) == {support.pk}
    assert Call.objects.count() == 5

    page = admin_client.get(progress_url)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="100"' in html  # the progress bar, full
    assert "10 of 10 rows read: 5 imported, 1 duplicates, 3 bad." in html
    assert "Expected 18 columns, found 10." in html and "The uniqueid is empty." in html
    assert f"/admin/channels_intake/cdrimport/{cdr_import.pk}/status/" in html
    assert f'nonce="{page.wsgi_request.csp_nonce}"' in html  # the polling script may run under the CSP

    listing = admin_client.get("/admin/channels_intake/cdrimport/")
    assert listing.status_code == 200 and "10 / 10" in listing.content.decode()

    status = admin_client.get(f"/admin/channels_intake/cdrimport/{cdr_import.pk}/status/").json()
    assert status == {
        "id": cdr_import.pk, "state": "done", "state_label": "Done", "is_finished": True, "percent": 100,
        "total_rows": 10, "processed_rows": 10, "imported_rows": 5, "duplicate_rows": 1, "error_count": 3,
        "errors": [
            {"line": 7, "reason": "Expected 18 columns, found 10."},
            {"line": 8, "reason": "start “30.11.2026 12:00” is not a date and time (expected YYYY-MM-DD HH:MM:SS)."},
            {"line": 9, "reason": "The uniqueid is empty."},
        ],
    }


def test_status_of_a_queued_import_is_not_finished(admin_client):
    upload(admin_client)  # the task is queued on commit, which this test never reaches

    cdr_import = CdrImport.objects.get()
    status = admin_client.get(f"/admin/channels_intake/cdrimport/{cdr_import.pk}/status/").json()

    assert (status["state"], status["is_finished"], status["percent"]) == ("queued", False, 0)
    page = admin_client.get(f"/admin/channels_intake/cdrimport/{cdr_import.pk}/progress/").content.decode()
    assert 'data-finished="0"' in page


def test_upload_form_refuses_bad_options_and_stores_nothing(admin_client):
    response = upload(admin_client, timezone="Mars/Olympus")
    assert response.status_code == 200
    assert "Unknown time zone “Mars/Olympus”." in response.content.decode()

    response = upload(admin_client, "generic_calls.csv", format="csv", column_mapping='{"call_id": "Call ID"}')
    assert "The column mapping needs from, to, start." in response.content.decode()

    response = upload(admin_client, "generic_calls.csv", format="csv", column_mapping="not json")
    assert "Enter the mapping as a JSON object." in response.content.decode()
    assert not CdrImport.objects.exists()


@pytest.mark.parametrize("who", ["anonymous", "customer", "agent"])
def test_upload_progress_and_status_are_refused_to_everyone_but_admins(client, who):
    cdr_import = CdrImport.objects.create(format="asterisk", file="cdr/x.csv", errors=[{"line": 3, "reason": "secret"}])
    if who == "customer":
        customer = make_customer()
        client.force_login(customer.user)
    elif who == "agent":
        client.force_login(make_user(role=Role.AGENT))

    for url in (ADD_URL, f"/admin/channels_intake/cdrimport/{cdr_import.pk}/progress/",
                f"/admin/channels_intake/cdrimport/{cdr_import.pk}/status/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
        assert b"secret" not in response.content

    response = client.post(ADD_URL, {"file": SimpleUploadedFile("x.csv", b"a,b\n"), "format": "asterisk"})
    assert response.status_code == 302
    assert CdrImport.objects.count() == 1
