"""'Was this helpful?' votes (one per reader) and view counts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from knowledgebase.models import ArticleFeedback, ArticleStatus
from knowledgebase.services import feedback_record, translation_record_view

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(make_translation):
    return make_translation(status=ArticleStatus.PUBLISHED)


def _counts(translation):
    translation.refresh_from_db()
    return translation.helpful_yes, translation.helpful_no


def test_one_vote_per_signed_in_reader_and_a_changed_vote_moves_the_count(published, customer_user):
    feedback_record(translation=published, is_helpful=True, comment="", user=customer_user, session_key="s1")
    feedback_record(translation=published, is_helpful=True, comment="", user=customer_user, session_key="s2")
    assert _counts(published) == (1, 0)

    feedback_record(translation=published, is_helpful=False, comment="Step 3 is missing", user=customer_user,
                    session_key="s2")
    assert _counts(published) == (0, 1)
    vote = ArticleFeedback.objects.get()
    assert (vote.is_helpful, vote.comment, vote.user) == (False, "Step 3 is missing", customer_user)


def test_anonymous_votes_are_one_per_session(published):
    feedback_record(translation=published, is_helpful=False, comment="", user=AnonymousUser(), session_key="abc")
    feedback_record(translation=published, is_helpful=False, comment="", user=None, session_key="abc")
    feedback_record(translation=published, is_helpful=True, comment="", user=None, session_key="xyz")
    assert _counts(published) == (1, 1)
    assert ArticleFeedback.objects.count() == 2


def test_a_vote_without_user_or_session_is_refused(published):
    with pytest.raises(ValidationError):
        feedback_record(translation=published, is_helpful=True, comment="", user=None, session_key="")
    assert _counts(published) == (0, 0)


def test_views_are_counted_without_touching_updated_at(published):
    updated_at = published.updated_at
    translation_record_view(translation_id=published.pk)
    translation_record_view(translation_id=published.pk)
    published.refresh_from_db()
    assert published.view_count == 2
    assert published.updated_at == updated_at
