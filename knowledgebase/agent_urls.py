"""Authoring pages of the knowledge base under /agent/kb/ (staff only; see views/authoring.py)."""

from django.urls import path

from knowledgebase.views import authoring

app_name = "kb_agent"
urlpatterns = [
    path("", authoring.article_list, name="articles"),
    path("new/", authoring.article_new, name="article_new"),
    path("preview/", authoring.preview, name="preview"),
    path("from-ticket/<int:number>/", authoring.article_from_ticket, name="from_ticket"),
    path("translations/<int:translation_id>/", authoring.translation_edit, name="translation_edit"),
    path("translations/<int:translation_id>/status/", authoring.translation_status, name="translation_status"),
    path("translations/<int:translation_id>/revisions/", authoring.revision_list, name="revisions"),
    path("translations/<int:translation_id>/revisions/<int:number>/", authoring.revision_diff, name="revision_diff"),
    path("translations/<int:translation_id>/revisions/<int:number>/restore/", authoring.revision_restore_view,
         name="revision_restore"),
    path("articles/<int:article_id>/translations/<str:language>/", authoring.translation_add,
         name="translation_add"),
    path("articles/<int:article_id>/zh-hant-draft/", authoring.translation_convert, name="translation_convert"),
    path("articles/<int:article_id>/attachments/", authoring.attachment_upload, name="attachment_upload"),
    path("articles/<int:article_id>/attachments/<int:attachment_id>/delete/", authoring.attachment_delete,
         name="attachment_delete"),
    path("articles/<int:article_id>/related/", authoring.related_add, name="related_add"),
    path("articles/<int:article_id>/related/<int:other_id>/remove/", authoring.related_remove,
         name="related_remove"),
    # Not an authoring page: the files of articles, for whoever may read the article (images in
    # public articles included). Kept here so the help center and the editor share one URL.
    path("files/<int:attachment_id>/<str:filename>", authoring.attachment_download, name="attachment"),
]
