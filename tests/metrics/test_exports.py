"""CSV and XLSX downloads of a breakdown: GET /api/v1/metrics/breakdown/?by=…&format=csv|xlsx on the
small world (test_selectors_fixture.py)."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.metrics.test_selectors_fixture import world_in_shanghai

pytestmark = pytest.mark.django_db

PERIOD = "period=custom&start=2026-11-02&end=2026-11-08"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def world(db, settings):
    return world_in_shanghai(settings)


@pytest.fixture
def as_manager(world) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=world.manager)[0].key}")
    return client


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_of_a_breakdown(as_manager):
    response = as_manager.get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=organization&format=csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == \
        'attachment; filename="metrics-by-organization-2026-11-02-2026-11-08.csv"'
    # The byte-order mark lets Excel read the Chinese organization name as UTF-8.
    assert response.content.startswith("\ufeff".encode())
    header, *rows = csv_rows(response)
    assert header == [
        "Organization", "Tickets created", "Tickets solved", "First response, median (business hours)",
        "First response, mean (business hours)", "First response, 90th percentile (business hours)",
        "Resolution, median (business hours)", "Resolution, mean (business hours)",
        "Resolution, 90th percentile (business hours)", "First contact resolution (%)", "Reopen rate (%)",
        "SLA targets due", "SLA compliance (%)", "CSAT, satisfied (%)", "CSAT answers", "NPS (−100 to 100)",
        "NPS answers", "CES (mean, 1–7)", "CES answers",
    ]
    # No organization: T2, T3, T4, T5, T9 created; T2 and T3 solved. Xiamen: T1 and T6 (FRT 1800
    # and 7200 s, resolution 7200 and 32400 s, both at first contact, SLA 2 of 3, CSAT 5 and 4,
    # NPS 10 and 3, CES 2 and 5).
    assert [row[:3] for row in rows] == [["No organization", "5", "2"], ["Xiamen Printing 厦门印刷", "2", "2"]]
    assert rows[1] == ["Xiamen Printing 厦门印刷", "2", "2", "1.25", "1.25", "1.85", "5.5", "5.5", "8.3", "100.0",
                       "0.0", "3", "66.7", "100.0", "2", "0.0", "2", "3.5", "2"]
    # Without organization: FRT of T2 (3600 s) and T8 (30600 s), resolution of T3 and T2 (1200, 3600 s),
    # CSAT 2 and 3, the answers without a ticket (NPS 9 and 7, CES 6), and no SLA target due.
    assert (rows[0][3], rows[0][6]) == ("4.75", "0.67")
    assert rows[0][11:] == ["1", "0.0", "0.0", "2", "50.0", "2", "6.0", "1"]


def test_csv_in_calendar_hours_says_so(as_manager):
    header, *rows = csv_rows(as_manager.get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=team&format=csv&hours=calendar"))
    assert header[3] == "First response, median (calendar hours)"
    support = next(row for row in rows if row[0] == "Support")
    # FRT 1800, 61200 and 257400 s: the median is T2's 17 hours.
    assert support[3] == "17.0"


def test_csv_headers_and_labels_in_chinese(as_manager):
    response = as_manager.get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=team&format=csv", HTTP_ACCEPT_LANGUAGE="zh-hans")
    header, *rows = csv_rows(response)
    assert header[0] == "团队"
    assert rows[-1][0] == "无团队"


def test_xlsx_of_a_breakdown(as_manager, world):
    response = as_manager.get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=agent&format=xlsx")

    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == 'attachment; filename="metrics-by-agent-2026-11-02-2026-11-08.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Agent", "Tickets created", "Tickets solved", "First response, median (business hours)")
    assert all(cell.font.bold for cell in sheet[1])
    # Bea: T4, T5, T6 created, T6 solved (FRT 7200 s = 2 hours); numbers stay numbers.
    assert rows[1][:4] == ("Bea One", 3, 1, 2.0)
    assert [row[0] for row in rows[1:]] == ["Bea One", "Ann One", "Unassigned", "Abe Two"]
    assert rows[3][3] is None  # nobody answered the unassigned tickets


def test_names_that_look_like_formulas_stay_text(as_manager, world):
    world.support.name = '=HYPERLINK("https://evil.example","click")'
    world.support.save(update_fields=["name"])

    csv_labels = [row[0] for row in csv_rows(as_manager.get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=team&format=csv"))]
    assert "'" + world.support.name in csv_labels

    response = as_manager.get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=team&format=xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    cell = next(row[0] for row in sheet.iter_rows() if str(row[0].value).startswith("=HYPERLINK"))
    assert cell.data_type == "s"


def test_agent_export_holds_only_their_own_row(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=world.a1)[0].key}")
    header, *rows = csv_rows(client.get(f"/api/v1/metrics/breakdown/?{PERIOD}&by=team&format=csv"))
    # Ann's T1 and T2, both Support's.
    assert [row[:3] for row in rows] == [["Support", "2", "2"]]
