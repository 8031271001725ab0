"""The only code that changes the knowledge base. Views, commands and the demo seed call these."""

from knowledgebase.services.articles import (
    STATUS_TRANSITIONS,
    allowed_statuses,
    article_create,
    article_set_related,
    article_update,
    revision_restore,
    translation_create,
    translation_save,
    translation_set_status,
)
from knowledgebase.services.attachments import article_attachment_add, article_attachment_delete
from knowledgebase.services.conversion import translation_draft_from_simplified
from knowledgebase.services.feedback import feedback_record, translation_record_view
from knowledgebase.services.from_ticket import article_create_from_ticket

__all__ = [
    "STATUS_TRANSITIONS",
    "allowed_statuses",
    "article_attachment_add",
    "article_attachment_delete",
    "article_create",
    "article_create_from_ticket",
    "article_set_related",
    "article_update",
    "feedback_record",
    "revision_restore",
    "translation_create",
    "translation_draft_from_simplified",
    "translation_record_view",
    "translation_save",
    "translation_set_status",
]
