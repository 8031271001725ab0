"""Customer surveys: CSAT after a solve, NPS now and then, CES after the CSAT answer.

How a survey reaches the customer (Zendesk's and Zammad's habits):
- *CSAT (1–5)*: when a ticket becomes solved, `surveys_schedule_on_solve` (called by the status
  service) queues `survey_ticket_solved` on commit. The task creates one `SurveyInvitation` for the
  ticket, unless one was made within HELPDESK_SURVEY_CSAT_RESEND_DAYS (a ticket reopened and solved
  again is not asked twice) or the ticket was merged. The mail leaves HELPDESK_SURVEY_CSAT_DELAY_MINUTES
  later with five one-click links. Customers without an address, or who opted out, get an invitation
  that is not mailed: they can still rate in the portal (or at the end of a chat).
- *NPS (0–10)*: a separate mail HELPDESK_SURVEY_NPS_DELAY_HOURS after a solve, to each customer at
  most once per HELPDESK_SURVEY_NPS_PERIOD_DAYS. Separate rather than a question after the CSAT page:
  NPS is about the relationship, not the ticket, so it should reach customers who never answer a
  CSAT mail too, and a day's distance keeps it from echoing the ticket's rating.
- *CES (1–7)*: asked on the CSAT thank-you page (HELPDESK_SURVEY_ASK_CES).

Every mail is stored first (the invitation) and sent by a task on the `email_out` queue, re-checked
when it leaves: a customer who opted out, a ticket reopened or merged meanwhile, or a rating already
given in the portal means no mail. The links carry a signed, timestamped token naming the
invitation (`survey_answer_token`); they expire after HELPDESK_SURVEY_LINK_MAX_AGE_DAYS. Each
invitation has at most one answer of each kind: a second click, or a changed score, updates it.
The opt-out link (signed, never expiring) is in every survey mail and honoured by all later ones.

Answers copy the ticket's team, agent (the facts' agent, else the assignee), channel, priority and
organization, so the dashboards read `SurveyResponse` alone; each saved answer tells open dashboards
to refresh (`helpdesk.realtime.METRICS_GROUP`) once it is committed.
"""

from __future__ import annotations

import enum
import logging
import smtplib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk import realtime
from metrics.models import (
    SurveyInvitation,
    SurveyInvitationState,
    SurveyKind,
    SurveyOptOut,
    SurveyResponse,
    SurveySource,
    TicketFact,
)
from tickets.models import Channel, Customer, Status, Ticket

logger = logging.getLogger(__name__)

# The lowest and highest score of each question.
SCALES: dict[str, tuple[int, int]] = {SurveyKind.CSAT: (1, 5), SurveyKind.NPS: (0, 10), SurveyKind.CES: (1, 7)}
# What each CSAT score says, on the buttons and in the mail.
CSAT_LABELS = {
    1: gettext_lazy("Very dissatisfied"),
    2: gettext_lazy("Dissatisfied"),
    3: gettext_lazy("Neutral"),
    4: gettext_lazy("Satisfied"),
    5: gettext_lazy("Very satisfied"),
}
CES_LABELS = {1: gettext_lazy("Very difficult"), 7: gettext_lazy("Very easy")}
ANSWER_SALT = "metrics.surveys.answer"
OPT_OUT_SALT = "metrics.surveys.opt-out"
MAX_COMMENT_CHARS = 5000
SOLVED_STATUSES = (Status.SOLVED, Status.CLOSED)
# Mails due within this are queued with a countdown at once; later ones wait for the sweep.
QUEUE_DIRECTLY_WITHIN = timedelta(minutes=10)
# A chat solved as it ends asks for its rating in the widget: its mail waits this long after the
# chat's end and is dropped if the visitor rated there (one question, not two at once).
CHAT_RATING_WINDOW = timedelta(hours=1)


class SkipReason(enum.StrEnum):
    """Why an invitation was not mailed (`SurveyInvitation.skip_reason`)."""

    OPTED_OUT = "opted_out"
    NO_EMAIL = "no_email"
    MERGED = "merged"
    REOPENED = "reopened"
    ANSWERED = "answered"  # rated in the portal or the chat before the mail left
    RECENTLY_ASKED = "recently_asked"  # NPS: another one went out within the period
    DISABLED = "disabled"
    TICKET_DELETED = "ticket_deleted"
    IN_PLACE = "in_place"  # made by a portal or chat rating; nothing to mail


