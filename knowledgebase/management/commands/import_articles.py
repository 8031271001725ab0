"""`manage.py import_articles DIR`: categories and articles from Markdown files with front matter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from knowledgebase.services.markdown_files import articles_import


class Command(BaseCommand):
    help = (
        "Import DIR/_categories.yml and DIR/<language>/<article-key>.md (YAML front matter: article, title, "
        "category, tags, visibility, status, related, summary). Idempotent: unchanged files change nothing. "
        "Exits with status 1 when any file could not be imported (the others are)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        verbose = int(options["verbosity"]) > 1
        report = articles_import(directory=options["directory"],
                                 progress=(lambda message: self.stdout.write(message)) if verbose else (lambda _m: None))
        for path, message in report.warnings:
            self.stderr.write(f"warning: {path}: {message}")
        for path, message in report.errors:
            self.stderr.write(self.style.ERROR(f"error: {path}: {message}"))
        self.stdout.write(
            f"{report.categories} categories; articles: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.errors)} failed."
        )
        if report.errors:
            raise SystemExit(1)
