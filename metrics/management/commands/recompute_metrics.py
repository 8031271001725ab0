"""manage.py recompute_metrics [--from YYYY-MM-DD] [--to YYYY-MM-DD]: rebuild the facts, then the rollups."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from metrics.rollups import reporting_time_zone, rollups_rebuild
from metrics.services import ticket_facts_refresh_created_between


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(_("%(value)r is not a date like 2026-12-31.") % {"value": value}) from None


def _start_of(day: date) -> datetime:
    # Reporting days, as managers read them on the dashboard (HELPDESK_METRICS_TIME_ZONE).
    return datetime.combine(day, time(), tzinfo=reporting_time_zone())


class Command(BaseCommand):
    help = (
        "Recompute the metrics facts of the tickets created in a range of days (all tickets by default), "
        "then the daily rollups of those days."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="from_day", help="First day (YYYY-MM-DD), included.")
        parser.add_argument("--to", dest="to_day", help="Last day (YYYY-MM-DD), included.")

    def handle(self, *args, from_day: str | None = None, to_day: str | None = None, **options) -> None:
        first = _day(from_day) if from_day else None
        last = _day(to_day) if to_day else None
        if first and last and last < first:
            raise CommandError(_("--to is before --from."))
        count = ticket_facts_refresh_created_between(
            created_from=_start_of(first) if first else None,
            created_to=_start_of(last + timedelta(days=1)) if last else None,
        )
        self.stdout.write(
            ngettext("Recomputed the facts of %(count)d ticket.", "Recomputed the facts of %(count)d tickets.", count)
            % {"count": count}
        )
        rows = rollups_rebuild(day_from=first, day_to=last)
        self.stdout.write(
            ngettext("Rebuilt %(count)d daily rollup row.", "Rebuilt %(count)d daily rollup rows.", rows)
            % {"count": rows}
        )
