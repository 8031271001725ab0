"""Authoring pages of the knowledge base, for staff, under /agent/kb/.

Entry points only: each parses the request, finds what the author may reach through the
selectors, calls one service and renders. Customers get 404 on every page here (the pages do
not exist for them), anonymous visitors are sent to sign in.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import permissions
from knowledgebase import selectors
from knowledgebase.authoring_forms import (
    ArticleCreateForm,
    AttachmentForm,
    RelatedAddForm,
    StatusForm,
    TranslationAddForm,
    TranslationEditForm,
)
from knowledgebase.diffing import inline_diff, line_diff
from knowledgebase.markdown import render_markdown
from knowledgebase.models import (
    Article,
    ArticleAttachment,
    ArticleRevision,
    ArticleStatus,
    ArticleTranslation,
    ArticleVisibility,
    Category,
)
from knowledgebase.services import (
    allowed_statuses,
    article_attachment_add,
    article_attachment_delete,
    article_create,
    article_create_from_ticket,
    article_set_related,
    article_update,
    revision_restore,
    translation_create,
    translation_draft_from_simplified,
    translation_save,
    translation_set_status,
)
from tickets.services import incoming_from_upload
from tickets.views.attachments import ATTACHMENT_CSP, _is_safe_inline_image, content_disposition

if TYPE_CHECKING:
    from tickets.models import User

PAGE_SIZE = 50
LANGUAGE_NAMES = dict(settings.LANGUAGES)


def author_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors sign in first; anyone who is not active staff gets 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not permissions.is_staff_member(request.user) or not request.user.is_active:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _author(request: HttpRequest) -> User:
    """The signed-in staff member (author_required let only them through)."""
    return cast("User", request.user)


def _translation(request: HttpRequest, translation_id: int) -> ArticleTranslation:
    return get_object_or_404(
        selectors.authorable_translations(request.user).select_related("article__category", "author"),
        pk=translation_id,
    )


def _article(request: HttpRequest, article_id: int) -> Article:
    return get_object_or_404(selectors.authorable_articles(request.user).select_related("category"), pk=article_id)


def _edit_url(translation: ArticleTranslation | int) -> str:
    pk = translation if isinstance(translation, int) else translation.pk
    return reverse("kb_agent:translation_edit", args=[pk])


def _errors(error: ValidationError | PermissionDenied) -> list[str]:
    if isinstance(error, ValidationError):
        return list(error.messages)
    return [_("You are not allowed to do that.")]


def _flash_errors(request: HttpRequest, error: ValidationError | PermissionDenied) -> None:
    for text in _errors(error):
        messages.error(request, text)


# The list ---------------------------------------------------------------------------------


@author_required
@require_GET
def article_list(request: HttpRequest) -> HttpResponse:
    categories = list(Category.objects.order_by("position", "slug"))
    category_id = request.GET.get("category", "")
    filters = selectors.AuthoringFilters(
        language=request.GET.get("language", "") if request.GET.get("language") in LANGUAGE_NAMES else "",
        status=request.GET.get("status", "") if request.GET.get("status") in ArticleStatus.values else "",
        category_id=int(category_id) if category_id.isdigit() else None,
        query=request.GET.get("q", "").strip()[:200],
    )
    paginator = Paginator(selectors.authoring_translation_list(viewer=request.user, filters=filters), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    names = {category.pk: category for category in categories}
    rows = [
        {"translation": translation, "category": names.get(translation.article.category_id)}
        for translation in page.object_list
    ]
    query = {key: value for key, value in request.GET.items() if key != "page" and value}
    context = {
        "rows": rows,
        "page": page,
        "page_query": urlencode(query),
        "filters": filters,
        "categories": categories,
        "language_choices": settings.LANGUAGES,
        "statuses": ArticleStatus.choices,
        "has_filters": bool(query),
    }
    return render(request, "knowledgebase/agent/list.html", context)


# Create and edit --------------------------------------------------------------------------


@author_required
@require_http_methods(["GET", "POST"])
def article_new(request: HttpRequest) -> HttpResponse:
    form = ArticleCreateForm(request.POST or None, initial={
        "language": request.LANGUAGE_CODE if request.LANGUAGE_CODE in LANGUAGE_NAMES else settings.LANGUAGE_CODE,
        "visibility": ArticleVisibility.PUBLIC,
    })
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            translation = article_create(
                category=data["category"], visibility=data["visibility"], tags=data["tags"],
                language=data["language"], title=data["title"], body_markdown=data["body_markdown"],
                summary=data["summary"], author=_author(request),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Draft created."))
            return redirect(_edit_url(translation))
    return render(request, "knowledgebase/agent/edit.html", {"form": form, "is_new": True},
                  status=400 if form.errors else 200)


def _edit_context(request: HttpRequest, translation: ArticleTranslation, form: TranslationEditForm) -> dict[str, Any]:
    article = translation.article
    siblings = {other.language: other for other in article.translations.only("pk", "language", "title", "status")}
    return {
        "form": form,
        "translation": translation,
        "article": article,
        "statuses": [(value, ArticleStatus(value).label) for value in allowed_statuses(translation)],
        "language_rows": [
            {"code": code, "name": name, "translation": siblings.get(code)} for code, name in settings.LANGUAGES
        ],
        "can_convert": "zh-hans" in siblings and "zh-hant" not in siblings,
        "attachments": list(article.attachments.order_by("-created_at")),
        "related": list(
            ArticleTranslation.objects.filter(article__in=article.related.all())
            .filter(Q(language=translation.language) | Q(language=settings.LANGUAGE_CODE))
            .order_by("article_id", "language").only("pk", "article_id", "title", "language", "status")
        ),
        "related_form": RelatedAddForm(),
        "attachment_form": AttachmentForm(),
        "public_url": translation.get_absolute_url() if translation.status == ArticleStatus.PUBLISHED else "",
    }


def _related_by_article(related: list[ArticleTranslation], language: str) -> list[ArticleTranslation]:
    """One translation per related article: the page's language when there is one."""
    chosen: dict[int, ArticleTranslation] = {}
    for translation in related:
        if translation.article_id not in chosen or translation.language == language:
            chosen[translation.article_id] = translation
    return list(chosen.values())