class SurveyLinkInvalid(Exception):
    """The link was not made by us, was altered, or names no survey."""


class SurveyLinkExpired(SurveyLinkInvalid):
    """A genuine link, older than HELPDESK_SURVEY_LINK_MAX_AGE_DAYS."""


# --- tokens ---------------------------------------------------------------------------------------


def survey_answer_token(invitation: SurveyInvitation) -> str:
    """The signed, timestamped token of `invitation`'s answer links (and its thank-you page)."""
    return signing.dumps({"i": invitation.pk, "k": invitation.kind}, salt=ANSWER_SALT)


def survey_opt_out_token(invitation: SurveyInvitation) -> str:
    """The signed token of the opt-out link; it does not expire (a mail's unsubscribe link must keep working)."""
    return signing.dumps({"i": invitation.pk}, salt=OPT_OUT_SALT)


def link_max_age() -> timedelta:
    return timedelta(days=int(settings.HELPDESK_SURVEY_LINK_MAX_AGE_DAYS))


def _invitation_from(token: str, *, salt: str, max_age: timedelta | None) -> SurveyInvitation:
    try:
        claims = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as error:
        raise SurveyLinkExpired(str(error)) from error
    except signing.BadSignature as error:
        raise SurveyLinkInvalid(str(error)) from error
    invitation_id = claims.get("i") if isinstance(claims, dict) else None
    if not isinstance(invitation_id, int) or isinstance(invitation_id, bool):
        raise SurveyLinkInvalid("no invitation in the token")
    invitation = (
        SurveyInvitation.objects.select_related("ticket", "customer").filter(pk=invitation_id).first()
    )
    if invitation is None or ("k" in claims and claims["k"] != invitation.kind):
        raise SurveyLinkInvalid("the token names no such survey")
    return invitation


def survey_invitation_for_answer(token: str) -> SurveyInvitation:
    """The invitation an answer link names; raises SurveyLinkExpired or SurveyLinkInvalid."""
    return _invitation_from(token, salt=ANSWER_SALT, max_age=link_max_age())


def survey_invitation_for_opt_out(token: str) -> SurveyInvitation:
    return _invitation_from(token, salt=OPT_OUT_SALT, max_age=None)


def survey_link(name: str, *args: Any) -> str:
    return str(settings.HELPDESK_SITE_URL).rstrip("/") + reverse(f"metrics_survey:{name}", args=args)


# --- who is asked ---------------------------------------------------------------------------------


def survey_language(customer: Customer, ticket: Ticket | None = None) -> str:
    """The customer's language (their record, their login's preference, their chat's), else the site's."""
    candidates = [customer.language]
    if customer.user_id is not None and customer.user is not None:
        candidates.append(customer.user.language)
    if ticket is not None:
        from channels_intake.chat.models import Chat

        candidates.append(Chat.objects.filter(ticket_id=ticket.pk).values_list("language", flat=True).first() or "")
    for candidate in candidates:
        if candidate:
            try:
                return translation.get_supported_language_variant(candidate.lower())
            except LookupError:
                continue
    return settings.LANGUAGE_CODE


def survey_opted_out(customer_id: int) -> bool:
    return SurveyOptOut.objects.filter(customer_id=customer_id).exists()


def surveys_enabled() -> bool:
    # HELPDESK_EMAIL_REPLIES=False (history imports, the demo seed) replays solves that must not mail anyone.
    return bool(getattr(settings, "HELPDESK_EMAIL_REPLIES", True)) and (
        bool(settings.HELPDESK_SURVEY_CSAT_ENABLED) or bool(settings.HELPDESK_SURVEY_NPS_ENABLED)
    )


def surveys_schedule_on_solve(*, ticket: Ticket) -> None:
    """Called inside the transaction that solves `ticket`: once it commits, the survey task decides
    whom to ask (a task, so the solve itself costs no query)."""
    if not surveys_enabled():
        return
    ticket_id = ticket.pk

    def enqueue() -> None:
        from metrics.survey_tasks import survey_ticket_solved

        survey_ticket_solved.delay(ticket_id)

    # robust: a broker outage must not fail the solve that was just committed.
    transaction.on_commit(enqueue, robust=True)


