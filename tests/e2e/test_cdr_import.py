"""Importing a PBX's call-detail records from the admin site: upload, a progress bar that follows
the Celery worker's import, then the counts and the bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import in_db_thread, login
from tests.factories import make_user
from tickets.models import Role

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "phone"


def test_an_admin_uploads_a_cdr_file_and_follows_the_import_to_its_bad_rows(new_page, mail_servers):
    # mail_servers: its Celery worker runs the import, as under `make run`.
    in_db_thread(make_user, role=Role.ADMIN, username="root", is_staff=True, is_superuser=True)
    page = new_page()
    login(page, "root")

    page.goto("/admin/channels_intake/cdrimport/add/")
    page.get_by_label("CDR file (CSV)").set_input_files(str(FIXTURES / "master_header.csv"))
    page.locator("select[name=format]").select_option("asterisk")
    page.get_by_label("PBX time zone").fill("Asia/Shanghai")
    page.get_by_role("button", name="Upload and import").click()

    expect(page.locator("#cdr-progress")).to_have_attribute("value", "100", timeout=60_000)
    # Whether the page saw the import running (and updated itself) or found it done, it reads the same.
    expect(page.locator("#cdr-counts")).to_have_text("10 of 10 rows read: 5 imported, 1 duplicates, 3 bad.")
    errors = page.locator("#cdr-errors")
    expect(errors).to_contain_text("Expected 18 columns, found 10.")
    expect(errors).to_contain_text("The uniqueid is empty.")
    assert page.problems == []