@author_required
@require_http_methods(["GET", "POST"])
def translation_edit(request: HttpRequest, translation_id: int) -> HttpResponse:
    translation = _translation(request, translation_id)
    article = translation.article
    initial = {
        "title": translation.title, "summary": translation.summary, "body_markdown": translation.body_markdown,
        "category": str(article.category_id), "visibility": article.visibility, "tags": ", ".join(article.tags),
    }
    form = TranslationEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # One form, one outcome: the article's settings are not kept when the text is refused.
            with transaction.atomic():
                article_update(article=article, actor=_author(request), category=data["category"],
                               visibility=data["visibility"], tags=data["tags"])
                translation_save(
                    translation=translation, title=data["title"], body_markdown=data["body_markdown"],
                    summary=data["summary"], note=data["note"], author=_author(request),
                    translator_reviewed=data["translator_reviewed"],
                )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Saved."))
            return redirect(_edit_url(translation))
    context = _edit_context(request, translation, form)
    context["related"] = _related_by_article(context["related"], translation.language)
    return render(request, "knowledgebase/agent/edit.html", context, status=400 if form.errors else 200)


@author_required
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """The body as readers will see it (htmx fragment of the editor)."""
    html = render_markdown(request.POST.get("body_markdown", "")[:200_000])
    return render(request, "knowledgebase/agent/_preview.html", {"body_html": html})


@author_required
@require_POST
def translation_status(request: HttpRequest, translation_id: int) -> HttpResponse:
    translation = _translation(request, translation_id)
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            translation_set_status(translation=translation, status=form.cleaned_data["status"], actor=_author(request))
        except ValidationError as error:
            _flash_errors(request, error)
        else:
            messages.success(request, _("Status changed to %(status)s.") % {
                "status": translation.get_status_display()})
    else:
        messages.error(request, _("Unknown status."))
    return redirect(_edit_url(translation))


