"""The HTTP door of the email intake: `POST /api/v1/intake/email/` with one raw MIME message.

For mail relays (a Postfix pipe, a cloud provider's inbound route). The same storage-first rule as
the SMTP listener: 202 only once the raw message is committed; processing follows in the
`email_in` task. Who may post: a relay holding HELPDESK_EMAIL_INTAKE_TOKEN (a secret with no
other power), or an admin. Not agents: a posted mail can speak as any customer.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    TokenAuthentication,
    get_authorization_header,
)
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_intake.models import Door
from channels_intake.services import raw_inbound_store
from helpdesk import permissions
from helpdesk.middleware import client_ip
from tickets.apis.serializers import ErrorSerializer

RAW_MIME_TYPES = ("message/rfc822", "application/octet-stream")


class MailRelayCredential:
    """`request.auth` of a relay that presented the intake token (rate limited as one token)."""

    pk = "email-relay"
    key = "email-relay"


class MailRelayTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <HELPDESK_EMAIL_INTAKE_TOKEN>`; other schemes are left to the next class."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, MailRelayCredential] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        expected = settings.HELPDESK_EMAIL_INTAKE_TOKEN
        presented = header[1].decode("latin-1") if len(header) == 2 else ""
        if not expected or not constant_time_compare(presented, expected):
            raise exceptions.AuthenticationFailed(_("Invalid intake token."))
        return AnonymousUser(), MailRelayCredential()

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class MailRelayTokenScheme(OpenApiAuthenticationExtension):
    target_class = MailRelayTokenAuthentication
    name = "mailRelayToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The secret of HELPDESK_EMAIL_INTAKE_TOKEN, for mail relays.",
        }


class IsMailRelayOrAdmin(BasePermission):
    message = _("Only a mail relay (intake token) or an admin can deliver mail here.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, MailRelayCredential) or permissions.is_admin(request.user)


class RawMimeParser(BaseParser):
    """Declares the accepted types; the view reads the body itself, with its own size limit."""

    media_type = "message/rfc822"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> bytes:
        return stream.read() if stream is not None else b""


class OctetStreamParser(RawMimeParser):
    media_type = "application/octet-stream"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The message is larger than the intake accepts.")
    default_code = "too_large"


class EmailAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The stored inbound message (admin: Inbound messages).")
    state = serializers.CharField(help_text="`received`: stored and queued for processing.")


class EmailIntakeApi(APIView):
    authentication_classes = [MailRelayTokenAuthentication, TokenAuthentication, SessionAuthentication]
    permission_classes = [IsMailRelayOrAdmin]
    parser_classes = [RawMimeParser, OctetStreamParser]

    @extend_schema(
        operation_id="intake_email_create",
        summary="Deliver one raw e-mail",
        description=(
            "The body is the message exactly as received (RFC 5322 bytes), as `message/rfc822` or "
            "`application/octet-stream`. It is stored before the answer (202), then parsed, threaded "
            "and turned into a ticket message in the background; the same Message-ID delivered again "
            "(through any door) adds nothing. Mail that cannot be processed is kept in the failed-mail "
            "inbox of the admin site. `recipient` and `sender` carry the SMTP envelope if the relay "
            "knows it. Authenticate with `Authorization: Bearer <HELPDESK_EMAIL_INTAKE_TOKEN>` or an "
            "admin's API token."
        ),
        request=dict.fromkeys(RAW_MIME_TYPES, OpenApiTypes.BINARY),
        parameters=[
            OpenApiParameter(
                "recipient", OpenApiTypes.STR, OpenApiParameter.QUERY, many=True,
                description="Envelope recipient (RCPT TO); repeat for several.",
            ),
            OpenApiParameter(
                "sender", OpenApiTypes.STR, OpenApiParameter.QUERY, description="Envelope sender (MAIL FROM)."
            ),
        ],
        responses={
            202: EmailAcceptedSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Empty body."),
            401: OpenApiResponse(ErrorSerializer, description="No or a wrong token."),
            403: OpenApiResponse(ErrorSerializer, description="Neither the intake token nor an admin."),
            413: OpenApiResponse(ErrorSerializer, description="Larger than HELPDESK_EMAIL_MAX_BYTES."),
            415: OpenApiResponse(ErrorSerializer, description="Not message/rfc822 or application/octet-stream."),
        },
        tags=["intake"],
    )
    def post(self, request: Request) -> Response:
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        if media_type not in RAW_MIME_TYPES:
            raise exceptions.UnsupportedMediaType(media_type)
        limit = int(settings.HELPDESK_EMAIL_MAX_BYTES)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise PayloadTooLarge()
        # Read here rather than through request.body: that one stops at DATA_UPLOAD_MAX_MEMORY_SIZE (5 MB).
        raw = request._request.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge()
        if not raw.strip():
            raise exceptions.ValidationError({"body": [_("The message is empty.")]})
        row = raw_inbound_store(
            raw=raw,
            door=Door.HTTP,
            envelope_sender=request.query_params.get("sender", ""),
            envelope_recipients=request.query_params.getlist("recipient"),
            remote_addr=client_ip(request._request) or None,
        )
        return Response({"id": row.pk, "state": row.state}, status=status.HTTP_202_ACCEPTED)
