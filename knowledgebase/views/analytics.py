"""Search analytics page for authors under /agent/kb/analytics/ (staff only; customers get 404)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from knowledgebase.deflection import deflection_rate
from knowledgebase.models import Deflection, SearchQuery
from knowledgebase.search.analytics import DEFAULT_PERIOD, PERIODS, search_analytics
from knowledgebase.views.authoring import author_required

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


@author_required
@require_GET
def search_analytics_view(request: HttpRequest) -> HttpResponse:
    raw_days = request.GET.get("days", "")
    days = int(raw_days) if raw_days.isdigit() and int(raw_days) in PERIODS else DEFAULT_PERIOD
    language = request.GET.get("language", "")
    language = language if language in LANGUAGE_CODES else ""
    source = request.GET.get("source", "")
    source = source if source in SearchQuery.Source.values else ""
    analytics = search_analytics(days=days, language=language or None, source=source or None)
    # Deflection happens only where a form suggests articles; other sources have none to show.
    deflection = None
    if not source or source in Deflection.Source.values:
        now = timezone.now()
        deflection = deflection_rate(since=now - datetime.timedelta(days=days), until=now, source=source or None,
                                     language=language or None)
    return render(request, "knowledgebase/agent/search_analytics.html", {
        "analytics": analytics,
        "deflection": deflection,
        "periods": PERIODS,
        "language": language,
        "source": source,
        "language_choices": settings.LANGUAGES,
        "source_choices": SearchQuery.Source.choices,
    })