def _nps_recently_asked(customer_id: int, *, now: datetime, exclude_pk: int | None = None,
                        count_pending: bool = True) -> bool:
    """Whether the customer was sent an NPS survey within the period (or has one waiting to go out)."""
    since = now - timedelta(days=int(settings.HELPDESK_SURVEY_NPS_PERIOD_DAYS))
    asked = Q(state=SurveyInvitationState.SENT, sent_at__gte=since)
    if count_pending:
        asked |= Q(state=SurveyInvitationState.PENDING)
    return SurveyInvitation.objects.filter(asked, kind=SurveyKind.NPS, customer_id=customer_id).exclude(
        pk=exclude_pk
    ).exists()


def _chat_ended_at(ticket: Ticket) -> datetime | None:
    if ticket.channel != Channel.CHAT:
        return None
    from channels_intake.chat.models import Chat

    return Chat.objects.filter(ticket_id=ticket.pk).values_list("ended_at", flat=True).first()


def surveys_after_solve(*, ticket_id: int, now: datetime | None = None) -> list[SurveyInvitation]:
    """Create the invitations a solve of `ticket_id` calls for (idempotent); returns the new ones.

    Their mails are queued once this commits. The customer's row is locked meanwhile, so two runs
    for the same solve (a retried task) cannot both create one.
    """
    now = now or timezone.now()
    created: list[SurveyInvitation] = []
    with transaction.atomic():
        ticket = Ticket.objects.filter(pk=ticket_id).select_related("requester", "requester__user").first()
        if ticket is None or ticket.status not in SOLVED_STATUSES or ticket.merged_into_id is not None:
            return []
        customer = Customer.objects.select_for_update(of=("self",)).select_related("user").get(pk=ticket.requester_id)
        opted_out = survey_opted_out(customer.pk)
        language = survey_language(customer, ticket)
        if settings.HELPDESK_SURVEY_CSAT_ENABLED:
            since = now - timedelta(days=int(settings.HELPDESK_SURVEY_CSAT_RESEND_DAYS))
            asked = SurveyInvitation.objects.filter(ticket=ticket, kind=SurveyKind.CSAT, created_at__gte=since)
            if not asked.exists():
                reason = SkipReason.OPTED_OUT if opted_out else SkipReason.NO_EMAIL if not customer.email else ""
                send_after = now + timedelta(minutes=float(settings.HELPDESK_SURVEY_CSAT_DELAY_MINUTES))
                chat_ended_at = _chat_ended_at(ticket)
                if chat_ended_at is not None:
                    send_after = max(send_after, chat_ended_at + CHAT_RATING_WINDOW)
                created.append(SurveyInvitation.objects.create(
                    kind=SurveyKind.CSAT, source=SurveySource.EMAIL, ticket=ticket, customer=customer,
                    email=customer.email, language=language, send_after=send_after,
                    state=SurveyInvitationState.NOT_SENT if reason else SurveyInvitationState.PENDING,
                    skip_reason=reason,
                ))
        if (
            settings.HELPDESK_SURVEY_NPS_ENABLED and customer.email and not opted_out
            and not _nps_recently_asked(customer.pk, now=now)
        ):
            delay = timedelta(hours=float(settings.HELPDESK_SURVEY_NPS_DELAY_HOURS))
            created.append(SurveyInvitation.objects.create(
                kind=SurveyKind.NPS, source=SurveySource.EMAIL, ticket=ticket, customer=customer,
                email=customer.email, language=language, send_after=now + delay,
            ))
        for invitation in created:
            if invitation.state == SurveyInvitationState.PENDING:
                _queue_send(invitation, now=now)
    return created


def _queue_send(invitation: SurveyInvitation, *, now: datetime) -> None:
    """Queue the mail's task on commit when it is due soon; later ones are left to the beat sweep
    (`survey_invitations_send_due`): Redis redelivers a task held longer than its visibility
    timeout (an hour), so day-long countdowns would pile up copies in the workers."""
    invitation_id = invitation.pk
    countdown = max(0.0, (invitation.send_after - now).total_seconds())
    if countdown > QUEUE_DIRECTLY_WITHIN.total_seconds():
        return

    def enqueue() -> None:
        from metrics.survey_tasks import survey_invitation_send

        survey_invitation_send.apply_async((invitation_id,), countdown=countdown)

    transaction.on_commit(enqueue, robust=True)


