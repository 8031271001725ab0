"""`manage.py import_calls FILE --format asterisk|csv`: import PBX call-detail records now, in this process.

The same import as the admin upload page (channels_intake.phone.cdr_import), run synchronously: the
file is stored as a CdrImport (so the admin lists it with its report), imported chunk by chunk,
then a summary and the bad rows are printed. Exits 1 when a row was bad or the file unreadable;
the good rows are imported all the same. Running it again on the same file adds nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from channels_intake.phone.cdr import CdrFormatError, pbx_timezone
from channels_intake.phone.cdr_import import cdr_import_create, cdr_import_run
from channels_intake.phone.models import CdrFormat, CdrImport, CdrImportState
from tickets.models import Team


def _mapping(value: str) -> dict[str, Any]:
    """--mapping: JSON text, or @path to a JSON file."""
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    try:
        mapping = json.loads(text)
    except ValueError as error:
        raise CommandError(f"--mapping is not JSON: {error}") from None
    if not isinstance(mapping, dict):
        raise CommandError('--mapping must be a JSON object, e.g. {"call_id": "Call ID", "from": "Caller", …}.')
    return mapping


class Command(BaseCommand):
    help = "Import call-detail records (Asterisk Master.csv or a mapped CSV): calls, customers, call and callback tickets."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="the CSV file")
        parser.add_argument("--format", choices=CdrFormat.values, default=CdrFormat.ASTERISK)
        parser.add_argument("--mapping", default="", help='generic CSV: JSON (or @file.json) {"call_id": "Call ID", …}')
        parser.add_argument("--timezone", default="", help="the PBX's time zone, e.g. Asia/Shanghai "
                                                           "(default HELPDESK_PHONE_PBX_TIMEZONE, else TIME_ZONE)")
        parser.add_argument("--team", default="", help="slug of the team that gets the tickets "
                                                       "(default: the agent's team, else the phone team)")
        header = parser.add_mutually_exclusive_group()
        header.add_argument("--header", dest="has_header", action="store_true", default=None,
                            help="the first row names the columns (default: detected)")
        header.add_argument("--no-header", dest="has_header", action="store_false")
        parser.add_argument("--chunk-size", type=int, default=None, help="rows per transaction "
                                                                         "(HELPDESK_PHONE_CDR_CHUNK_SIZE)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        mapping = _mapping(options["mapping"]) if options["mapping"] else {}
        try:
            pbx_timezone(options["timezone"])
        except CdrFormatError as error:
            raise CommandError(str(error)) from None
        team = None
        if options["team"]:
            team = Team.objects.filter(slug=options["team"]).first()
            if team is None:
                raise CommandError(f"No team with slug {options['team']!r}.")
        started = time.monotonic()
        with path.open("rb") as handle:
            cdr_import = cdr_import_create(
                upload=File(handle, name=path.name), format=options["format"], actor=None,
                timezone_name=options["timezone"], column_mapping=mapping, has_header=options["has_header"],
            )
        summary = cdr_import_run(cdr_import_id=cdr_import.pk, team=team, chunk_size=options["chunk_size"])
        seconds = time.monotonic() - started
        state = CdrImport.objects.values_list("state", flat=True).get(pk=cdr_import.pk)
        rate = summary.processed_rows / seconds if seconds else 0.0
        self.stdout.write(
            f"Import #{cdr_import.pk} ({path.name}): {summary.processed_rows} rows in {seconds:.1f} s "
            f"({rate:,.0f} rows/s): {summary.imported_rows} imported, {summary.duplicate_rows} duplicates, "
            f"{summary.skipped_rows} internal calls skipped, {summary.error_rows} bad; "
            f"{summary.tickets_created} tickets ({summary.callback_tickets} callbacks), "
            f"{summary.customers_created} new customers."
        )
        for row_error in summary.errors:
            where = f"line {row_error['line']}" if row_error["line"] else "file"
            self.stderr.write(f"{path.name}, {where}: {row_error['reason']}")
        if summary.error_rows > len(summary.errors):
            self.stderr.write(f"… and {summary.error_rows - len(summary.errors)} more bad rows.")
        if state == CdrImportState.FAILED:
            raise CommandError("The file could not be imported.")
        if summary.error_rows:
            raise CommandError(f"{summary.error_rows} bad rows were not imported (the others were).")
