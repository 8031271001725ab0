"""The demo knowledge base: the Markdown corpus in knowledgebase/demo/articles/, imported through
the same path as `manage.py import_articles` (so seeding twice changes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from knowledgebase.services.markdown_files import ImportReport, articles_import

DEMO_ARTICLES_DIR = Path(__file__).resolve().parent / "demo" / "articles"


def seed_knowledge_base(
    *, directory: Path = DEMO_ARTICLES_DIR, progress: Callable[[str], None] = lambda _m: None,
) -> ImportReport:
    """Import the demo categories and articles (published ones show in the help center at once)."""
    report = articles_import(directory=directory)
    progress(
        f"Knowledge base: {report.created} article translations created, {report.updated} updated, "
        f"{report.unchanged} unchanged."
    )
    for path, message in report.errors:
        progress(f"Knowledge base: could not import {path}: {message}")
    return report
