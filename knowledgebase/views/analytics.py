"""Search analytics page for authors under /agent/kb/analytics/ (staff only; customers get 404)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from knowledgebase.models import SearchQuery
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
    return render(request, "knowledgebase/agent/search_analytics.html", {
        "analytics": analytics,
        "periods": PERIODS,
        "language": language,
        "source": source,
        "language_choices": settings.LANGUAGES,
        "source_choices": SearchQuery.Source.choices,
    })
