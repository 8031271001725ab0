"""The phone channel's webhooks, mounted under /api/v1/intake/phone/.

- `events/`: call events in our documented JSON, signed with HMAC-SHA256 (channels_intake.phone.signatures).
- `twilio/status/`: Twilio's voice status callback (form-encoded, `X-Twilio-Signature`).

No user or token signs in here: the signature is the authentication, checked before the body is
read as data. Both are rate limited per client address (HELPDESK_PHONE_WEBHOOK_RATE_LIMIT), forged
requests included. Each answers 200 with the call's state whether the event was new or a retry
(a provider stops retrying on 2xx), so retries and replays within the window change nothing.
"""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_intake.phone import services
from channels_intake.phone.models import CallDirection, CallProvider, CallState
from channels_intake.phone.signatures import generic_signature_valid, twilio_signature_valid
from helpdesk.throttling import PerAddressRateThrottle
from tickets.apis.serializers import ErrorSerializer

MAX_BODY_BYTES = 64 * 1024


class PhoneWebhookThrottle(PerAddressRateThrottle):
    """Webhook calls per client address (HELPDESK_PHONE_WEBHOOK_RATE_LIMIT, read when used)."""

    scope = "phone_webhook"
    rate_setting = "HELPDESK_PHONE_WEBHOOK_RATE_LIMIT"
    default_rate = "600/min"


class SignatureInvalid(exceptions.AuthenticationFailed):
    default_detail = _("Invalid or expired signature.")
    default_code = "bad_signature"


class PhoneWebhookNotConfigured(exceptions.AuthenticationFailed):
    default_detail = _("This webhook is not configured.")
    default_code = "not_configured"


