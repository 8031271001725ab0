"""The public help center under /help/<language>/: home, categories, articles, search, feedback,
sitemap. Server-rendered in the language of the URL (content and interface alike), whatever the
reader's own preference; only /help/ itself looks at the reader to pick a language.

Access: every read goes through knowledgebase.help_selectors (built on readable_translations).
Drafts and internal articles a reader may not see answer 404, like anything that does not exist;
a customers-only article asks an anonymous reader to sign in (as Zendesk Guide does), because
anyone may create a customer account, so its existence is no secret."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode
from django.utils.translation import get_language_info
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from knowledgebase import help_selectors
from knowledgebase.models import ArticleTranslation
from knowledgebase.search import kb_search
from knowledgebase.services import feedback_record, translation_record_view

# Crude on purpose: it keeps crawlers, link previews and scripts out of the view counts; a bot
# that pretends to be a browser is counted, like a person.
BOT_USER_AGENT = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|embedly|headlesschrome|phantomjs|"
    r"curl|wget|python-|httpclient|okhttp|go-http|java/|libwww|scrapy|monitor|uptime",
    re.IGNORECASE,
)
# Per-session memory of what was counted and voted on; old entries drop off past this many.
SESSION_MEMORY = 300
VIEWED_SESSION_KEY = "kb_help_viewed"
VOTED_SESSION_KEY = "kb_help_voted"
FEEDBACK_COMMENT_MAX_LENGTH = 2000
PUBLIC_MAX_AGE_SECONDS = 300
SEARCH_RESULT_LIMIT = 20
# For building many article addresses from one reverse(); quoted like reverse() quotes.
SLUG_PLACEHOLDER = "slug-placeholder"
URL_SAFE = "!$&'()*+,;=/~:@"
CATEGORY_PAGE_SIZE = 30

# BCP 47 spellings for lang/hreflang attributes; our language codes are lower-case Django ones.
BCP47 = {"zh-hans": "zh-Hans", "zh-hant": "zh-Hant"}
OPEN_GRAPH_LOCALES = {"en": "en_US", "zh-hans": "zh_CN", "zh-hant": "zh_TW"}
PRIMARY_COLOR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")


def supported_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def help_center_name() -> str:
    return getattr(settings, "HELPDESK_HELP_CENTER_NAME", "") or _("Help Center")


def primary_color() -> str:
    """The configured accent colour when it is a plain hex colour (anything else could break out
    of the generated stylesheet), else "" for the design system's own."""
    color = (getattr(settings, "HELPDESK_HELP_CENTER_PRIMARY_COLOR", "") or "").strip()
    return color if PRIMARY_COLOR.fullmatch(color) else ""


@dataclass
class LanguageLink:
    code: str
    bcp47: str
    name: str
    url: str
    is_current: bool
    # True when the link leads to the same content in that language, not to its home page.
    is_same_content: bool


def _language_links(current: str, urls: dict[str, str]) -> list[LanguageLink]:
    """The language switcher: each language's version of this page when it exists (`urls`),
    else that language's home page."""
    links = []
    for code in supported_languages():
        url = urls.get(code) or reverse("help:home", kwargs={"language": code})
        links.append(LanguageLink(
            code=code, bcp47=BCP47.get(code, code), name=get_language_info(code)["name_local"], url=url,
            is_current=code == current, is_same_content=code in urls,
        ))
    return links


def _page(request: HttpRequest, language: str, template: str, page_context: dict[str, Any], *,
          shared_cache: bool = False) -> HttpResponse:
    """Render in the page's language and set the headers every help center page shares.

    `shared_cache` pages hold nothing personal for anonymous readers (no CSRF token, no session
    state), so proxies and browsers may keep them for a few minutes; signed-in readers' pages
    (their name in the header, internal articles for staff) stay private."""
    logo_url = getattr(settings, "HELPDESK_HELP_CENTER_LOGO_URL", "")
    with translation.override(language):
        context = {
            "language": language,
            "html_lang": BCP47.get(language, language),
            "help_center_name": help_center_name(),
            "logo_url": logo_url,
            # Open Graph wants an absolute address; the setting may be a path on this site.
            "og_image": request.build_absolute_uri(logo_url) if logo_url else "",
            "theme_version": primary_color().lstrip("#").lower(),
            "og_locale": _open_graph_locale(language),
            "og_locale_alternates": [
                _open_graph_locale(link.code) for link in page_context.get("language_links", [])
                if link.is_same_content and not link.is_current
            ],
            **page_context,
        }
        response = render(request, template, context)
    response["Content-Language"] = context["html_lang"]
    if shared_cache and not request.user.is_authenticated:
        patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE_SECONDS)
    else:
        patch_cache_control(response, private=True)
    return response


