"""Article bodies render from Markdown to HTML that is safe to serve as is."""

from __future__ import annotations

from knowledgebase.markdown import render_markdown, sanitize_article_html


def test_markdown_renders_headings_lists_code_tables_and_strikethrough():
    html = render_markdown(
        "## Steps\n\n1. Open **Billing**\n2. Choose `Refund`\n\n"
        "| Plan | Days |\n|---|---|\n| Pro | 30 |\n\n~~old price~~\n\n```python\nprint(1)\n```\n"
    )
    assert "<h2>Steps</h2>" in html
    assert "<ol>\n<li>Open <strong>Billing</strong></li>\n<li>Choose <code>Refund</code></li>\n</ol>" in html
    assert "<th>Plan</th>" in html and "<td>30</td>" in html
    assert "<s>old price</s>" in html
    assert '<pre><code class="language-python">print(1)\n</code></pre>' in html


def test_raw_html_script_and_event_handlers_never_reach_the_page():
    html = render_markdown('Hi <script>alert(1)</script> <img src="x.png" onerror="alert(2)"> <b onclick="x()">b</b>')
    assert "<script" not in html
    assert "<img" not in html
    assert "<b " not in html
    # Raw HTML is shown as text, not interpreted.
    assert "&lt;script&gt;" in html


def test_javascript_and_data_urls_are_dropped_from_links_and_images():
    html = render_markdown("[click](javascript:alert(1)) ![x](data:image/png;base64,AAAA) [ok](https://example.com)")
    assert "javascript:" not in html.split("[click]")[0]
    assert 'href="javascript' not in html
    assert 'src="data:' not in html
    assert '<a href="https://example.com" rel="noopener nofollow">ok</a>' in html


def test_sanitiser_strips_what_markdown_would_not_produce():
    dirty = ('<p onclick="steal()">x</p><a href="javascript:alert(1)">a</a><script>bad()</script>'
             '<img src="javascript:alert(1)"><iframe src="https://evil"></iframe><code class="evil language-js">c</code>')
    clean = sanitize_article_html(dirty)
    assert clean == '<p>x</p><a>a</a><img><code class="language-js">c</code>'


def test_internal_links_are_followed_and_external_ones_get_noopener_nofollow():
    html = render_markdown("[other article](/help/en/articles/refunds/) [site](http://example.com/x)")
    assert '<a href="/help/en/articles/refunds/">other article</a>' in html
    assert '<a href="http://example.com/x" rel="noopener nofollow">site</a>' in html


def test_images_keep_http_and_relative_sources():
    html = render_markdown("![shot](https://cdn.example.com/a.png) ![local](/agent/kb/files/3/a.png)")
    assert '<img src="https://cdn.example.com/a.png" alt="shot">' in html
    assert '<img src="/agent/kb/files/3/a.png" alt="local">' in html


def test_chinese_text_and_empty_input():
    assert render_markdown("如何申请**退款**") == "<p>如何申请<strong>退款</strong></p>\n"
    assert render_markdown("   ") == ""
