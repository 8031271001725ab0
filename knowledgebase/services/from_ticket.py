""""Create article from this ticket": a draft pre-filled from a solved ticket's public thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from helpdesk import permissions
from knowledgebase.models import ArticleStatus, ArticleTranslation, ArticleVisibility, Category
from knowledgebase.services.articles import article_create
from tickets.models import AuthorKind, Message, Status, Ticket, Visibility

if TYPE_CHECKING:
    from tickets.models import User

DRAFTABLE_STATUSES = (Status.SOLVED, Status.CLOSED)


def _quote_free(text: str) -> str:
    """A message's text as Markdown paragraphs. Mail quotes of earlier messages ("> …") are the
    thread repeating itself; they are left out."""
    lines = [line.rstrip() for line in (text or "").strip().splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def thread_markdown(messages: list[Message]) -> str:
    """The customer's question (their messages before the first agent answer) and the agents'
    answers, as Markdown sections for the author to edit into an article."""
    question: list[str] = []
    answers: list[str] = []
    for message in messages:
        text = _quote_free(message.body_text)
        if not text:
            continue
        if message.author_kind == AuthorKind.AGENT:
            answers.append(text)
        elif not answers:
            question.append(text)
    parts = []
    if question:
        parts.append(f"## {_('Question')}\n\n" + "\n\n".join(question))
    if answers:
        parts.append(f"## {_('Answer')}\n\n" + "\n\n".join(answers))
    return "\n\n".join(parts) + "\n" if parts else ""


def _draft_language(ticket: Ticket, actor: User) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    for candidate in (getattr(ticket.requester, "language", ""), getattr(actor, "language", "")):
        if candidate in codes:
            return candidate
    return settings.LANGUAGE_CODE


@transaction.atomic
def article_create_from_ticket(
    *, ticket: Ticket, actor: User, category: Category | None = None, language: str | None = None,
) -> ArticleTranslation:
    """A draft whose title is the ticket's subject and whose body is its public thread (never
    internal notes, never automatic replies), linked to the ticket. The actor must be staff who
    can see the ticket; the ticket must be solved (or closed), so the answer is known."""
    if not permissions.is_staff_member(actor) or not permissions.can_view_ticket(actor, ticket):
        raise PermissionDenied("This ticket is not visible to the author.")
    if ticket.status not in DRAFTABLE_STATUSES:
        raise ValidationError(_("Only a solved ticket can become an article."), code="not_solved")
    category = category or Category.objects.filter(is_internal=False).order_by("position", "slug").first() \
        or Category.objects.order_by("position", "slug").first()
    if category is None:
        raise ValidationError(_("Create a knowledge-base category first."), code="no_category")
    messages = list(
        Message.objects.filter(ticket=ticket, visibility=Visibility.PUBLIC)
        .exclude(author_kind=AuthorKind.SYSTEM)
        .order_by("created_at", "id")
        .only("author_kind", "body_text", "created_at")
    )
    return article_create(
        # Ticket tags are the team's own vocabulary (vip, refund-abuse …), not words for readers.
        category=category, visibility=ArticleVisibility.PUBLIC, tags=[],
        language=language or _draft_language(ticket, actor), title=ticket.subject,
        body_markdown=thread_markdown(messages), author=actor, status=ArticleStatus.DRAFT,
        source_ticket_id=ticket.pk, note=_("Drafted from ticket #%(number)s") % {"number": ticket.number},
    )
