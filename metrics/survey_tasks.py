"""The survey tasks (thin: the work is in metrics.surveys)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from channels_intake.email.outbound import TemporaryDeliveryError
from channels_intake.tasks import RETRY_DATABASE_OUTAGE, retry_countdown
from metrics import surveys


@shared_task(name="metrics.survey_tasks.survey_ticket_solved", queue="metrics", acks_late=True,
             **RETRY_DATABASE_OUTAGE)
def survey_ticket_solved(ticket_id: int) -> int:
    """Create the survey invitations a solved ticket calls for (idempotent); returns how many."""
    return len(surveys.surveys_after_solve(ticket_id=ticket_id))


@shared_task(name="metrics.survey_tasks.survey_invitation_send", queue="email_out", acks_late=True, bind=True,
             **RETRY_DATABASE_OUTAGE)
def survey_invitation_send(self, invitation_id: int) -> str:  # type: ignore[no-untyped-def]
    """Mail one survey invitation if it is still wanted (idempotent: a sent one is left alone)."""
    try:
        return surveys.survey_invitation_send(invitation_id=invitation_id).value
    except TemporaryDeliveryError as error:
        # The same budget as customers' mail (channels_intake.tasks.retry_countdown).
        max_retries = int(getattr(settings, "HELPDESK_EMAIL_OUTBOUND_MAX_RETRIES", 8))
        if self.request.retries >= max_retries:
            surveys.survey_invitation_failed(invitation_id=invitation_id, error=str(error))
            return surveys.SendOutcome.FAILED.value
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries), max_retries=max_retries) from error


@shared_task(name="metrics.survey_tasks.survey_invitations_send_due", queue="metrics", acks_late=True)
def survey_invitations_send_due() -> int:
    """Queue the survey mails whose send time has come (beat, every minute): the delayed ones (NPS,
    a CSAT delay) and any whose task was lost. Returns how many were queued."""
    due = surveys.survey_invitations_due()
    for invitation_id in due:
        survey_invitation_send.delay(invitation_id)
    return len(due)