# --- sending --------------------------------------------------------------------------------------


class SendOutcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"
    NOT_SENT = "not_sent"
    NOT_DUE = "not_due"
    NOTHING_TO_DO = "nothing"


def _skip_reason(invitation: SurveyInvitation, *, now: datetime) -> str:
    """Why `invitation` should not be mailed now ('' when it should)."""
    kind_enabled = (
        settings.HELPDESK_SURVEY_CSAT_ENABLED if invitation.kind == SurveyKind.CSAT
        else settings.HELPDESK_SURVEY_NPS_ENABLED
    )
    if not kind_enabled or not getattr(settings, "HELPDESK_EMAIL_REPLIES", True):
        return SkipReason.DISABLED
    if survey_opted_out(invitation.customer_id):
        return SkipReason.OPTED_OUT
    if not invitation.customer.email:
        return SkipReason.NO_EMAIL
    if invitation.kind == SurveyKind.CSAT:
        ticket = invitation.ticket
        if ticket is None:
            return SkipReason.TICKET_DELETED
        if ticket.merged_into_id is not None:
            return SkipReason.MERGED
        if ticket.status not in SOLVED_STATUSES:
            return SkipReason.REOPENED
        if invitation.responses.exists():
            return SkipReason.ANSWERED
    elif _nps_recently_asked(invitation.customer_id, now=now, exclude_pk=invitation.pk, count_pending=False):
        return SkipReason.RECENTLY_ASKED
    return ""


