"""`manage.py import_calls` and the Celery task that runs stored imports."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from channels_intake.phone.cdr_import import cdr_import_create, cdr_import_queue
from channels_intake.phone.models import Call, CdrImport, CdrImportState
from tests.factories import make_team, make_user
from tickets.models import Role, Ticket

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "phone"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def support(db):
    return make_team(name="Support", slug="support")


def import_calls(*args: str) -> tuple[str, str, CommandError | None]:
    out, err = StringIO(), StringIO()
    try:
        call_command("import_calls", *args, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def test_command_imports_good_rows_lists_bad_ones_and_exits_1(support):
    out, err, error = import_calls(str(FIXTURES / "master_header.csv"), "--format", "asterisk",
                                   "--timezone", "Asia/Shanghai")

    assert error is not None and error.returncode == 1
    assert "3 bad rows were not imported" in str(error)
    assert "10 rows" in out and "5 imported, 1 duplicates, 1 internal calls skipped, 3 bad" in out
    assert "5 tickets (3 callbacks)" in out
    assert err.splitlines() == [
        "master_header.csv, line 7: Expected 18 columns, found 10.",
        "master_header.csv, line 8: start “30.11.2026 12:00” is not a date and time (expected YYYY-MM-DD HH:MM:SS).",
        "master_header.csv, line 9: The uniqueid is empty.",
    ]
    assert Call.objects.count() == 5
    assert CdrImport.objects.get().state == CdrImportState.DONE


def test_command_exits_0_on_a_clean_file_and_imports_it_once(support):
    out, err, error = import_calls(str(FIXTURES / "master_headerless_gbk.csv"), "--timezone", "Asia/Shanghai")
    assert (error, err) == (None, "")
    assert "3 imported, 0 duplicates" in out

    out, err, error = import_calls(str(FIXTURES / "master_headerless_gbk.csv"), "--timezone", "Asia/Shanghai")
    assert error is None
    assert "0 imported, 3 duplicates" in out
    assert Call.objects.count() == 3


def test_command_generic_csv_with_mapping_and_team(support):
    billing = make_team(name="Billing", slug="billing")
    mapping = {"call_id": "Call ID", "from": "Caller", "to": "Callee", "start": "Start time", "answer": "Answered",
               "end": "Ended", "duration": "Talk seconds", "disposition": "Result", "caller_name": "Name",
               "direction": "Direction"}

    out, err, error = import_calls(str(FIXTURES / "generic_calls.csv"), "--format", "csv", "--mapping",
                                   json.dumps(mapping), "--team", "billing", "--timezone", "UTC")

    assert error is not None and error.returncode == 1
    assert "3 imported" in out
    assert "generic_calls.csv, line 5:" in err
    assert set(Ticket.objects.values_list("team", flat=True)) == {billing.pk}


def test_command_refuses_bad_options_before_importing(support):
    for args, message in [
        (("--timezone", "Mars/Olympus"), "Unknown time zone"),
        (("--team", "nope"), "No team with slug 'nope'"),
        (("--format", "csv", "--mapping", "[1, 2]"), "--mapping must be a JSON object"),
    ]:
        _out, _err, error = import_calls(str(FIXTURES / "master_header.csv"), *args)
        assert error is not None and message in str(error)
    assert not CdrImport.objects.exists()


def test_command_reports_an_unreadable_file(support):
    _out, err, error = import_calls(str(FIXTURES / "generic_calls.csv"), "--format", "csv", "--mapping",
                                    '{"call_id": "Nope", "from": "Caller", "to": "Callee", "start": "Start time"}')

    assert error is not None and "could not be imported" in str(error)
    assert "generic_calls.csv, file: The file has no column “Nope” (mapped to call_id)." in err


def test_task_runs_a_stored_import_queued_on_commit(support, celery_eager, django_capture_on_commit_callbacks):
    admin = make_user(role=Role.ADMIN, username="boss")
    cdr_import = cdr_import_create(
        upload=ContentFile((FIXTURES / "master_header.csv").read_bytes(), name="Master.csv"), format="asterisk",
        actor=admin, timezone_name="UTC",
    )

    with django_capture_on_commit_callbacks(execute=True):
        cdr_import_queue(cdr_import=cdr_import)

    cdr_import.refresh_from_db()
    assert (cdr_import.state, cdr_import.imported_rows, len(cdr_import.errors)) == (CdrImportState.DONE, 5, 3)
    assert Call.objects.count() == 5


def test_task_of_an_uploader_with_another_language_still_reports_bad_rows_by_line(support, celery_eager, django_capture_on_commit_callbacks):
    from channels_intake.phone.tasks import run_cdr_import

    admin = make_user(role=Role.ADMIN, username="boss", language="zh-hans")
    cdr_import = cdr_import_create(
        upload=ContentFile(b'"","138","1001"\n', name="Master.csv"), format="asterisk", actor=admin,
        timezone_name="UTC",
    )

    run_cdr_import.delay(cdr_import.pk)

    cdr_import.refresh_from_db()
    assert cdr_import.state == CdrImportState.DONE
    assert [error["line"] for error in cdr_import.errors] == [1]
