"""Knowledge base: categories, articles (one per subject) with a translation per language,
revisions, attachments, feedback, and the search/deflection log."""

from knowledgebase.models.article import (
    Article,
    ArticleAttachment,
    ArticleRevision,
    ArticleStatus,
    ArticleTranslation,
    ArticleVisibility,
    SlugRedirect,
)
from knowledgebase.models.category import Category
from knowledgebase.models.feedback import ArticleFeedback, Deflection, DeflectionOutcome, SearchQuery

__all__ = [
    "Article",
    "ArticleAttachment",
    "ArticleFeedback",
    "ArticleRevision",
    "ArticleStatus",
    "ArticleTranslation",
    "ArticleVisibility",
    "Category",
    "Deflection",
    "DeflectionOutcome",
    "SearchQuery",
    "SlugRedirect",
]
