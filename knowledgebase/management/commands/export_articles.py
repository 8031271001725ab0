"""`manage.py export_articles DIR`: every category and translation as files import_articles reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from knowledgebase.services.markdown_files import articles_export


class Command(BaseCommand):
    help = "Write DIR/_categories.yml and DIR/<language>/<article-key>.md for every translation, in any status."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        report = articles_export(directory=options["directory"])
        self.stdout.write(f"Wrote {report.categories} categories and {report.files} article files "
                          f"to {options['directory']}.")
