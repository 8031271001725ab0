"""Survey pages: the one-click rating links of the survey mails, the thank-you page with its comment
(and CES) form, the opt-out link, and the portal's rating of a solved request.

The mail links need no sign-in: the signed token in the address is the customer's authority
(metrics.surveys). Every public page is rate-limited per client address and rendered in the
invitation's language.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import permissions
from helpdesk.throttling import PerAddressRateThrottle
from metrics import surveys
from metrics.models import SurveyInvitation, SurveyKind, SurveySource
from tickets import selectors
from tickets.views.portal import portal_view


class SurveyRateThrottle(PerAddressRateThrottle):
    scope = "survey"
    rate_setting = "HELPDESK_SURVEY_RATE_LIMIT"
    default_rate = "60/min"


def _problem(request: HttpRequest, *, title: str, problem: str, status: int) -> HttpResponse:
    return render(request, "metrics/survey/problem.html", {"title": title, "problem": problem}, status=status)


def public_survey_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Rate-limited per client address (a token guesser gets 429s, not answers)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        throttle = SurveyRateThrottle()
        if not throttle.allow_request(request, None):
            response = _problem(request, title=_("Too many requests"),
                                problem=_("Please wait a moment and try again."), status=429)
            wait = throttle.wait()
            if wait is not None:
                response["Retry-After"] = str(int(wait))
            return response
        return view(request, *args, **kwargs)

    return wrapper


def _invitation_or_problem(request: HttpRequest, token: str) -> SurveyInvitation | HttpResponse:
    try:
        return surveys.survey_invitation_for_answer(token)
    except surveys.SurveyLinkExpired:
        return _problem(
            request, title=_("This survey link has expired"),
            problem=ngettext(
                "Survey links work for %(days)s day. Thank you all the same!",
                "Survey links work for %(days)s days. Thank you all the same!",
                int(settings.HELPDESK_SURVEY_LINK_MAX_AGE_DAYS),
            ) % {"days": settings.HELPDESK_SURVEY_LINK_MAX_AGE_DAYS},
            status=410,
        )
    except surveys.SurveyLinkInvalid:
        return _problem(request, title=_("This survey link is not valid"),
                        problem=_("Please use the link exactly as it is in the email."), status=400)


def _choices(kind: str) -> list[dict[str, Any]]:
    low, high = surveys.SCALES[kind]
    labels = surveys.CSAT_LABELS if kind == SurveyKind.CSAT else surveys.CES_LABELS if kind == SurveyKind.CES else {}
    return [{"score": score, "label": labels.get(score, "")} for score in range(low, high + 1)]


def _optional_int(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return -1  # out of every scale: the service refuses it with its message


def _feedback_page(request: HttpRequest, invitation: SurveyInvitation, token: str, *, errors: Sequence[str] = (),
                   status: int = 200, saved: bool = False) -> HttpResponse:
    answers = surveys.survey_answers(invitation)
    return render(request, "metrics/survey/feedback.html", {
        "invitation": invitation,
        "ticket": invitation.ticket,
        "token": token,
        "answer": answers.get(invitation.kind),
        "ces_answer": answers.get(SurveyKind.CES),
        "choices": _choices(invitation.kind),
        "asks_ces": surveys.survey_asks_ces(invitation),
        "ces_choices": _choices(SurveyKind.CES),
        "errors": errors,
        "saved": saved,
        "max_comment_chars": surveys.MAX_COMMENT_CHARS,
    }, status=status)


@public_survey_view
@require_GET
def survey_rate(request: HttpRequest, token: str, score: int) -> HttpResponse:
    """A one-click link of the mail: record the score (again: nothing new), then the thank-you page."""
    invitation = _invitation_or_problem(request, token)
    if isinstance(invitation, HttpResponse):
        return invitation
    with translation.override(invitation.language or settings.LANGUAGE_CODE):
        try:
            surveys.survey_answer_record(invitation=invitation, kind=invitation.kind, score=score,
                                         source=SurveySource.EMAIL)
        except ValidationError as error:
            return _problem(request, title=_("This survey link is not valid"), problem=" ".join(error.messages),
                            status=400)
    # Redirected, so reloading the thank-you page or sending the form does not click again.
    return redirect("metrics_survey:feedback", token=token)


@public_survey_view
@require_http_methods(["GET", "POST"])
def survey_feedback(request: HttpRequest, token: str) -> HttpResponse:
    """The thank-you page: the score (changeable), an optional comment and, after a CSAT, the CES question."""
    invitation = _invitation_or_problem(request, token)
    if isinstance(invitation, HttpResponse):
        return invitation
    with translation.override(invitation.language or settings.LANGUAGE_CODE):
        if request.method == "GET":
            return _feedback_page(request, invitation, token, saved=request.GET.get("saved") == "1")
        try:
            surveys.survey_feedback_save(
                invitation=invitation,
                score=_optional_int(request.POST.get("score")),
                comment=request.POST.get("comment", ""),
                ces=_optional_int(request.POST.get("ces")),
            )
        except ValidationError as error:
            return _feedback_page(request, invitation, token, errors=error.messages, status=400)
    return redirect(f"{request.path}?saved=1")


@csrf_exempt  # the mail client's one-click unsubscribe (RFC 8058) posts without a form; the token is the authority
@public_survey_view
@require_http_methods(["GET", "POST"])
def survey_opt_out(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (link scanners only GET); POST opts the customer out of all survey mails."""
    try:
        invitation = surveys.survey_invitation_for_opt_out(token)
    except surveys.SurveyLinkInvalid:
        return _problem(request, title=_("This link is not valid"),
                        problem=_("Please use the link exactly as it is in the email."), status=400)
    with translation.override(invitation.language or settings.LANGUAGE_CODE):
        done = False
        if request.method == "POST":
            surveys.survey_opt_out(customer=invitation.customer)
            done = True
        return render(request, "metrics/survey/opt_out.html", {
            "token": token, "done": done, "opted_out": done or surveys.survey_opted_out(invitation.customer_id),
        })


@portal_view
@require_POST
def portal_rate(request: HttpRequest, number: int) -> HttpResponse:
    """The requester's rating of their solved request in the portal (changeable)."""
    ticket = selectors.ticket_get(user=request.user, number=number)
    customer = permissions.customer_of(request.user)
    score = _optional_int(request.POST.get("score"))
    try:
        if customer is None or score is None:
            raise ValidationError(_("Choose a rating first."))
        surveys.survey_ticket_rate(ticket=ticket, customer=customer, score=score,
                                   comment=request.POST.get("comment", ""), source=SurveySource.PORTAL)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, _("Thank you for rating our support."))
    return redirect("portal:ticket", number=ticket.number)
