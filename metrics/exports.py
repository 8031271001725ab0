"""CSV and XLSX files of a metrics breakdown (metrics.selectors.metrics_breakdown).

Both files hold the same table: a header row in the active language, then one row per team,
agent, channel, priority or organization. Times are in hours with two decimals (the header says
business or calendar hours), rates and CSAT in percent with one decimal, NPS as a score and CES
as a mean with two decimals, counts as whole numbers. Empty cells where there is no data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from django.utils.translation import gettext as _

from metrics.selectors import MetricFilters

SECONDS_PER_HOUR = 3600


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value / SECONDS_PER_HOUR, 2)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _score(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _count(value: int | None) -> int:
    return int(value or 0)


def _dimension_title(by: str) -> str:
    return {
        "team": _("Team"), "agent": _("Agent"), "channel": _("Channel"), "priority": _("Priority"),
        "organization": _("Organization"),
    }[by]


def export_columns(*, by: str, filters: MetricFilters) -> list[tuple[str, str, Callable[[Any], Any]]]:
    """(title, row field, conversion) of each column, titles translated in the active language."""
    hours = _("business hours") if filters.business_hours else _("calendar hours")
    return [
        (_dimension_title(by), "label", str),
        (_("Tickets created"), "volume", _count),
        (_("Tickets solved"), "solved", _count),
        (_("First response, median (%(hours)s)") % {"hours": hours}, "frt_median", _hours),
        (_("First response, mean (%(hours)s)") % {"hours": hours}, "frt_mean", _hours),
        (_("First response, 90th percentile (%(hours)s)") % {"hours": hours}, "frt_p90", _hours),
        (_("Resolution, median (%(hours)s)") % {"hours": hours}, "resolution_median", _hours),
        (_("Resolution, mean (%(hours)s)") % {"hours": hours}, "resolution_mean", _hours),
        (_("Resolution, 90th percentile (%(hours)s)") % {"hours": hours}, "resolution_p90", _hours),
        (_("First contact resolution (%)"), "fcr_rate", _percent),
        (_("Reopen rate (%)"), "reopen_rate", _percent),
        (_("SLA targets due"), "sla_due", _count),
        (_("SLA compliance (%)"), "sla_compliance", _percent),
        (_("CSAT, satisfied (%)"), "csat", _percent),
        (_("CSAT answers"), "csat_count", _count),
        (_("NPS (−100 to 100)"), "nps", _score),
        (_("NPS answers"), "nps_count", _count),
        (_("CES (mean, 1–7)"), "ces", _score),
        (_("CES answers"), "ces_count", _count),
    ]


def _table(rows: Sequence[dict[str, Any]], *, by: str, filters: MetricFilters) -> tuple[list[str], list[list[Any]]]:
    columns = export_columns(by=by, filters=filters)
    header = [title for title, _field, _convert in columns]
    body = [[convert(row[field]) for _title, field, convert in columns] for row in rows]
    return header, body


def _neutralised(value: Any) -> Any:
    # A team or organization named "=HYPERLINK(...)" must stay text in a spreadsheet, not run as a formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def breakdown_csv(rows: Sequence[dict[str, Any]], *, by: str, filters: MetricFilters) -> bytes:
    """UTF-8 with a byte-order mark: without it Excel reads Chinese labels as mojibake."""
    header, body = _table(rows, by=by, filters=filters)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for line in body:
        writer.writerow(["" if value is None else _neutralised(value) for value in line])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def breakdown_xlsx(rows: Sequence[dict[str, Any]], *, by: str, filters: MetricFilters) -> bytes:
    """One sheet: a bold, frozen header row, then the rows; numbers stored as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    header, body = _table(rows, by=by, filters=filters)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _dimension_title(by)[:31]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for line in body:
        sheet.append(line)
        for cell in sheet[sheet.max_row]:
            # Labels are always text: openpyxl would store one starting with "=" as a formula.
            if isinstance(cell.value, str):
                cell.data_type = "s"
    sheet.freeze_panes = "B2"
    widest_label = max((len(str(line[0])) for line in body), default=0)
    sheet.column_dimensions["A"].width = min(60, max(12, widest_label + 2))
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def export_filename(*, by: str, filters: MetricFilters, extension: str) -> str:
    return f"metrics-by-{by}-{filters.start.isoformat()}-{filters.end.isoformat()}.{extension}"
