"""Storing uploaded files safely: size limits, neutral names, never executable when served."""

from __future__ import annotations

import mimetypes
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.utils.translation import gettext as _

from tickets.models import Attachment, Message, Ticket

# Bidirectional-override and isolate characters turn "exe.txt" into "txt.exe" on screen (RLO attacks).
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def max_upload_bytes() -> int:
    return int(settings.HELPDESK_MAX_UPLOAD_BYTES)


def safe_filename(name: str | None) -> str:
    """A display name with no path, control or bidi characters; never empty, at most 200 characters."""
    name = (name or "").replace("\\", "/").split("/")[-1]
    cleaned = "".join(
        ch for ch in unicodedata.normalize("NFC", name)
        if ch not in _BIDI_CONTROLS and unicodedata.category(ch)[0] != "C"
    ).strip().strip(".")
    cleaned = cleaned.replace('"', "'")
    if not cleaned:
        cleaned = "attachment"
    if len(cleaned) > 200:
        stem, dot, extension = cleaned.rpartition(".")
        cleaned = (stem[: 190] + dot + extension[:9]) if dot and len(extension) < 10 else cleaned[:200]
    return cleaned


@dataclass(frozen=True)
class IncomingFile:
    """A file from any channel: name as given, declared type, and the content."""

    name: str
    content_type: str
    content: bytes | File
    size: int | None = None
    content_id: str = ""
    is_inline: bool = False
    # The most this file may weigh; None is the upload limit (HELPDESK_MAX_UPLOAD_BYTES). A mail's
    # attachments were already held to the whole mail's limit at the door, and a mail that door
    # took must not fail afterwards over one of its files.
    max_size: int | None = None


def validate_upload_size(size: int, *, limit: int | None = None) -> None:
    limit = max_upload_bytes() if limit is None else limit
    if size > limit:
        raise ValidationError(
            _("The file is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {"size": round(size / 1_048_576, 1), "limit": round(limit / 1_048_576, 1)},
            code="file_too_large",
        )


def attachment_store(*, ticket: Ticket, message: Message | None, incoming: IncomingFile) -> Attachment:
    content = incoming.content
    size = incoming.size if incoming.size is not None else (len(content) if isinstance(content, bytes) else content.size)
    validate_upload_size(size, limit=incoming.max_size)
    filename = safe_filename(incoming.name)
    content_type = (incoming.content_type or "").split(";")[0].strip().lower()
    if not content_type or "/" not in content_type:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    attachment = Attachment(
        ticket=ticket,
        message=message,
        filename=filename,
        content_type=content_type[:255],
        size=size,
        content_id=incoming.content_id[:255],
        is_inline=incoming.is_inline,
    )
    file_object = ContentFile(content) if isinstance(content, bytes) else content
    attachment.file.save(filename, file_object, save=False)
    attachment.save()
    return attachment


def incoming_from_upload(upload: File) -> IncomingFile:
    return IncomingFile(
        name=getattr(upload, "name", "") or "attachment",
        content_type=getattr(upload, "content_type", "") or "",
        content=upload,
        size=upload.size,
    )
