"""Celery entry point of the call-detail-record import (large files run in a worker, not a request)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import translation

from channels_intake.tasks import RETRY_DATABASE_OUTAGE


@shared_task(name="channels_intake.phone.tasks.run_cdr_import", queue="default", acks_late=True,
             **RETRY_DATABASE_OUTAGE)
def run_cdr_import(cdr_import_id: int, team_id: int | None = None) -> dict[str, Any]:
    """Run a stored import to the end (idempotent: a finished import is left alone, an interrupted
    one imports only what is missing). Row errors are written in the uploader's language."""
    from channels_intake.phone.cdr_import import cdr_import_run
    from channels_intake.phone.models import CdrImport
    from tickets.models import Team

    uploader_language = (
        CdrImport.objects.filter(pk=cdr_import_id).values_list("created_by__language", flat=True).first()
    )
    team = Team.objects.filter(pk=team_id).first() if team_id is not None else None
    with translation.override(uploader_language or settings.LANGUAGE_CODE):
        summary = cdr_import_run(cdr_import_id=cdr_import_id, team=team)
    return {"imported": summary.imported_rows, "duplicates": summary.duplicate_rows, "errors": summary.error_rows}
