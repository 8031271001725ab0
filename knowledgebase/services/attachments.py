"""Images and files of an article, under the same upload limit as ticket attachments."""

from __future__ import annotations

import mimetypes
import uuid
from typing import TYPE_CHECKING

from django.core.files.base import ContentFile
from django.db import transaction

from knowledgebase.models import Article, ArticleAttachment
from knowledgebase.services.common import require_author
from tickets.services.attachments import IncomingFile, safe_filename, validate_upload_size

if TYPE_CHECKING:
    from tickets.models import User


@transaction.atomic
def article_attachment_add(*, article: Article, incoming: IncomingFile, actor: User | None) -> ArticleAttachment:
    """Store a file for the article. The limit is HELPDESK_MAX_UPLOAD_BYTES, read now, like tickets."""
    require_author(actor)
    content = incoming.content
    size = incoming.size if incoming.size is not None else (
        len(content) if isinstance(content, bytes) else content.size
    )
    validate_upload_size(size, limit=incoming.max_size)
    filename = safe_filename(incoming.name)
    content_type = (incoming.content_type or "").split(";")[0].strip().lower()
    if not content_type or "/" not in content_type:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    attachment = ArticleAttachment(
        article=article, filename=filename, content_type=content_type[:100], size=size, uploaded_by=actor,
    )
    # On disk under a random name: the name a person gave lives only in the row.
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    stored_name = uuid.uuid4().hex + (f".{extension}" if extension.isalnum() and len(extension) <= 8 else "")
    file_object = ContentFile(content) if isinstance(content, bytes) else content
    attachment.file.save(stored_name, file_object, save=False)
    attachment.save()
    return attachment


@transaction.atomic
def article_attachment_delete(*, attachment: ArticleAttachment, actor: User | None) -> None:
    require_author(actor)
    stored = attachment.file.name or ""
    storage = attachment.file.storage
    attachment.delete()
    # The file goes only once the row is gone for good.
    if stored:
        transaction.on_commit(lambda: storage.delete(stored))
