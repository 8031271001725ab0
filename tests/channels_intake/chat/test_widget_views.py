"""The widget script at its stable address, and the demo shop page that embeds it."""

from __future__ import annotations

import gzip

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_widget_script_is_served_at_a_stable_address_for_any_site(client):
    response = client.get("/chat/widget.js", headers={"Origin": "https://shop.example"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    with open(finders.find("chat/widget.js"), "rb") as handle:
        assert response.content == handle.read()
    # Short cache (a fix must reach customers' sites whose tag never changes), loadable from anywhere.
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "Accept-Encoding" in response["Vary"]
    assert "Set-Cookie" not in response


def test_widget_script_unchanged_since_last_time_is_a_304(client):
    etag = client.get("/chat/widget.js")["ETag"]

    again = client.get("/chat/widget.js", headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert client.get("/chat/widget.js", headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_widget_script_is_gzipped_for_browsers_that_accept_it(client):
    plain = client.get("/chat/widget.js")
    compressed = client.get("/chat/widget.js", headers={"Accept-Encoding": "gzip, br"})

    assert compressed["Content-Encoding"] == "gzip"
    assert gzip.decompress(compressed.content) == plain.content
    assert len(compressed.content) < len(plain.content) / 2
    assert compressed["ETag"] == plain["ETag"]


def test_widget_script_refuses_writes(client):
    assert client.post("/chat/widget.js").status_code == 405


def test_demo_host_page_embeds_the_demo_widget_from_our_own_origin(client):
    response = client.get("/demo/widget/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/chat/widget.js" data-key="demo-widget" async></script>' in html
    # Our strict CSP lets the page load the widget and open its socket: both are on our origin.
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self' ws: wss:" in policy
