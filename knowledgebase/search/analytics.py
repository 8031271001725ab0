"""Search analytics for authors: what readers search for, whether a search led them to an
article, and what they searched for in vain (the articles to write next). Staff only: the
view checks the role before calling these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from knowledgebase.models import SearchQuery

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
ROWS = 25


@dataclass(frozen=True)
class QueryRow:
    query: str
    searches: int
    clicks: int
    last_searched_at: datetime

    @property
    def click_through_rate(self) -> float:
        return self.clicks / self.searches if self.searches else 0.0


@dataclass
class SearchAnalytics:
    days: int
    searches: int = 0
    clicked: int = 0
    without_results: int = 0
    top_queries: list[QueryRow] = field(default_factory=list)
    no_result_queries: list[QueryRow] = field(default_factory=list)

    @property
    def click_through_rate(self) -> float:
        return self.clicked / self.searches if self.searches else 0.0

    @property
    def no_result_rate(self) -> float:
        return self.without_results / self.searches if self.searches else 0.0


def _grouped(searches: QuerySet[SearchQuery], limit: int) -> list[QueryRow]:
    rows = (
        searches.values("normalized_query")
        .annotate(searches=Count("id"), clicks=Count("id", filter=Q(clicked_translation__isnull=False)),
                  last=Max("created_at"))
        .order_by("-searches", "-last", "normalized_query")[:limit]
    )
    return [QueryRow(query=row["normalized_query"], searches=row["searches"], clicks=row["clicks"],
                     last_searched_at=row["last"]) for row in rows]


def search_analytics(*, days: int = DEFAULT_PERIOD, language: str | None = None, source: str | None = None,
                     limit: int = ROWS) -> SearchAnalytics:
    """Searches of the last `days` days (optionally of one language or source): totals,
    click-through (a search counts as clicked when a result was opened from it), the most
    searched queries and the most searched queries that found nothing. Three queries."""
    searches = SearchQuery.objects.filter(created_at__gte=timezone.now() - timedelta(days=days))
    if language:
        searches = searches.filter(language=language)
    if source:
        searches = searches.filter(source=source)
    totals = searches.aggregate(
        searches=Count("id"), clicked=Count("id", filter=Q(clicked_translation__isnull=False)),
        without_results=Count("id", filter=Q(result_count=0)),
    )
    return SearchAnalytics(
        days=days, searches=totals["searches"], clicked=totals["clicked"], without_results=totals["without_results"],
        top_queries=_grouped(searches, limit) if totals["searches"] else [],
        no_result_queries=_grouped(searches.filter(result_count=0), limit) if totals["without_results"] else [],
    )
