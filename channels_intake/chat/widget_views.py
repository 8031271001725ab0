"""The chat widget's script at a stable address (/chat/widget.js), the visitor's file downloads
(/chat/files/<signed>/, see channels_intake.chat.files) and the demo shop page that embeds the widget.

Customers paste `<script src="https://<our site>/chat/widget.js" data-key="…" async>` into their
sites once and never change it, so the script cannot live at a hashed static URL; instead it is
served here with a short cache lifetime and an ETag (a fix reaches every site within minutes, and
an unchanged script costs a 304). It is public code loaded by other origins: CORS and
Cross-Origin-Resource-Policy allow that, and no cookie is read or set.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from dataclasses import dataclass

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from channels_intake.chat.demo import DEMO_WIDGET_KEY
from channels_intake.chat.files import attachment_for_file_token
from tickets.views.attachments import ATTACHMENT_CSP, content_disposition

WIDGET_SCRIPT = "chat/widget.js"
# Short: the address never changes, so this is how long an old script may linger after a deploy.
SCRIPT_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class _Script:
    stamp: tuple[str, int, int]  # path, mtime, size: reread when the file changes (development)
    body: bytes
    gzipped: bytes
    etag: str


_cached: _Script | None = None
_lock = threading.Lock()


def _script_path() -> str:
    # The finders see static/ in a checkout; after collectstatic (no finders) the file is in STATIC_ROOT.
    found = finders.find(WIDGET_SCRIPT)
    if found:
        return str(found)
    collected = os.path.join(settings.STATIC_ROOT, WIDGET_SCRIPT)
    if os.path.exists(collected):
        return collected
    raise Http404("The chat widget script is missing.")


def _script() -> _Script:
    global _cached
    path = _script_path()
    status = os.stat(path)
    stamp = (path, status.st_mtime_ns, status.st_size)
    cached = _cached
    if cached is not None and cached.stamp == stamp:
        return cached
    with _lock:
        with open(path, "rb") as handle:
            body = handle.read()
        # From the content, not the file time: every server of a deployment answers the same ETag.
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        _cached = _Script(stamp=stamp, body=body, gzipped=gzip.compress(body, mtime=0), etag=etag)
        return _cached


def _accepts_gzip(request: HttpRequest) -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


@require_safe
def widget_script(request: HttpRequest) -> HttpResponse:
    script = _script()
    if_none_match = request.headers.get("If-None-Match", "")
    etags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    if script.etag in etags or if_none_match.strip() == "*":
        response: HttpResponse = HttpResponseNotModified()
    elif _accepts_gzip(request):
        response = HttpResponse(script.gzipped, content_type="text/javascript; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(script.body, content_type="text/javascript; charset=utf-8")
    response["ETag"] = script.etag
    response["Cache-Control"] = f"public, max-age={SCRIPT_MAX_AGE_SECONDS}"
    # Any website may load it (it only grants what a widget key allows, checked by the API).
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


@require_safe
def demo_host(request: HttpRequest) -> HttpResponse:
    """A made-up shop that embeds the demo widget, as a customer's website would (`make run`)."""
    return render(request, "channels_intake/chat/demo_host.html", {"widget_key": DEMO_WIDGET_KEY})


@require_safe
def chat_file(request: HttpRequest, token: str) -> FileResponse:
    """A file of the chat, for its visitor (no account, no cookie: the signed link is the permission).

    Always a download of application/octet-stream, never shown in our origin, with the same
    sandboxing headers as the ticket attachment view; 404 for a forged, expired or bent link."""
    attachment = attachment_for_file_token(token)
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    response = FileResponse(handle, as_attachment=True, content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition("attachment", attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ATTACHMENT_CSP
    # The link is the permission: it must not leak to another site through a Referer, nor be cached.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
