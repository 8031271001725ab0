"""manage.py check_metrics_drift [--days N] [--repair]: compare the rollups with a recomputation."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from metrics.rollups import rollups_drift_check


class Command(BaseCommand):
    help = (
        "Compare the daily rollups of the last days with a recomputation from the ticket facts; "
        "exit status 1 if any row differs (after --repair: if any still does)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=35, help="How many reporting days back, today included.")
        parser.add_argument("--repair", action="store_true", help="Rebuild the days that differ.")

    def handle(self, *args, days: int = 35, repair: bool = False, **options) -> None:
        if days < 1:
            raise CommandError(_("--days must be at least 1."))
        drifts = rollups_drift_check(days=days, repair=repair)
        if not drifts:
            self.stdout.write(
                ngettext("The rollups of the last %(days)d day match the facts.",
                         "The rollups of the last %(days)d days match the facts.", days) % {"days": days}
            )
            return
        for drift in drifts:
            self.stdout.write(drift.describe())
        summary = ngettext("%(count)d rollup row differs from the facts.", "%(count)d rollup rows differ from the facts.",
                           len(drifts)) % {"count": len(drifts)}
        if repair:
            remaining = rollups_drift_check(days=days)
            if not remaining:
                self.stdout.write(summary + " " + _("Repaired: the days that differed were rebuilt."))
                return
            summary = ngettext("%(count)d rollup row still differs after the repair.",
                               "%(count)d rollup rows still differ after the repair.", len(remaining)) % {
                "count": len(remaining)}
        raise CommandError(summary, returncode=1)