class CallEventSerializer(serializers.Serializer):
    """One call event. `from` and `to` are numbers as the telephony has them (normalised to E.164
    with HELPDESK_PHONE_DEFAULT_REGION for numbers without a country code)."""

    call_id = serializers.CharField(max_length=128, help_text="The telephony's id of the call (the same in all its events).")
    event = serializers.ChoiceField(
        choices=CallState.values,
        help_text="ringing, answered, ended (a connected call hung up), missed (never answered) or voicemail.",
    )
    direction = serializers.ChoiceField(choices=CallDirection.values, default=CallDirection.INBOUND)
    from_number = serializers.CharField(max_length=64, allow_blank=True, default="", help_text="The caller.")
    to_number = serializers.CharField(max_length=64, allow_blank=True, default="", help_text="The number called.")
    caller_name = serializers.CharField(max_length=200, allow_blank=True, default="")
    agent_extension = serializers.CharField(
        max_length=32, allow_blank=True, default="", help_text="The extension the call rings or was answered at."
    )
    agent = serializers.CharField(
        max_length=254, allow_blank=True, default="", help_text="Or the agent's username or email address."
    )
    team = serializers.SlugField(allow_blank=True, default="", help_text="The team's slug (default: the agent's team).")
    occurred_at = serializers.DateTimeField(required=False, help_text="When this event happened (default: now).")
    duration = serializers.IntegerField(
        min_value=0, required=False, allow_null=True, help_text="Seconds talked (ended) or recorded (voicemail)."
    )
    recording_url = serializers.URLField(max_length=1000, allow_blank=True, default="")
    transcript = serializers.CharField(max_length=20000, allow_blank=True, default="", trim_whitespace=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword: the fields are declared as from_number/to_number and renamed.
        fields = super().get_fields()
        fields["from"] = fields.pop("from_number")
        fields["to"] = fields.pop("to_number")
        return fields


class CallEventResultSerializer(serializers.Serializer):
    call = serializers.IntegerField(help_text="Our id of the call.")
    state = serializers.CharField(help_text="The call's state after this event.")
    duplicate = serializers.BooleanField(help_text="This event of this call was received before; nothing changed.")
    ticket = serializers.IntegerField(allow_null=True, help_text="The number of the ticket the call is on, if any.")


def _result(outcome: services.CallEventOutcome) -> dict[str, Any]:
    call = outcome.call
    ticket_number = None
    if call.ticket_id is not None:
        from tickets.models import Ticket

        ticket_number = Ticket.objects.filter(pk=call.ticket_id).values_list("number", flat=True).first()
    return {"call": call.pk, "state": call.state, "duplicate": outcome.is_duplicate, "ticket": ticket_number}


def _route(*, extension: str, agent: str, team: str) -> tuple[Any, Any]:
    routed_agent = services.agent_for_route(extension=extension, user=agent)
    routed_team = services.phone_team(slug=team, agent=routed_agent) if team or routed_agent else None
    return routed_agent, routed_team


class PhoneWebhookView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [PhoneWebhookThrottle]

    def get_authenticate_header(self, request: Request) -> str:
        # A refused signature is a 401 (DRF answers 403 when no scheme is named).
        return 'Signature realm="phone"'

    def _raw_body(self, request: Request) -> bytes:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BODY_BYTES:
            raise exceptions.ValidationError({"body": [_("The event is too large.")]})
        return request._request.body


class PhoneEventsApi(PhoneWebhookView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="intake_phone_event",
        summary="Report a call event",
        description=(
            "One event of a call: `ringing` pops the call up in the workspace of the agent it rings "
            "(`agent_extension` or `agent`) or else of its team; `ended` puts the call on a new phone "
            "ticket (or on the ticket the agent logged it on); `missed` and `voicemail` open a callback "
            "ticket (tag `callback`) with the recording and transcript. Events are idempotent on "
            "(call_id, event) and may arrive in any order.\n\n"
            "Signed: `X-Helpdesk-Timestamp` is the Unix time in seconds and `X-Helpdesk-Signature` is "
            "`sha256=` followed by the hex HMAC-SHA256, keyed with HELPDESK_PHONE_WEBHOOK_SECRET, of the "
            "timestamp, a dot and the raw body. Timestamps more than 5 minutes from now are refused."
        ),
        request=CallEventSerializer,
        parameters=[
            OpenApiParameter("X-Helpdesk-Timestamp", OpenApiTypes.INT, OpenApiParameter.HEADER, required=True,
                             description="Unix time (seconds) the request was signed."),
            OpenApiParameter("X-Helpdesk-Signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                             description="`sha256=<hex HMAC-SHA256 of '<timestamp>.<body>'>`."),
        ],
        examples=[
            OpenApiExample("Ringing", request_only=True, value={
                "call_id": "pbx-1764653370.42", "event": "ringing", "direction": "inbound",
                "from": "+8613812345678", "to": "4008001234", "agent_extension": "101",
                "occurred_at": "2026-12-02T05:29:30Z",
            }),
            OpenApiExample("Voicemail", request_only=True, value={
                "call_id": "pbx-1764653370.43", "event": "voicemail", "from": "13812345678", "team": "support",
                "duration": 21, "recording_url": "https://pbx.example.com/vm/43.wav",
                "transcript": "Hi, please call me back about my order.",
            }),
        ],
        responses={
            200: CallEventResultSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Not a valid event."),
            401: OpenApiResponse(ErrorSerializer, description="Missing, wrong or expired signature."),
            429: OpenApiResponse(ErrorSerializer, description="Too many requests from this address."),
        },
        tags=["intake"],
    )
    def post(self, request: Request) -> Response:
        body = self._raw_body(request)
        secrets = [secret.strip() for secret in str(settings.HELPDESK_PHONE_WEBHOOK_SECRET or "").split(",")]
        secrets = [secret for secret in secrets if secret]
        if not secrets:
            raise PhoneWebhookNotConfigured()
        if not generic_signature_valid(
            secrets=secrets, timestamp=request.headers.get("X-Helpdesk-Timestamp", ""),
            signature=request.headers.get("X-Helpdesk-Signature", ""), body=body,
            tolerance_seconds=int(settings.HELPDESK_PHONE_SIGNATURE_TOLERANCE_SECONDS),
        ):
            raise SignatureInvalid()
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise exceptions.ParseError(_("The body is not JSON.")) from None
        serializer = CallEventSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        event = serializer.validated_data
        agent, team = _route(extension=event["agent_extension"], agent=event["agent"], team=event["team"])
        outcome = services.call_event_record(
            provider=CallProvider.GENERIC, call_id=event["call_id"], event=event["event"],
            occurred_at=event.get("occurred_at") or timezone.now(), direction=event["direction"],
            from_number=event["from"], to_number=event["to"], agent=agent, team=team,
            duration_seconds=event.get("duration"), recording_url=event["recording_url"],
            transcript=event["transcript"], caller_name=event["caller_name"], payload=data,
        )
        return Response(_result(outcome), status=status.HTTP_200_OK)


# Twilio's CallStatus values and the event each one is for us; statuses before the phone rings
# (queued, initiated) are acknowledged and ignored.
TWILIO_STATUS_EVENTS = {
    "ringing": CallState.RINGING,
    "in-progress": CallState.ANSWERED,
    "completed": CallState.ENDED,
    "busy": CallState.MISSED,
    "no-answer": CallState.MISSED,
    "failed": CallState.MISSED,
    "canceled": CallState.MISSED,
}
# A <Dial> that nobody answered, then a <Record>: the call "completed" on a voicemail.
TWILIO_UNANSWERED_DIAL = frozenset({"busy", "no-answer", "failed", "canceled"})


class TwilioStatusParamsSerializer(serializers.Serializer):
    """The form fields of Twilio's status callback that are read (others are accepted and kept)."""

    CallSid = serializers.CharField(max_length=128)
    CallStatus = serializers.CharField(max_length=32, required=False)
    From = serializers.CharField(max_length=64, required=False, allow_blank=True)
    To = serializers.CharField(max_length=64, required=False, allow_blank=True)
    Direction = serializers.CharField(max_length=32, required=False, allow_blank=True)
    CallDuration = serializers.IntegerField(min_value=0, required=False)
    RecordingUrl = serializers.URLField(max_length=1000, required=False, allow_blank=True)
    RecordingDuration = serializers.IntegerField(min_value=0, required=False)
    TranscriptionText = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    DialCallStatus = serializers.CharField(max_length=32, required=False, allow_blank=True)
    CallerName = serializers.CharField(max_length=200, required=False, allow_blank=True)
    Timestamp = serializers.CharField(max_length=64, required=False, allow_blank=True)


def twilio_event(params: dict[str, Any], *, voicemail_flag: bool) -> str | None:
    """Which of our events a Twilio callback reports (None: nothing for us)."""
    status_value = (params.get("CallStatus") or "").lower()
    recorded = bool(params.get("RecordingUrl"))
    if recorded and (voicemail_flag or (params.get("DialCallStatus") or "").lower() in TWILIO_UNANSWERED_DIAL):
        return CallState.VOICEMAIL
    return TWILIO_STATUS_EVENTS.get(status_value)


def _twilio_time(value: str) -> Any:
    try:
        parsed = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        parsed = None
    return parsed if parsed is not None and parsed.tzinfo is not None else timezone.now()


class TwilioStatusApi(PhoneWebhookView):
    parser_classes = [FormParser]

    @extend_schema(
        operation_id="intake_phone_twilio_status",
        summary="Twilio voice status callback",
        description=(
            "Point a Twilio number's status callback (events: initiated, ringing, answered, completed) "
            "and, for voicemail, the recording status callback with `?voicemail=1` here. The request "
            "must carry a valid `X-Twilio-Signature` for HELPDESK_PHONE_TWILIO_AUTH_TOKEN, computed "
            "over the full URL as configured in Twilio. Query parameters of the configured URL route "
            "the call: `agent_extension`, `agent` (username or email), `team` (slug)."
        ),
        request={"application/x-www-form-urlencoded": TwilioStatusParamsSerializer},
        parameters=[
            OpenApiParameter("X-Twilio-Signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("agent_extension", OpenApiTypes.STR, OpenApiParameter.QUERY),
            OpenApiParameter("agent", OpenApiTypes.STR, OpenApiParameter.QUERY),
            OpenApiParameter("team", OpenApiTypes.STR, OpenApiParameter.QUERY),
            OpenApiParameter("voicemail", OpenApiTypes.BOOL, OpenApiParameter.QUERY,
                             description="This URL is the voicemail box's recording callback."),
        ],
        responses={
            200: CallEventResultSerializer,
            204: OpenApiResponse(description="A status before ringing (queued, initiated): nothing to record."),
            400: OpenApiResponse(ErrorSerializer, description="Not a status callback."),
            401: OpenApiResponse(ErrorSerializer, description="Missing or wrong X-Twilio-Signature."),
            429: OpenApiResponse(ErrorSerializer, description="Too many requests from this address."),
        },
        tags=["intake"],
    )
    def post(self, request: Request) -> Response:
        self._raw_body(request)
        auth_token = str(settings.HELPDESK_PHONE_TWILIO_AUTH_TOKEN or "")
        if not auth_token:
            raise PhoneWebhookNotConfigured()
        form = request._request.POST
        pairs = [(name, value) for name in form for value in form.getlist(name)]
        if not twilio_signature_valid(
            auth_token=auth_token, url=request.build_absolute_uri(), params=pairs,
            signature=request.headers.get("X-Twilio-Signature", ""),
        ):
            raise SignatureInvalid()
        serializer = TwilioStatusParamsSerializer(data=form.dict())
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        query = request.query_params
        event = twilio_event(params, voicemail_flag=query.get("voicemail", "") in ("1", "true", "yes"))
        if event is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        agent, team = _route(
            extension=query.get("agent_extension", ""), agent=query.get("agent", ""), team=query.get("team", "")
        )
        direction = (
            CallDirection.OUTBOUND if (params.get("Direction") or "").lower().startswith("outbound")
            else CallDirection.INBOUND
        )
        duration = params.get("RecordingDuration") if event == CallState.VOICEMAIL else params.get("CallDuration")
        outcome = services.call_event_record(
            provider=CallProvider.TWILIO, call_id=params["CallSid"], event=event,
            occurred_at=_twilio_time(params.get("Timestamp", "")), direction=direction,
            from_number=params.get("From", ""), to_number=params.get("To", ""), agent=agent, team=team,
            duration_seconds=duration, recording_url=params.get("RecordingUrl", ""),
            transcript=params.get("TranscriptionText", ""), caller_name=params.get("CallerName", ""),
            payload=form.dict(),
        )
        return Response(_result(outcome), status=status.HTTP_200_OK)
