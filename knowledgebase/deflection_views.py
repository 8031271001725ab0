"""Entry points of deflection tracking and of the knowledge base in the agent's reply box.

Customers' forms (the portal's new-request form) report what they showed and opened; every POST is
CSRF-protected, rate-limited per address, and touches only the caller's own session's visits.
Agents get the insertable form of articles (the customer's language, an absolute link, a snippet).
("Create article from this ticket" is kb-core's authoring view, kb_agent:from_ticket.)
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.html import strip_tags
from django.utils.translation import get_supported_language_variant
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from helpdesk import permissions
from knowledgebase import deflection
from knowledgebase.models import ArticleTranslation, ArticleVisibility, Deflection
from knowledgebase.selectors import readable_translations
from tickets.models import Ticket
from tickets.services.accounts import action_allowed
from tickets.views.agent.common import staff_required

DEFAULT_POSTS_PER_MINUTE = 60
MAX_ARTICLES_PER_LOOKUP = 20
SNIPPET_MAX_CHARS = 300
_FIRST_PARAGRAPH = re.compile(r"<p[^>]*>(.*?)</p>", re.DOTALL | re.IGNORECASE)


def _rate_limited(request: HttpRequest) -> bool:
    limit = int(getattr(settings, "HELPDESK_KB_DEFLECTION_POSTS_PER_MINUTE", DEFAULT_POSTS_PER_MINUTE))
    return not action_allowed(action="kb-deflection", ip=request.META.get("REMOTE_ADDR", ""), limit=limit,
                              window_seconds=60)


def _too_many() -> JsonResponse:
    return JsonResponse({"detail": _("Too many requests. Try again in a minute.")}, status=429,
                        headers={"Retry-After": "60"})


def _session_key(request: HttpRequest) -> str:
    # Signed-in customers always have a session; an anonymous form (chat widget) gets one here.
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key or ""


@require_POST
def shown(request: HttpRequest) -> HttpResponse:
    """Suggestions are on screen for `query`: begin or continue this session's visit; answers its id,
    which the page keeps in its form so the request it may send is linked to the visit."""
    if _rate_limited(request):
        return _too_many()
    source = request.POST.get("source") or Deflection.Source.PORTAL_FORM
    if source not in Deflection.Source.values:
        return JsonResponse({"detail": _("Unknown source.")}, status=400)
    visit = deflection.deflection_record_shown(
        session_key=_session_key(request), source=source, query=request.POST.get("query", ""),
        language=request.POST.get("language", ""), deflection_id=request.POST.get("deflection") or None,
    )
    return JsonResponse({"deflection": visit.pk})


@require_POST
def opened(request: HttpRequest, deflection_id: int) -> HttpResponse:
    """The customer opened suggested article `translation` during visit `deflection_id`."""
    if _rate_limited(request):
        return _too_many()
    visit = deflection.deflection_for_session(deflection_id=deflection_id,
                                             session_key=request.session.session_key or "")
    if visit is None:
        raise Http404
    try:
        translation = readable_translations(request.user).get(pk=int(request.POST.get("translation", "")))
    except (ValueError, ArticleTranslation.DoesNotExist):
        raise Http404 from None
    visit = deflection.deflection_record_opened(deflection=visit, translation=translation)
    return JsonResponse({"deflection": visit.pk, "opened": visit.opened_translation_id})


# --- the agent's reply box ----------------------------------------------------------------------


def _customer_language(ticket: Ticket) -> str:
    requester = ticket.requester
    preferred = requester.language or (requester.user.language if requester.user is not None else "")
    try:
        return get_supported_language_variant(preferred or settings.LANGUAGE_CODE)
    except LookupError:
        return settings.LANGUAGE_CODE


def _snippet_text(translation: ArticleTranslation) -> str:
    """The summary, else the first paragraph of the rendered body, as plain text."""
    text = translation.summary.strip()
    if not text:
        match = _FIRST_PARAGRAPH.search(translation.body_html or "")
        text = " ".join(strip_tags(match.group(1) if match else translation.body_html or "").split())
    if len(text) > SNIPPET_MAX_CHARS:
        text = text[: SNIPPET_MAX_CHARS - 1].rstrip() + "…"
    return text


@staff_required
@require_GET
def agent_articles(request: HttpRequest, number: int) -> HttpResponse:
    """For the reply box of ticket `number`: articles `ids` as they would be inserted — in the
    customer's language when that translation is published (else the site's, else any), with an
    absolute link and a plain-text snippet, and whether customers can open them at all."""
    ticket = permissions.access_ticket_by_number(request.user, number)
    if not permissions.can_work_ticket(request.user, ticket):
        raise Http404
    ids = [int(part) for part in request.GET.get("ids", "").split(",") if part.strip().isdigit()]
    ids = ids[:MAX_ARTICLES_PER_LOOKUP]
    language = _customer_language(ticket)
    preference = {language: 0, settings.LANGUAGE_CODE: 1}
    best: dict[int, ArticleTranslation] = {}
    translations = readable_translations(request.user).filter(article_id__in=ids).select_related("article__category")
    for translation in translations:
        current = best.get(translation.article_id)
        rank = preference.get(translation.language, 2)
        if current is None or rank < preference.get(current.language, 2):
            best[translation.article_id] = translation
    site = str(settings.HELPDESK_SITE_URL).rstrip("/")
    articles = []
    for article_id in ids:
        chosen = best.get(article_id)
        if chosen is None:
            continue
        article = chosen.article
        articles.append({
            "article_id": article_id,
            "translation_id": chosen.pk,
            "title": chosen.title,
            "language": chosen.language,
            "url": site + chosen.get_absolute_url(),
            "snippet": _snippet_text(chosen),
            # Customers cannot open it: internal visibility, or filed in an internal category.
            "is_internal": article.visibility == ArticleVisibility.INTERNAL or article.category.is_internal,
        })
    return JsonResponse({"customer_language": language, "articles": articles})
