"""Article bodies: Markdown in, sanitised HTML out.

Rendered once when a translation is saved (`body_html`), never per request. Authors are staff, but
an imported file or a draft made from a customer's ticket is still untrusted text, so the HTML
goes through nh3 with an allow-list in the style of tickets/sanitize.py whatever produced it.
"""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    # rel is set by the renderer below (raw HTML is off, so authors cannot write their own).
    "a": {"href", "title", "rel"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    # "language-python" on fenced code, for a highlighter in the page; any other class is dropped.
    "code": {"class"},
    "*": {"dir", "lang"},
}
# No javascript:, data: or vbscript: URLs. Relative URLs (other articles, attachments) pass.
ALLOWED_URL_SCHEMES = {"http", "https", "mailto", "tel"}
EXTERNAL_LINK_REL = "noopener nofollow"


def _is_external(href: str) -> bool:
    parts = urlsplit(href)
    return bool(parts.scheme or parts.netloc)


def _render_link_open(
    renderer: RendererHTML, tokens: list[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[index]
    href = str(token.attrGet("href") or "")
    if _is_external(href):
        # Links out of the help center carry no reputation of ours and get no window.opener.
        token.attrSet("rel", EXTERNAL_LINK_REL)
    return renderer.renderToken(tokens, index, options, env)


@cache
def _parser() -> MarkdownIt:
    # CommonMark with raw HTML off (it is escaped, not passed through), plus GitHub-style tables
    # and ~~strikethrough~~, which authors coming from other help desks expect.
    parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    parser.add_render_rule("link_open", _render_link_open)
    return parser


def _keep_attribute(element: str, attribute: str, value: str) -> str | None:
    if element == "code" and attribute == "class":
        classes = [name for name in value.split() if name.startswith("language-") and name[9:].isalnum()]
        return " ".join(classes) or None
    if element == "a" and attribute == "rel":
        return EXTERNAL_LINK_REL if value == EXTERNAL_LINK_REL else None
    return value


def sanitize_article_html(untrusted_html: str) -> str:
    return nh3.clean(
        untrusted_html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        attribute_filter=_keep_attribute,
        link_rel=None,
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Markdown (CommonMark + tables + strikethrough) as HTML safe to put in a page as is."""
    if not text or not text.strip():
        return ""
    return sanitize_article_html(_parser().render(text))

