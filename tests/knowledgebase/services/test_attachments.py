"""Article images and files: the ticket upload limit, neutral names on disk."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from knowledgebase.models import ArticleAttachment
from knowledgebase.services import article_attachment_add, article_attachment_delete
from tickets.services import IncomingFile

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def test_attachment_is_stored_under_a_random_name_with_the_given_name_in_the_row(make_translation, author):
    article = make_translation().article
    attachment = article_attachment_add(
        article=article, incoming=IncomingFile(name="../../Screen shot.PNG", content_type="image/png", content=PNG),
        actor=author,
    )
    assert (attachment.filename, attachment.content_type, attachment.size) == ("Screen shot.PNG", "image/png", 40)
    assert attachment.file.name.startswith(f"kb/{article.pk}/") and attachment.file.name.endswith(".png")
    assert "Screen" not in attachment.file.name
    with attachment.file.open("rb") as handle:
        assert handle.read() == PNG


def test_files_over_the_ticket_upload_limit_are_refused(make_translation, author, settings):
    settings.HELPDESK_MAX_UPLOAD_BYTES = 10
    with pytest.raises(ValidationError):
        article_attachment_add(article=make_translation().article, actor=author,
                               incoming=IncomingFile(name="a.png", content_type="image/png", content=PNG))
    assert ArticleAttachment.objects.count() == 0


def test_customers_cannot_upload_or_delete(make_translation, author, customer_user, django_capture_on_commit_callbacks):
    article = make_translation().article
    with pytest.raises(PermissionDenied):
        article_attachment_add(article=article, actor=customer_user,
                               incoming=IncomingFile(name="a.png", content_type="image/png", content=PNG))
    attachment = article_attachment_add(article=article, actor=author,
                                        incoming=IncomingFile(name="a.png", content_type="image/png", content=PNG))
    with pytest.raises(PermissionDenied):
        article_attachment_delete(attachment=attachment, actor=customer_user)
    assert ArticleAttachment.objects.count() == 1

    storage, name = attachment.file.storage, attachment.file.name
    with django_capture_on_commit_callbacks(execute=True):
        article_attachment_delete(attachment=attachment, actor=author)
    assert ArticleAttachment.objects.count() == 0
    assert not storage.exists(name)