# Translations -----------------------------------------------------------------------------


@author_required
@require_http_methods(["GET", "POST"])
def translation_add(request: HttpRequest, article_id: int, language: str) -> HttpResponse:
    article = _article(request, article_id)
    if language not in LANGUAGE_NAMES:
        raise Http404
    existing = article.translations.filter(language=language).first()
    if existing is not None:
        return redirect(_edit_url(existing))
    source = article.translations.order_by("language").first()
    form = TranslationAddForm(request.POST or None, initial={
        "body_markdown": source.body_markdown if source else "",
    })
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            translation = translation_create(
                article=article, language=language, title=data["title"], body_markdown=data["body_markdown"],
                summary=data["summary"], author=_author(request),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Translation added as a draft."))
            return redirect(_edit_url(translation))
    context = {"form": form, "article": article, "language": language, "language_name": LANGUAGE_NAMES[language],
               "source": source}
    return render(request, "knowledgebase/agent/translation_add.html", context, status=400 if form.errors else 200)


@author_required
@require_POST
def translation_convert(request: HttpRequest, article_id: int) -> HttpResponse:
    """Create the zh-Hant draft from the zh-Hans translation."""
    article = _article(request, article_id)
    try:
        translation = translation_draft_from_simplified(article=article, actor=_author(request))
    except ValidationError as error:
        _flash_errors(request, error)
        fallback = article.translations.order_by("language").first()
        return redirect(_edit_url(fallback) if fallback else reverse("kb_agent:articles"))
    messages.success(request, _("Traditional Chinese draft created. A translator must review it before it is "
                                "published."))
    return redirect(_edit_url(translation))


# Revisions --------------------------------------------------------------------------------


@author_required
@require_GET
def revision_list(request: HttpRequest, translation_id: int) -> HttpResponse:
    translation = _translation(request, translation_id)
    revisions = list(translation.revisions.select_related("author").defer("body_markdown").order_by("-number"))
    return render(request, "knowledgebase/agent/revisions.html", {
        "translation": translation, "revisions": revisions,
    })


@author_required
@require_GET
def revision_diff(request: HttpRequest, translation_id: int, number: int) -> HttpResponse:
    """Revision `number` against an earlier one (?against=N, default the one before it)."""
    translation = _translation(request, translation_id)
    revision = get_object_or_404(translation.revisions.select_related("author"), number=number)
    against_number = request.GET.get("against", "")
    older_revisions = translation.revisions.filter(number__lt=number)
    if against_number.isdigit():
        older = translation.revisions.filter(number=int(against_number)).first()
    else:
        older = older_revisions.order_by("-number").first()
    old_title, old_summary, old_body = (older.title, older.summary, older.body_markdown) if older else ("", "", "")
    context = {
        "translation": translation,
        "revision": revision,
        "older": older,
        "title_diff": inline_diff(old_title, revision.title),
        "summary_diff": inline_diff(old_summary, revision.summary),
        "lines": line_diff(old_body, revision.body_markdown),
        "other_numbers": list(translation.revisions.exclude(number=number).values_list("number", flat=True)),
        "is_current": not translation.revisions.filter(number__gt=number).exists(),
    }
    return render(request, "knowledgebase/agent/diff.html", context)


@author_required
@require_POST
def revision_restore_view(request: HttpRequest, translation_id: int, number: int) -> HttpResponse:
    translation = _translation(request, translation_id)
    revision = get_object_or_404(ArticleRevision, translation=translation, number=number)
    try:
        revision_restore(revision=revision, actor=_author(request))
    except ValidationError as error:
        _flash_errors(request, error)
    else:
        messages.success(request, _("Revision %(number)s restored as a new revision.") % {"number": number})
    return redirect(_edit_url(translation))


# Attachments and related articles ---------------------------------------------------------


def _back(request: HttpRequest, article: Article) -> str:
    """The edit page the author came from: the translation named in the form, if it is this article's."""
    translation_id = request.POST.get("translation", "")
    if translation_id.isdigit() and article.translations.filter(pk=int(translation_id)).exists():
        return _edit_url(int(translation_id))
    first = article.translations.order_by("language").first()
    return _edit_url(first) if first else reverse("kb_agent:articles")


@author_required
@require_POST
def attachment_upload(request: HttpRequest, article_id: int) -> HttpResponse:
    article = _article(request, article_id)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            attachment = article_attachment_add(article=article, incoming=incoming_from_upload(form.cleaned_data["file"]),
                                                actor=_author(request))
        except ValidationError as error:
            _flash_errors(request, error)
        else:
            messages.success(request, _("%(name)s uploaded. Copy its Markdown into the body to show it.") % {
                "name": attachment.filename})
    else:
        messages.error(request, _("Choose a file to upload."))
    return redirect(_back(request, article))


@author_required
@require_POST
def attachment_delete(request: HttpRequest, article_id: int, attachment_id: int) -> HttpResponse:
    article = _article(request, article_id)
    attachment = get_object_or_404(ArticleAttachment, article=article, pk=attachment_id)
    article_attachment_delete(attachment=attachment, actor=_author(request))
    messages.success(request, _("%(name)s deleted.") % {"name": attachment.filename})
    return redirect(_back(request, article))


@require_GET
def attachment_download(request: HttpRequest, attachment_id: int, filename: str) -> FileResponse:
    """An article's file, for anyone who may read the article in some language (staff: always).
    Served like ticket attachments: only checked raster images inline, everything else a
    download, with nosniff and a sandboxing CSP."""
    attachment = get_object_or_404(ArticleAttachment, pk=attachment_id)
    if attachment.article_id not in selectors.readable_article_ids(request.user, [attachment.article_id]):
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    head = handle.read(16)
    handle.seek(0)
    inline = _is_safe_inline_image(attachment, head)  # type: ignore[arg-type]
    response = FileResponse(
        handle, as_attachment=not inline, content_type=attachment.content_type if inline else "application/octet-stream",
    )
    response["Content-Disposition"] = content_disposition("inline" if inline else "attachment", attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ATTACHMENT_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-cache"
    return response


@author_required
@require_POST
def related_add(request: HttpRequest, article_id: int) -> HttpResponse:
    article = _article(request, article_id)
    form = RelatedAddForm(request.POST)
    other = None
    if form.is_valid():
        value = form.cleaned_data["article"].strip().lstrip("#")
        lookup = Q(key=value) | Q(pk=int(value)) if value.isdigit() else Q(key=value)
        other = selectors.authorable_articles(request.user).filter(lookup).exclude(pk=article.pk).first()
    if other is None:
        messages.error(request, _("No other article has that key or number."))
    else:
        article_set_related(article=article, related=[*article.related.all(), other], actor=_author(request))
        messages.success(request, _("Related article added."))
    return redirect(_back(request, article))


@author_required
@require_POST
def related_remove(request: HttpRequest, article_id: int, other_id: int) -> HttpResponse:
    article = _article(request, article_id)
    article_set_related(article=article, related=article.related.exclude(pk=other_id), actor=_author(request))
    messages.success(request, _("Related article removed."))
    return redirect(_back(request, article))


# From a ticket ----------------------------------------------------------------------------


@author_required
@require_POST
def article_from_ticket(request: HttpRequest, number: int) -> HttpResponse:
    """"Create article from this ticket": a draft from its public thread, then its edit page."""
    ticket = permissions.access_ticket_by_number(request.user, number)
    try:
        translation = article_create_from_ticket(ticket=ticket, actor=_author(request))
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as error:
        _flash_errors(request, error)
        return redirect("agent:ticket", number=ticket.number)
    messages.success(request, _("Draft created from ticket #%(number)s. Remove anything personal before "
                                "publishing.") % {"number": ticket.number})
    return redirect(_edit_url(translation))
