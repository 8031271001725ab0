"""What readers do with an article: "Was this helpful?" votes and views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from knowledgebase.models import ArticleFeedback, ArticleTranslation

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from tickets.models import User

COMMENT_MAX_LENGTH = 2000


def _counter(is_helpful: bool) -> str:
    return "helpful_yes" if is_helpful else "helpful_no"


def feedback_record(
    *, translation: ArticleTranslation, is_helpful: bool, comment: str = "",
    user: User | AnonymousUser | None, session_key: str = "",
) -> ArticleFeedback:
    """One vote per reader and translation: the signed-in user, else the session. Voting again
    changes the vote (and moves one count from one counter to the other); an empty comment keeps
    the one given before. Callers pass only a translation the reader may read."""
    if user is not None and not user.is_authenticated:
        user = None
    if user is None and not session_key:
        raise ValidationError(_("We could not tell who voted; please enable cookies."), code="no_session")
    comment = (comment or "").strip()[:COMMENT_MAX_LENGTH]
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return _record(translation, is_helpful=is_helpful, comment=comment, user=user, session_key=session_key)
        except IntegrityError:
            # The same reader's concurrent first vote got in first; the second try updates it.
            continue
    raise ValidationError(_("Your vote could not be recorded; please try again."), code="conflict")


def _record(
    translation: ArticleTranslation, *, is_helpful: bool, comment: str, user: User | None, session_key: str,
) -> ArticleFeedback:
    votes = ArticleFeedback.objects.select_for_update().filter(translation=translation)
    if user is not None:
        existing = votes.filter(user=user).first()
    else:
        existing = votes.filter(user=None, session_key=session_key[:64]).first()
    counters = ArticleTranslation.objects.filter(pk=translation.pk)
    if existing is None:
        feedback = ArticleFeedback.objects.create(
            translation=translation, is_helpful=is_helpful, comment=comment, user=user,
            session_key=session_key[:64],
        )
        counters.update(**{_counter(is_helpful): F(_counter(is_helpful)) + 1})
        return feedback
    if existing.is_helpful != is_helpful:
        counters.update(**{
            _counter(existing.is_helpful): F(_counter(existing.is_helpful)) - 1,
            _counter(is_helpful): F(_counter(is_helpful)) + 1,
        })
    existing.is_helpful = is_helpful
    if comment:
        existing.comment = comment
    existing.save(update_fields=["is_helpful", "comment"])
    return existing


def translation_record_view(*, translation_id: int) -> None:
    """Count a view in one UPDATE (no read, no lost increments under concurrency, no updated_at
    change: a view is not an edit)."""
    ArticleTranslation.objects.filter(pk=translation_id).update(view_count=F("view_count") + 1)
