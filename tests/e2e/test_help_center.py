"""The public help center in a browser: a reader whose browser asks for Traditional Chinese gets
the help center in zh-Hant (interface and content), opens an article and searches."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from knowledgebase.models import ArticleStatus, ArticleVisibility, Category
from knowledgebase.services import article_create, translation_create
from tests.e2e.helpers import EXPECT_TIMEOUT_MS, VIEWPORT, in_db_thread
from tests.factories import make_agent, make_team

pytestmark = pytest.mark.browser


def _corpus() -> None:
    author = make_agent(make_team("Support", slug="support"), username="writer")
    billing = Category.objects.create(
        slug="billing", position=1, names={"en": "Billing", "zh-hans": "账单", "zh-hant": "帳單與付款"},
        descriptions={"en": "Invoices and refunds", "zh-hant": "發票、退款與付款方式"},
    )
    refund = article_create(
        category=billing, visibility=ArticleVisibility.PUBLIC, tags=["refund"], language="en",
        title="How to request a refund", body_markdown="Open **Billing** and choose *Refund*.", author=author,
        status=ArticleStatus.PUBLISHED, key="refund-policy", summary="Refunds within 30 days.",
    )
    translation_create(
        article=refund.article, language="zh-hant", title="如何申請退款", author=author,
        status=ArticleStatus.PUBLISHED, summary="購買後三十天內可申請退款。",
        body_markdown="## 申請步驟\n\n1. 登入後打開**帳單**頁面。\n2. 選擇要退款的訂單，點擊「申請退款」。\n\n退款會在五個工作天內退回原付款帳戶。",
    )
    article_create(
        category=billing, visibility=ArticleVisibility.PUBLIC, tags=["invoice"], language="zh-hant",
        title="如何下載發票", body_markdown="在**帳單**頁面點擊「下載發票」。", author=author,
        status=ArticleStatus.PUBLISHED,
    )


@pytest.fixture
def taiwanese_page(chromium_browser, live):
    """A page in a browser set up for Taiwan (Accept-Language zh-TW), its errors collected."""
    context = chromium_browser.new_context(base_url=live.base_url, viewport=VIEWPORT, locale="zh-TW",
                                           timezone_id="Asia/Taipei")
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"pageerror: {error}"))
    page.on("console", lambda message: page.problems.append(f"console.{message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("response", lambda response: page.problems.append(f"HTTP {response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
    yield page
    context.close()


def test_help_center_renders_in_traditional_chinese(taiwanese_page):
    in_db_thread(_corpus)
    page = taiwanese_page

    # /help/ follows the browser's language.
    page.goto("/help/")
    expect(page).to_have_url(re.compile(r"/help/zh-hant/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant")
    # The interface speaks Traditional Chinese…
    expect(page.get_by_role("heading", name="需要什麼協助？")).to_be_visible()
    expect(page.get_by_role("link", name="登入")).to_be_visible()
    expect(page.get_by_role("banner").get_by_role("link", name="說明中心")).to_be_visible()
    expect(page.get_by_role("navigation", name="語言").get_by_role("link", name="繁體中文")).to_have_attribute(
        "aria-current", "true")
    # Keyboard users get a skip link first; the page is made of landmarks.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳至主要內容")).to_be_focused()
    for landmark in ("banner", "main", "search", "contentinfo"):
        expect(page.get_by_role(landmark).first).to_be_visible()
    # …and so does the content: the category's own zh-Hant name and the zh-Hant articles.
    expect(page.get_by_role("link", name="帳單與付款")).to_be_visible()
    expect(page.get_by_text("發票、退款與付款方式")).to_be_visible()
    expect(page.get_by_role("link", name="如何下載發票")).to_be_visible()
    expect(page.get_by_role("link", name="How to request a refund")).to_have_count(0)

    page.get_by_role("link", name="如何申請退款").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("如何申請退款")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant")
    expect(page).to_have_title(re.compile(r"^如何申請退款 · 說明中心$"))
    expect(page.get_by_role("heading", name="申請步驟")).to_be_visible()
    expect(page.get_by_text("退款會在五個工作天內退回原付款帳戶。")).to_be_visible()
    expect(page.locator(".help-breadcrumbs").get_by_role("link", name="帳單與付款")).to_be_visible()
    # The switcher offers the English version of the same article.
    english = page.get_by_role("navigation", name="語言").get_by_role("link", name="English")
    expect(english).to_have_attribute("href", "/help/en/articles/how-to-request-a-refund/")
    expect(page.locator("meta[name=description]")).to_have_attribute("content", "購買後三十天內可申請退款。")

    search = page.get_by_role("search").get_by_role("searchbox")
    search.fill("申請退款")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/help/zh-hant/search/\?q="))
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant")
    result = page.locator(".help-result").first
    expect(result.get_by_role("link", name="如何申請退款")).to_be_visible()
    expect(result.locator("mark").first).to_be_visible()
    expect(page.get_by_role("button", name="搜尋")).to_be_visible()

    with page.expect_request(re.compile(r"/api/v1/kb/search/click")):
        result.get_by_role("link", name="如何申請退款").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("如何申請退款")
    assert page.problems == []