def build_survey_email(invitation: SurveyInvitation) -> EmailMultiAlternatives:
    """The survey mail of `invitation`, in its language, with freshly signed links."""
    from channels_intake.email.outbound import encoded_subject

    token = survey_answer_token(invitation)
    opt_out_link = survey_link("opt_out", survey_opt_out_token(invitation))
    low, high = SCALES[invitation.kind]
    ticket = invitation.ticket
    with translation.override(invitation.language or settings.LANGUAGE_CODE):
        choices = [
            {
                "score": score,
                "label": str(CSAT_LABELS[score]) if invitation.kind == SurveyKind.CSAT else str(score),
                "link": survey_link("rate", token, score),
            }
            for score in range(low, high + 1)
        ]
        context = {
            "invitation": invitation,
            "customer": invitation.customer,
            "ticket": ticket,
            "choices": choices,
            "opt_out_link": opt_out_link,
            "max_age_days": int(settings.HELPDESK_SURVEY_LINK_MAX_AGE_DAYS),
        }
        if invitation.kind == SurveyKind.CSAT and ticket is not None:
            subject = _("How would you rate the support you received? (request #%(number)s)") % {
                "number": ticket.number
            }
        else:
            subject = _("How likely are you to recommend us?")
        name = f"metrics/email/survey_{invitation.kind}"
        text = render_to_string(f"{name}.txt", context)
        html = render_to_string(f"{name}.html", context)
    mail = EmailMultiAlternatives(
        subject=encoded_subject(subject),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.customer.email],
        headers={
            # RFC 3834: machine-made, so autoresponders (out-of-office) stay silent.
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            # RFC 2369 / 8058: the mail client's own "unsubscribe" opts out in one click.
            "List-Unsubscribe": f"<{opt_out_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    mail.attach_alternative(html, "text/html")
    return mail


def survey_invitation_send(*, invitation_id: int, now: datetime | None = None) -> SendOutcome:
    """Mail one pending invitation if it is still wanted, once.

    Raises TemporaryDeliveryError when the mail server may take it later (the task retries). The
    row stays locked while sending, so two workers handed the same invitation never both send it.
    """
    from channels_intake.email.outbound import TemporaryDeliveryError, is_permanent_refusal

    now = now or timezone.now()
    with transaction.atomic():
        invitation = (
            SurveyInvitation.objects.select_for_update(of=("self",))
            .select_related("ticket", "customer")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None or invitation.state != SurveyInvitationState.PENDING:
            return SendOutcome.NOTHING_TO_DO
        if invitation.send_after > now:
            return SendOutcome.NOT_DUE
        reason = _skip_reason(invitation, now=now)
        if reason:
            invitation.state, invitation.skip_reason = SurveyInvitationState.NOT_SENT, reason
            invitation.save(update_fields=["state", "skip_reason"])
            return SendOutcome.NOT_SENT
        # The address may have changed since the solve: the mail goes to the current one.
        invitation.email = invitation.customer.email
        mail = build_survey_email(invitation)
        try:
            with get_connection(fail_silently=False) as connection:
                connection.send_messages([mail])
        except (smtplib.SMTPException, OSError) as error:
            if not is_permanent_refusal(error):
                raise TemporaryDeliveryError(f"{type(error).__name__}: {error}") from error
            logger.warning("Survey %s refused for good: %s", invitation_id, error)
            invitation.state, invitation.error = SurveyInvitationState.FAILED, f"{type(error).__name__}: {error}"[:2000]
            invitation.save(update_fields=["state", "error", "email"])
            return SendOutcome.FAILED
        invitation.state, invitation.sent_at = SurveyInvitationState.SENT, timezone.now()
        invitation.save(update_fields=["state", "sent_at", "email"])
    return SendOutcome.SENT


def survey_invitation_failed(*, invitation_id: int, error: str) -> bool:
    """Give up on a pending invitation (its retries are spent)."""
    return bool(
        SurveyInvitation.objects.filter(pk=invitation_id, state=SurveyInvitationState.PENDING).update(
            state=SurveyInvitationState.FAILED, error=error[:2000]
        )
    )


def survey_invitations_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending invitations whose send time has come (the delayed ones, and any whose task was lost);
    the beat sweep queues them. Sending again is harmless: a sent invitation is left alone."""
    now = now or timezone.now()
    return list(
        SurveyInvitation.objects.filter(state=SurveyInvitationState.PENDING, send_after__lte=now)
        .order_by("send_after")
        .values_list("pk", flat=True)[:limit]
    )


# --- answers --------------------------------------------------------------------------------------


def _check_score(kind: str, score: Any) -> int:
    low, high = SCALES[kind]
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise ValidationError({"score": _("Choose a score from %(low)s to %(high)s.") % {"low": low, "high": high}})
    return score


def _ticket_dimensions(ticket: Ticket | None, customer: Customer | None) -> dict[str, Any]:
    if ticket is None:
        return {"organization_id": customer.organization_id if customer is not None else None}
    fact_agent_id = TicketFact.objects.filter(ticket_id=ticket.pk).values_list("agent_id", flat=True).first()
    return {
        "team_id": ticket.team_id,
        "agent_id": fact_agent_id or ticket.assignee_id,
        "channel": ticket.channel,
        "priority": ticket.priority,
        "organization_id": ticket.organization_id,
    }


def survey_answer_record(
    *, invitation: SurveyInvitation, kind: str, score: int, source: str, comment: str | None = None,
) -> SurveyResponse:
    """Record (or change) the answer of `kind` to `invitation`; None `comment` keeps the one given before.

    One answer per invitation and kind: the same link clicked twice leaves one answer, a different
    score replaces the first (like Zendesk). Open dashboards are told once this commits.
    """
    allowed = {invitation.kind} | ({SurveyKind.CES} if invitation.kind == SurveyKind.CSAT else set())
    if kind not in allowed:
        raise ValidationError(_("This survey does not ask that question."))
    score = _check_score(kind, score)
    if comment is not None:
        comment = comment.strip()[:MAX_COMMENT_CHARS]
    with transaction.atomic():
        # The invitation's lock makes two clicks at once (a double click) one answer.
        SurveyInvitation.objects.select_for_update().filter(pk=invitation.pk).first()
        response = SurveyResponse.objects.filter(invitation=invitation, kind=kind).first()
        if response is None:
            response = SurveyResponse.objects.create(
                invitation=invitation, kind=kind, score=score, comment=comment or "", source=source,
                ticket_id=invitation.ticket_id, customer_id=invitation.customer_id, language=invitation.language,
                responded_at=timezone.now(), **_ticket_dimensions(invitation.ticket, invitation.customer),
            )
        else:
            fields = []
            if response.score != score:
                response.score = score
                fields.append("score")
            if comment is not None and comment != response.comment:
                response.comment = comment
                fields.append("comment")
            if fields:
                response.source = source
                response.save(update_fields=[*fields, "source", "updated_at"])
            else:
                return response
        realtime.broadcast_after_commit([realtime.METRICS_GROUP], {"type": "metrics.updated"})
    return response


def survey_feedback_save(
    *, invitation: SurveyInvitation, score: int | None, comment: str, ces: int | None,
) -> SurveyResponse:
    """The thank-you page's form: the rating (kept when not given again), its comment, the CES answer."""
    with transaction.atomic():
        existing = SurveyResponse.objects.filter(invitation=invitation, kind=invitation.kind).first()
        if score is None:
            if existing is None:
                raise ValidationError({"score": _("Choose a rating first.")})
            score = existing.score
        response = survey_answer_record(
            invitation=invitation, kind=invitation.kind, score=score, source=SurveySource.EMAIL, comment=comment,
        )
        if ces is not None:
            if not survey_asks_ces(invitation):
                raise ValidationError(_("This survey does not ask that question."))
            survey_answer_record(invitation=invitation, kind=SurveyKind.CES, score=ces, source=SurveySource.EMAIL)
    return response


def survey_asks_ces(invitation: SurveyInvitation) -> bool:
    return invitation.kind == SurveyKind.CSAT and bool(settings.HELPDESK_SURVEY_ASK_CES)


def survey_answers(invitation: SurveyInvitation) -> dict[str, SurveyResponse]:
    return {response.kind: response for response in SurveyResponse.objects.filter(invitation=invitation)}


# --- the ticket's rating in the portal and the chat ---------------------------------------------


def _latest_csat_invitation(ticket: Ticket) -> SurveyInvitation | None:
    return SurveyInvitation.objects.filter(ticket=ticket, kind=SurveyKind.CSAT).order_by("-created_at", "-pk").first()


def survey_ticket_rating(*, ticket: Ticket) -> SurveyResponse | None:
    """The ticket's current CSAT answer (of its latest survey, however it was given)."""
    invitation = _latest_csat_invitation(ticket)
    if invitation is None:
        return None
    return SurveyResponse.objects.filter(invitation=invitation, kind=SurveyKind.CSAT).first()


def survey_portal_can_rate(*, ticket: Ticket, customer: Customer | None) -> bool:
    """The requester may rate a solved or closed ticket that was not merged away."""
    return (
        customer is not None and ticket.requester_id == customer.pk and ticket.status in SOLVED_STATUSES
        and ticket.merged_into_id is None
    )


def survey_ticket_rate(
    *, ticket: Ticket, customer: Customer, score: int, comment: str, source: str,
) -> SurveyResponse:
    """A rating given in the portal or at the end of a chat: it answers the ticket's latest CSAT
    survey (the mailed one if any, so a customer who rates both ways counts once), created when the
    ticket has none."""
    if source == SurveySource.PORTAL and not survey_portal_can_rate(ticket=ticket, customer=customer):
        raise PermissionDenied(_("You can rate a request once it is solved."))
    if source not in (SurveySource.PORTAL, SurveySource.CHAT):
        raise ValidationError(_("Unknown survey source."))
    _check_score(SurveyKind.CSAT, score)
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=ticket.requester_id).first()
        invitation = _latest_csat_invitation(ticket)
        if invitation is None:
            invitation = SurveyInvitation.objects.create(
                kind=SurveyKind.CSAT, source=source, ticket=ticket, customer_id=ticket.requester_id,
                email=ticket.requester.email, language=survey_language(ticket.requester, ticket),
                send_after=timezone.now(), state=SurveyInvitationState.NOT_SENT, skip_reason=SkipReason.IN_PLACE,
            )
        return survey_answer_record(
            invitation=invitation, kind=SurveyKind.CSAT, score=score, source=source, comment=comment,
        )


# --- opt-out --------------------------------------------------------------------------------------


def survey_opt_out(*, customer: Customer) -> bool:
    """No more survey mails to `customer`; True when this changed anything. Mails already waiting to
    go out are dropped too."""
    with transaction.atomic():
        _row, created = SurveyOptOut.objects.get_or_create(customer=customer)
        SurveyInvitation.objects.filter(customer=customer, state=SurveyInvitationState.PENDING).update(
            state=SurveyInvitationState.NOT_SENT, skip_reason=SkipReason.OPTED_OUT
        )
    return created
