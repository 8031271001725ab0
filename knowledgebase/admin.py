"""Django admin for the knowledge base.

Categories are configuration and are edited here. Articles, translations and revisions are
read-only: every change goes through knowledgebase.services (revisions, slug redirects, rendering,
the search index), which the admin would bypass; authors use /agent/kb/.
"""

from django.contrib import admin

from knowledgebase.models import (
    Article,
    ArticleAttachment,
    ArticleFeedback,
    ArticleRevision,
    ArticleTranslation,
    Category,
    Deflection,
    SearchQuery,
    SlugRedirect,
)
from tickets.admin import ReadOnlyAdmin


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("slug", "__str__", "parent", "position", "is_internal")
    list_filter = ("is_internal",)
    search_fields = ("slug",)
    ordering = ("position", "slug")


class TranslationInline(admin.TabularInline):
    model = ArticleTranslation
    fields = ("language", "title", "slug", "status", "published_at", "needs_translator_review", "view_count")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Article)
class ArticleAdmin(ReadOnlyAdmin):
    list_display = ("id", "key", "category", "visibility", "updated_at")
    list_filter = ("visibility", "category")
    search_fields = ("key", "translations__title")
    raw_id_fields = ("source_ticket", "created_by")
    inlines = [TranslationInline]


@admin.register(ArticleTranslation)
class ArticleTranslationAdmin(ReadOnlyAdmin):
    list_display = ("title", "language", "status", "published_at", "view_count", "helpful_yes", "helpful_no",
                    "updated_at")
    list_filter = ("language", "status", "needs_translator_review")
    search_fields = ("title", "slug")
    raw_id_fields = ("article", "author")
    exclude = ("search_vector",)
    show_full_result_count = False


@admin.register(ArticleRevision)
class ArticleRevisionAdmin(ReadOnlyAdmin):
    list_display = ("translation", "number", "status", "note", "author", "created_at")
    raw_id_fields = ("translation", "author")
    show_full_result_count = False


@admin.register(SlugRedirect)
class SlugRedirectAdmin(ReadOnlyAdmin):
    list_display = ("language", "old_slug", "translation", "created_at")
    search_fields = ("old_slug",)
    raw_id_fields = ("translation",)


@admin.register(ArticleAttachment)
class ArticleAttachmentAdmin(ReadOnlyAdmin):
    list_display = ("filename", "article", "content_type", "size", "uploaded_by", "created_at")
    raw_id_fields = ("article", "uploaded_by")


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(ReadOnlyAdmin):
    list_display = ("translation", "is_helpful", "comment", "user", "created_at")
    list_filter = ("is_helpful",)
    raw_id_fields = ("translation", "user")
    show_full_result_count = False


@admin.register(SearchQuery)
class SearchQueryAdmin(ReadOnlyAdmin):
    list_display = ("query", "language", "source", "result_count", "clicked_translation", "created_at")
    list_filter = ("source", "language")
    search_fields = ("query",)
    raw_id_fields = ("clicked_translation",)
    show_full_result_count = False


@admin.register(Deflection)
class DeflectionAdmin(ReadOnlyAdmin):
    list_display = ("source", "outcome", "query", "opened_translation", "ticket", "created_at")
    list_filter = ("source", "outcome")
    raw_id_fields = ("user", "opened_translation", "ticket")
    show_full_result_count = False
