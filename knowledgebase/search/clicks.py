"""Recording which result a reader opened after a search (click-through for the analytics)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from knowledgebase.models import SearchQuery
from knowledgebase.selectors import readable_translations

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tickets.models import User


class ClickNotRecorded(LookupError):
    """No such search for this reader, or an article they may not read."""


def search_click_record(*, query_id: int, translation_id: int, rank: int, viewer: User | AnonymousUser | None,
                        session_key: str = "") -> SearchQuery:
    """Note that the reader opened result `rank` (1-based) of search `query_id`. The first click
    of a search is the one kept, so a repeated or later click changes nothing; click-through is
    about whether a search led anywhere. A search logged with a session only accepts clicks from
    that session, and only an article the reader may read can be recorded."""
    with transaction.atomic():
        search = SearchQuery.objects.select_for_update().filter(pk=query_id).first()
        if search is None or (search.session_key and search.session_key != session_key):
            raise ClickNotRecorded(query_id)
        if not readable_translations(viewer).filter(pk=translation_id).exists():
            raise ClickNotRecorded(translation_id)
        if search.clicked_translation_id is None:
            search.clicked_translation_id = translation_id
            search.clicked_rank = rank
            search.save(update_fields=["clicked_translation", "clicked_rank"])
    return search
