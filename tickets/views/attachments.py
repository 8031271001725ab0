"""Serving attachments so that nothing uploaded can ever run in our origin.

Only safe raster images (checked by content, not just by the declared type) are shown inline;
everything else, SVG, HTML, JavaScript and XML included, is a download of
application/octet-stream. Every response carries nosniff and a sandboxing CSP.
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from tickets import selectors
from tickets.models import Attachment
from tickets.services.attachments import safe_filename

# Declared type -> the magic bytes the content must start with to be shown inline.
INLINE_IMAGE_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
ATTACHMENT_CSP = "default-src 'none'; sandbox"


def _ascii_fallback(name: str) -> str:
    """For clients without RFC 6266 filename*: printable ASCII only, no quote or backslash."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return fallback or "attachment"


def content_disposition(disposition: str, filename: str) -> str:
    """`attachment; filename="..."; filename*=UTF-8''...` with the name neutralised once more."""
    name = safe_filename(filename)
    return f"{disposition}; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


def _is_safe_inline_image(attachment: Attachment, head: bytes) -> bool:
    signatures = INLINE_IMAGE_SIGNATURES.get((attachment.content_type or "").lower())
    if not signatures or not any(head.startswith(signature) for signature in signatures):
        return False
    return attachment.content_type != "image/webp" or head[8:12] == b"WEBP"


@require_GET
@login_required
def download(request: HttpRequest, attachment_id: int) -> FileResponse:
    attachment = selectors.attachment_get(user=request.user, attachment_id=attachment_id)
    return attachment_response(attachment)


def attachment_response(attachment: Attachment) -> FileResponse:
    """The file with the headers above; the browser view and the API (token auth) both serve this."""
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    head = handle.read(16)
    handle.seek(0)
    inline = _is_safe_inline_image(attachment, head)
    response = FileResponse(
        handle, as_attachment=not inline, content_type=attachment.content_type if inline else "application/octet-stream"
    )
    response["Content-Disposition"] = content_disposition("inline" if inline else "attachment", attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ATTACHMENT_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-cache"
    return response
