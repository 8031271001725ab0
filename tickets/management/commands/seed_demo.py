"""`manage.py seed_demo [--tickets N]`: demo logins, teams, customers and N tickets with a year of history."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from channels_intake.chat.demo import seed_chat_widget
from channels_intake.phone.demo import seed_phone
from knowledgebase.demo import seed_knowledge_base
from tickets.demo import DEMO_LOGINS, DEMO_PASSWORD, seed


class Command(BaseCommand):
    help = "Create the demo data (idempotent): logins, teams, customers, and tickets up to --tickets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=300, help="make sure at least this many tickets exist")
        parser.add_argument(
            "--method", choices=("auto", "services", "bulk"), default="auto",
            help="services: every change through the ticket services; bulk: PostgreSQL COPY (default: by size)",
        )
        parser.add_argument("--workers", type=int, default=None, help="processes for the bulk method")
        parser.add_argument("--seed", type=int, default=0, help="random seed of the generated tickets")

    def handle(self, *args: Any, **options: Any) -> None:
        tickets = int(options["tickets"])
        if tickets < 0:
            self.stderr.write("--tickets must be 0 or more")
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
        seed_knowledge_base(progress=lambda message: self.stdout.write(message))
        seed_chat_widget(progress=lambda message: self.stdout.write(message))
        seed_phone(progress=lambda message: self.stdout.write(message))
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for username, what in DEMO_LOGINS:
            self.stdout.write(f"  {username:<22} {what}")
