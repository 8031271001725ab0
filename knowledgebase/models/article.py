"""Articles. An Article is the language-neutral subject (category, visibility, tags, related
articles); each language is an ArticleTranslation with its own title, slug, body, status and
revisions, so the zh-Hant version can be in review while the English one is published."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class ArticleVisibility(models.TextChoices):
    PUBLIC = "public", _("Public")
    CUSTOMERS = "customers", _("Signed-in customers")
    INTERNAL = "internal", _("Internal (agents only)")


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    PUBLISHED = "published", _("Published")
    ARCHIVED = "archived", _("Archived")


class Article(models.Model):
    # Stable name of the subject across languages and systems: the Markdown import/export links
    # the files of one article by it and updates instead of duplicating on a second import.
    key = models.SlugField(_("key"), max_length=100, unique=True, null=True, blank=True)
    category = models.ForeignKey(
        "knowledgebase.Category", on_delete=models.PROTECT, related_name="articles",
        verbose_name=_("category"),
    )
    visibility = models.CharField(
        _("visibility"), max_length=16, choices=ArticleVisibility.choices, default=ArticleVisibility.PUBLIC,
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True, verbose_name=_("tags"))
    related = models.ManyToManyField("self", blank=True, symmetrical=True, verbose_name=_("related articles"))
    position = models.PositiveIntegerField(_("position in category"), default=0)
    # The ticket a draft was created from ("Create article from this ticket").
    source_ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("created from ticket"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["category", "position", "id"]
        indexes = [GinIndex(fields=["tags"], name="kb_article_tags_gin")]

    def __str__(self) -> str:
        return f"#{self.pk}"


class ArticleTranslation(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations",
                                verbose_name=_("article"))
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=220, allow_unicode=True)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    body_markdown = models.TextField(_("body (Markdown)"), blank=True)
    # Rendered and sanitised once per save; pages never render Markdown per request.
    body_html = models.TextField(_("body (HTML)"), blank=True, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=ArticleStatus.choices,
                              default=ArticleStatus.DRAFT)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("last edited by"),
    )
    # Set when this translation was produced by machine conversion (zh-Hans → zh-Hant) and not
    # yet reviewed by a translator.
    needs_translator_review = models.BooleanField(_("needs translator review"), default=False)
    view_count = models.PositiveIntegerField(_("views"), default=0)
    helpful_yes = models.PositiveIntegerField(_("helpful"), default=0)
    helpful_no = models.PositiveIntegerField(_("not helpful"), default=0)
    # Search: weighted tsvector (A title, B tags, C body). Chinese text is segmented (jieba) into
    # space-separated words before it reaches the `simple` configuration; English uses `english`.
    search_vector = SearchVectorField(null=True, editable=False)
    # Title + segmented title for trigram similarity (typos, short queries).
    search_title = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("article translation")
        verbose_name_plural = _("article translations")
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="kb_translation_one_per_language"),
            models.UniqueConstraint(fields=["language", "slug"], name="kb_translation_slug_unique"),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="kb_translation_search_gin"),
            GinIndex(fields=["search_title"], name="kb_translation_title_trgm", opclasses=["gin_trgm_ops"]),
            models.Index(fields=["language", "status", "-view_count"], name="kb_translation_popular"),
            # The authors' list: latest edits first, one page at a time.
            models.Index(fields=["-updated_at", "-id"], name="kb_translation_recent_edits"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("help:article", kwargs={"language": self.language, "slug": self.slug})


class ArticleRevision(models.Model):
    """Every saved version of a translation, for the diff view and restore."""

    translation = models.ForeignKey(ArticleTranslation, on_delete=models.CASCADE, related_name="revisions",
                                    verbose_name=_("translation"))
    number = models.PositiveIntegerField(_("revision"))
    title = models.CharField(_("title"), max_length=200)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    body_markdown = models.TextField(_("body (Markdown)"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=ArticleStatus.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("article revision")
        verbose_name_plural = _("article revisions")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["translation", "number"], name="kb_revision_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (r{self.number})"


class SlugRedirect(models.Model):
    """An old slug of a translation; its URL answers with a permanent redirect."""

    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    old_slug = models.SlugField(_("old slug"), max_length=220, allow_unicode=True)
    translation = models.ForeignKey(ArticleTranslation, on_delete=models.CASCADE, related_name="old_slugs",
                                    verbose_name=_("translation"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("slug redirect")
        verbose_name_plural = _("slug redirects")
        constraints = [
            models.UniqueConstraint(fields=["language", "old_slug"], name="kb_redirect_slug_unique"),
        ]

    def __str__(self) -> str:
        return f"/{self.language}/{self.old_slug}"


def article_upload_to(instance: ArticleAttachment, filename: str) -> str:
    return f"kb/{instance.article_id}/{filename}"


class ArticleAttachment(models.Model):
    """Images and files of an article, shared by its translations."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="attachments",
                                verbose_name=_("article"))
    file = models.FileField(_("file"), upload_to=article_upload_to, max_length=300)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("article attachment")
        verbose_name_plural = _("article attachments")

    def __str__(self) -> str:
        return self.filename
