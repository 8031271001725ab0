"""Deflection: did the knowledge base answer a customer before they asked a person?

One Deflection row is one *visit* to a form that suggests articles (the portal's new-request form,
later the chat widget): created the first time suggestions are shown, updated with the latest query
while the customer types, told which suggested article they opened, and marked SUBMITTED when they
send the request after all.

A visit is one browser session on one form within `deflection_window()`: reloading the form, or
coming back to it after reading an article, continues the same visit instead of starting a new one,
so "opened an article, came back, submitted" is one submitted visit, not a deflection plus a
submission.

A visit counts as DEFLECTED when an article was opened and no request was submitted within the
window. That is decided lazily, when the numbers are read (`deflection_rate`), not by a periodic
task: the rate is exact at any moment whatever the workers are doing, a submission that comes late
still wins, and nothing has to rewrite rows in the background. The stored outcome is therefore
PENDING or SUBMITTED; `deflected_q()` is the one definition of "deflected" (rows some other process
marked DEFLECTED count too).

Nothing personal is stored beyond what the customer typed: rows are keyed by the session, not the
user (the ticket link appears only when they submit, which tells us who they are anyway).
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from knowledgebase.models import ArticleTranslation, Deflection, DeflectionOutcome

if TYPE_CHECKING:
    from tickets.models import Ticket

DEFAULT_WINDOW_MINUTES = 30
QUERY_MAX_LENGTH = 200


def deflection_window() -> datetime.timedelta:
    """How long after suggestions were first shown a visit may still end in a request.

    HELPDESK_KB_DEFLECTION_WINDOW_MINUTES (default 30), read when used so tests can override it."""
    minutes = getattr(settings, "HELPDESK_KB_DEFLECTION_WINDOW_MINUTES", DEFAULT_WINDOW_MINUTES)
    return datetime.timedelta(minutes=float(minutes))


def _language_or_blank(language: str) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    return language if language in codes else ""


def _parse_id(value: int | str | None) -> int | None:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _open_visit(*, session_key: str, source: str, deflection_id: int | str | None,
                now: datetime.datetime, for_update: bool = False) -> Deflection | None:
    """The session's pending visit on this form: the one the page names if it is still pending,
    else the latest one begun within the window (a reload or a return from an article)."""
    if not session_key:
        return None
    pending = Deflection.objects.filter(session_key=session_key, source=source, outcome=DeflectionOutcome.PENDING)
    if for_update:
        pending = pending.select_for_update()
    named = _parse_id(deflection_id)
    if named is not None:
        visit = pending.filter(pk=named).first()
        if visit is not None:
            return visit
    return pending.filter(created_at__gt=now - deflection_window()).order_by("-created_at", "-pk").first()


def deflection_record_shown(*, session_key: str, source: str, query: str, language: str,
                            deflection_id: int | str | None = None) -> Deflection:
    """Suggestions were shown for `query`: continue the session's visit (latest query wins) or
    begin one. Called when the first suggestions appear and again, debounced, as the query
    changes, so there is one row per visit, not one per keystroke."""
    if source not in Deflection.Source.values:
        raise ValueError(f"unknown deflection source {source!r}")
    query = " ".join(query.split())[:QUERY_MAX_LENGTH]
    language = _language_or_blank(language)
    with transaction.atomic():
        visit = _open_visit(session_key=session_key, source=source, deflection_id=deflection_id,
                            now=timezone.now(), for_update=True)
        if visit is None:
            return Deflection.objects.create(source=source, session_key=session_key, query=query, language=language)
        visit.query = query
        visit.language = language or visit.language
        visit.save(update_fields=["query", "language"])
        return visit


def deflection_record_opened(*, deflection: Deflection, translation: ArticleTranslation) -> Deflection:
    """The customer opened a suggested article during this visit (the latest one opened is kept).

    A visit already submitted stays as it is: what they read afterwards deflected nothing."""
    with transaction.atomic():
        visit = Deflection.objects.select_for_update().get(pk=deflection.pk)
        if visit.outcome == DeflectionOutcome.PENDING and visit.opened_translation_id != translation.pk:
            visit.opened_translation = translation
            visit.save(update_fields=["opened_translation"])
        return visit


def deflection_record_submitted(*, session_key: str, ticket: Ticket, deflection_id: int | str | None,
                                source: str = Deflection.Source.PORTAL_FORM) -> Deflection | None:
    """The customer sent the request after all: their visit (the id the form carried, or else the
    session's visit still open on this form) is SUBMITTED with the ticket. None when no
    suggestions were shown during this visit. `deflection_id` is taken as the page posted it;
    anything that is not one of this session's pending visits is ignored."""
    now = timezone.now()
    with transaction.atomic():
        visit = _open_visit(session_key=session_key, source=source, deflection_id=deflection_id, now=now,
                            for_update=True)
        if visit is None:
            return None
        visit.outcome = DeflectionOutcome.SUBMITTED
        visit.ticket = ticket
        visit.decided_at = now
        visit.save(update_fields=["outcome", "ticket", "decided_at"])
        return visit


def deflection_for_session(*, deflection_id: int | str, session_key: str) -> Deflection | None:
    """A visit only its own session may touch; None for anyone else's (callers answer 404)."""
    number = _parse_id(deflection_id)
    if number is None or not session_key:
        return None
    return Deflection.objects.filter(pk=number, session_key=session_key).first()


# --- reads --------------------------------------------------------------------------------------


def deflected_q(*, now: datetime.datetime | None = None) -> Q:
    """Visits that count as deflected at `now`: an article was opened and no request followed
    within the window (or another process already marked them DEFLECTED)."""
    cutoff = (now or timezone.now()) - deflection_window()
    pending_and_over = Q(outcome=DeflectionOutcome.PENDING, opened_translation__isnull=False, created_at__lte=cutoff)
    return Q(outcome=DeflectionOutcome.DEFLECTED) | pending_and_over


def deflection_rate(*, since: datetime.datetime, until: datetime.datetime, source: str | None = None,
                    language: str | None = None) -> dict[str, Any]:
    """Visits begun in [since, until) (of one source and page language, or all): how many were shown suggestions,
    opened one, were deflected, were submitted anyway; `rate` = deflected / shown (0.0 when none
    were shown). Visits still inside their window are neither deflected nor submitted yet.
    One query, for the metrics page (issue 8) and the search analytics page."""
    visits = Deflection.objects.filter(created_at__gte=since, created_at__lt=until)
    if source:
        visits = visits.filter(source=source)
    if language:
        visits = visits.filter(language=language)
    counts = visits.aggregate(
        shown=Count("pk"),
        opened=Count("pk", filter=Q(opened_translation__isnull=False)),
        deflected=Count("pk", filter=deflected_q()),
        submitted=Count("pk", filter=Q(outcome=DeflectionOutcome.SUBMITTED)),
    )
    shown = counts["shown"]
    return {**counts, "rate": counts["deflected"] / shown if shown else 0.0}