def _open_graph_locale(language: str) -> str:
    return OPEN_GRAPH_LOCALES.get(language, language.replace("-", "_"))


def help_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page under /help/<language>/: unknown languages are not found; a known one spelled in
    another case (zh-Hant, as BCP 47 writes it) redirects to our lower-case URL."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, language: str, **kwargs: Any) -> HttpResponse:
        if language not in supported_languages():
            if language.lower() not in supported_languages():
                raise Http404
            path = request.path.replace(f"/{language}/", f"/{language.lower()}/", 1)
            query = request.META.get("QUERY_STRING", "")
            return HttpResponseRedirect(path + (f"?{query}" if query else ""), status=301)
        return view(request, language, **kwargs)

    return wrapper


def _absolute(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


@require_safe
def root(request: HttpRequest) -> HttpResponse:
    """/help/ → the reader's language: their saved preference when signed in, else the language
    cookie or Accept-Language (resolved by the locale middleware to one we ship)."""
    language = translation.get_supported_language_variant(translation.get_language() or settings.LANGUAGE_CODE)
    response = redirect("help:home", language=language)
    patch_cache_control(response, private=True)
    return response


@require_safe
@help_page
def home(request: HttpRequest, language: str) -> HttpResponse:
    viewer = request.user
    tree = help_selectors.category_tree(viewer=viewer, language=language)
    popular = help_selectors.popular_translations(viewer=viewer, language=language)
    path = reverse("help:home", kwargs={"language": language})
    with translation.override(language):
        description = _("Answers to common questions, guides and how-tos from our support team.")
    return _page(request, language, "knowledgebase/help/home.html", {
        "categories": tree.roots,
        "popular": popular,
        "language_links": _language_links(language, {
            code: reverse("help:home", kwargs={"language": code}) for code in supported_languages()
        }),
        "canonical_url": _absolute(request, path),
        "alternates": _alternates(request, {code: reverse("help:home", kwargs={"language": code})
                                            for code in supported_languages()}),
        "meta_description": description,
    }, shared_cache=True)


@require_safe
@help_page
def category(request: HttpRequest, language: str, slug: str) -> HttpResponse:
    viewer = request.user
    tree = help_selectors.category_tree(viewer=viewer, language=language)
    node = tree.by_slug.get(slug) or tree.every_by_slug.get(slug)
    if node is None:
        raise Http404
    page = _page_number(request)
    articles, has_next = help_selectors.category_translations(
        viewer=viewer, language=language, category=node.category, offset=(page - 1) * CATEGORY_PAGE_SIZE,
        limit=CATEGORY_PAGE_SIZE,
    )
    if page > 1 and not articles:
        raise Http404
    urls = {
        code: reverse("help:category", kwargs={"language": code, "slug": slug}) for code in supported_languages()
    }
    path = urls[language] + (f"?page={page}" if page > 1 else "")
    return _page(request, language, "knowledgebase/help/category.html", {
        "node": node,
        "articles": articles,
        "page_number": page,
        "previous_page_url": (urls[language] + (f"?page={page - 1}" if page > 2 else "")) if page > 1 else "",
        "next_page_url": f"{urls[language]}?page={page + 1}" if has_next else "",
        "language_links": _language_links(language, urls),
        "canonical_url": _absolute(request, path),
        # Other languages' pages of a category may be empty; no alternates are claimed.
        "alternates": [],
        "meta_description": node.description,
        # A category with nothing in this language (reached from the language switcher) says
        # so rather than answering 404, and asks search engines not to index it.
        "noindex": not articles and not node.children,
    }, shared_cache=True)


def _page_number(request: HttpRequest) -> int:
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        raise Http404 from None
    if page < 1:
        raise Http404
    return page


@require_safe
@help_page
def article(request: HttpRequest, language: str, slug: str) -> HttpResponse:
    viewer = request.user
    current = help_selectors.translation_by_slug(viewer=viewer, language=language, slug=slug)
    if current is None:
        return _missing_article(request, language, slug)
    if not _is_bot(request):
        _count_view(request, current)
    tree = help_selectors.category_tree(viewer=viewer, language=language, counts=False)
    node = tree.by_id.get(current.article.category_id)
    siblings = {
        sibling.language: sibling.get_absolute_url()
        for sibling in current.article.readable_translations  # type: ignore[attr-defined]  # prefetched
    }
    related = help_selectors.related_translations(viewer=viewer, translation=current)
    voted = request.session.get(VOTED_SESSION_KEY, []) if request.session.session_key else []
    return _page(request, language, "knowledgebase/help/article.html", {
        "translation": current,
        "node": node,
        "related": related,
        "has_voted": current.id in voted,
        "language_links": _language_links(language, siblings),
        "canonical_url": _absolute(request, current.get_absolute_url()),
        "alternates": _alternates(request, siblings),
        "meta_description": current.summary,
        "comment_max_length": FEEDBACK_COMMENT_MAX_LENGTH,
    })


def _missing_article(request: HttpRequest, language: str, slug: str) -> HttpResponse:
    """An old slug answers with a permanent redirect to the current one; a customers-only article
    asks anonymous readers to sign in; everything else is not found."""
    moved = help_selectors.translation_by_old_slug(viewer=request.user, language=language, slug=slug)
    if moved is not None:
        return HttpResponseRedirect(moved.get_absolute_url(), status=301)
    if not request.user.is_authenticated and help_selectors.sign_in_would_reveal(language=language, slug=slug):
        return redirect_to_login(request.get_full_path())
    raise Http404


def _is_bot(request: HttpRequest) -> bool:
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    return not user_agent or bool(BOT_USER_AGENT.search(user_agent))


def _remember(request: HttpRequest, key: str, translation_id: int) -> None:
    remembered = [item for item in request.session.get(key, []) if item != translation_id]
    remembered.append(translation_id)
    request.session[key] = remembered[-SESSION_MEMORY:]


def _count_view(request: HttpRequest, current: ArticleTranslation) -> None:
    """Count a reader once per session and article, not once per reload."""
    if current.id in request.session.get(VIEWED_SESSION_KEY, []):
        return
    translation_record_view(translation_id=current.id)
    _remember(request, VIEWED_SESSION_KEY, current.id)


@require_POST
def feedback(request: HttpRequest, translation_id: int) -> HttpResponse:
    """"Was this helpful?": one vote per reader and article (a second one replaces the first)."""
    current = help_selectors.readable_translation_by_id(viewer=request.user, translation_id=translation_id)
    if current is None:
        raise Http404
    answer = request.POST.get("helpful", "")
    if answer not in ("yes", "no"):
        return HttpResponse(status=400)
    if not request.session.session_key:
        request.session.save()
    feedback_record(
        translation=current, is_helpful=answer == "yes",
        comment=request.POST.get("comment", "").strip()[:FEEDBACK_COMMENT_MAX_LENGTH],
        user=request.user if request.user.is_authenticated else None,
        session_key=request.session.session_key or "",
    )
    _remember(request, VOTED_SESSION_KEY, current.id)
    return HttpResponseRedirect(current.get_absolute_url() + "#feedback", status=303)


@require_safe
@help_page
def search(request: HttpRequest, language: str) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    results = None
    if query:
        results = kb_search(
            query=query, language=language, viewer=request.user, limit=SEARCH_RESULT_LIMIT,
            source="help_center", session_key=request.session.session_key or "",
        )
    urls = {
        code: reverse("help:search", kwargs={"language": code}) + (f"?{urlencode({'q': query})}" if query else "")
        for code in supported_languages()
    }
    return _page(request, language, "knowledgebase/help/search.html", {
        "query": query,
        "results": results,
        "language_links": _language_links(language, urls),
        "canonical_url": None,
        "alternates": [],
        "meta_description": "",
        "noindex": True,
    })


@dataclass
class Alternate:
    hreflang: str
    url: str


def _alternates(request: HttpRequest, urls: dict[str, str]) -> list[Alternate]:
    """hreflang links: one per language the page exists in, and x-default (English, else the
    first) when there is more than one."""
    return _alternates_absolute({code: _absolute(request, url) for code, url in urls.items()})


def _alternates_absolute(urls: dict[str, str]) -> list[Alternate]:
    if len(urls) < 2:
        return []
    alternates = [Alternate(BCP47.get(code, code), url) for code, url in sorted(urls.items())]
    alternates.append(Alternate("x-default", urls.get(settings.LANGUAGE_CODE) or next(iter(urls.values()))))
    return alternates


def sitemap_page_size() -> int:
    # Search engines take at most 50,000 addresses per file; with three languages per article a
    # page of 5,000 articles stays well below.
    return int(getattr(settings, "HELPDESK_HELP_CENTER_SITEMAP_PAGE_SIZE", 5000))


@require_safe
def sitemap(request: HttpRequest) -> HttpResponse:
    """Every public published article in every language, with its alternates and last change;
    past one page of articles, a sitemap index of pages (the home pages are on page 1)."""
    per_page = sitemap_page_size()
    count = help_selectors.sitemap_article_count()
    if count <= per_page:
        return _sitemap_response(_sitemap_urlset(request, page=1, per_page=None))
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for page in range(1, (count + per_page - 1) // per_page + 1):
        location = _absolute(request, reverse("help:sitemap_page", kwargs={"page": page}))
        lines.append(f"  <sitemap><loc>{_xml(location)}</loc></sitemap>")
    lines.append("</sitemapindex>")
    return _sitemap_response(lines)


@require_safe
def sitemap_page(request: HttpRequest, page: int) -> HttpResponse:
    per_page = sitemap_page_size()
    if page < 1 or (page - 1) * per_page >= max(help_selectors.sitemap_article_count(), 1):
        raise Http404
    return _sitemap_response(_sitemap_urlset(request, page=page, per_page=per_page))


def _xml(text: str) -> str:
    return xml_escape(text, {'"': "&quot;"})


def _sitemap_urlset(request: HttpRequest, *, page: int, per_page: int | None) -> list[str]:
    """Written out in Python rather than a template: a page holds thousands of addresses, each
    with its alternates, and the template loop took seconds."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">']

    def add(location: str, alternates: list[Alternate], lastmod: datetime | None = None) -> None:
        lines.append(f"  <url>\n    <loc>{_xml(location)}</loc>")
        if lastmod is not None:
            lines.append(f"    <lastmod>{lastmod.astimezone(UTC).isoformat(timespec='seconds')}</lastmod>")
        lines.extend(
            f'    <xhtml:link rel="alternate" hreflang="{alternate.hreflang}" href="{_xml(alternate.url)}"/>'
            for alternate in alternates
        )
        lines.append("  </url>")

    if page == 1:
        homes = {code: reverse("help:home", kwargs={"language": code}) for code in supported_languages()}
        home_alternates = _alternates(request, homes)
        for url in homes.values():
            add(_absolute(request, url), home_alternates)
    # One reverse() and build_absolute_uri() per language, not per article (they were most of the time).
    site = request.build_absolute_uri("/").rstrip("/")
    article_paths = {
        code: reverse("help:article", kwargs={"language": code, "slug": SLUG_PLACEHOLDER})
        for code in supported_languages()
    }
    offset = (page - 1) * (per_page or 0)
    for translations in help_selectors.sitemap_translations(offset=offset, limit=per_page).values():
        urls = {
            item.language: site + article_paths[item.language].replace(SLUG_PLACEHOLDER, quote(item.slug, safe=URL_SAFE))
            for item in translations
        }
        alternates = _alternates_absolute(urls)
        for item in translations:
            add(urls[item.language], alternates, item.updated_at)
    lines.append("</urlset>")
    return lines


def _sitemap_response(lines: list[str]) -> HttpResponse:
    response = HttpResponse("\n".join(lines) + "\n", content_type="application/xml; charset=utf-8")
    patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE_SECONDS)
    return response


@require_safe
def theme(request: HttpRequest) -> HttpResponse:
    """The configured accent colour as CSS custom properties: a stylesheet, not an inline style,
    so the page needs nothing the CSP would have to allow."""
    color = primary_color()
    css = f":root {{ --help-primary: {color}; }}\n" if color else "/* the design system's colours */\n"
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE_SECONDS)
    return response
