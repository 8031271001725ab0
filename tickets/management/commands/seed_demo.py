"""`manage.py seed_demo [--tickets N] [--history-days D]`: demo logins, teams, customers, N tickets with a
year of history and, for the metrics dashboards, a denser history of the last D days with SLA timers
and survey answers (by default 300 tickets and 90 days; with --tickets alone, no metrics history)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from channels_intake.chat.demo import seed_chat_widget
from channels_intake.phone.demo import seed_phone
from knowledgebase.demo import seed_knowledge_base
from tickets.demo import DEMO_LOGINS, DEMO_PASSWORD, seed
from tickets.demo.automation import seed_automation
from tickets.demo.history import DEFAULT_DAYS, TICKETS_PER_DAY, seed_metrics_history

DEFAULT_TICKETS = 300


class Command(BaseCommand):
    help = "Create the demo data (idempotent): logins, teams, customers, and tickets up to --tickets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tickets", type=int, default=None,
            help=f"make sure at least this many tickets exist (default {DEFAULT_TICKETS}, with the metrics history)",
        )
        parser.add_argument(
            "--history-days", type=int, default=None,
            help=f"days of metrics history, written once (default {DEFAULT_DAYS} without --tickets, else 0)",
        )
        parser.add_argument(
            "--history-tickets", type=int, default=None,
            help=f"tickets of the metrics history (default {TICKETS_PER_DAY} a day)",
        )
        parser.add_argument(
            "--method", choices=("auto", "services", "bulk"), default="auto",
            help="services: every change through the ticket services; bulk: PostgreSQL COPY (default: by size)",
        )
        parser.add_argument("--workers", type=int, default=None, help="processes for the bulk method")
        parser.add_argument("--seed", type=int, default=0, help="random seed of the generated tickets")

    def handle(self, *args: Any, **options: Any) -> None:
        # The plain `seed_demo` of `make run` is the full demo; an explicit size (tests, benchmarks)
        # asks for those tickets only unless --history-days says otherwise.
        full_demo = options["tickets"] is None
        tickets = DEFAULT_TICKETS if full_demo else int(options["tickets"])
        history_days = options["history_days"]
        history_days = (DEFAULT_DAYS if full_demo else 0) if history_days is None else int(history_days)
        if tickets < 0 or history_days < 0:
            self.stderr.write("--tickets and --history-days must be 0 or more")
            raise SystemExit(2)
        result = seed(
            tickets=tickets, method=str(options["method"]), seed_value=int(options["seed"]),
            workers=options["workers"], progress=lambda message: self.stdout.write(message),
        )
        if result.tickets_created:
            self.stdout.write(
                f"Created {result.tickets_created:,} tickets with {result.messages_created:,} messages "
                f"({result.method}) in {result.seconds:.1f} s."
            )
        else:
            self.stdout.write(f"Demo data present ({tickets:,} tickets or more); nothing to add.")
        if history_days:
            history = seed_metrics_history(
                days=history_days, tickets=options["history_tickets"], seed_value=int(options["seed"]),
                progress=lambda message: self.stdout.write(message),
            )
            if history.skipped:
                self.stdout.write("Metrics history present; nothing to add.")
            else:
                self.stdout.write(
                    f"Metrics history: {history.tickets:,} tickets over {history_days} days ({history.merged} merged), "
                    f"{history.surveys:,} survey answers, facts of {history.facts:,} tickets"
                    f"{', rollups' if history.rollups else ''} in {history.seconds:.1f} s."
                )
        seed_knowledge_base(progress=lambda message: self.stdout.write(message))
        seed_chat_widget(progress=lambda message: self.stdout.write(message))
        seed_phone(progress=lambda message: self.stdout.write(message))
        seed_automation(progress=lambda message: self.stdout.write(message), customer_tickets=full_demo)
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for username, what in DEMO_LOGINS:
            self.stdout.write(f"  {username:<22} {what}")
