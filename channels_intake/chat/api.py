"""The chat widget's HTTP API at /api/v1/chat/: thin views over the chat services.

Called from other sites' pages, so:
- CORS only for the widget's allowed origins (and our own site): preflights answered, the
  `Authorization` and `Content-Type` headers allowed, never credentials. A request from any other
  origin is refused (403) and carries no CORS header, so the browser would not show it anyway.
- No cookies, no session: a visitor proves who they are with the visitor token of their chat
  (`Authorization: Bearer <token>`), which opens that chat and no other (404 for any other, the
  same answer as for a chat that does not exist). CSRF does not apply to such token calls.
- Every call is rate limited per address (HELPDESK_CHAT_API_RATE_LIMIT).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_intake.chat import files, selectors, services
from channels_intake.chat.models import Chat, ChatEndReason, ChatWidget
from channels_intake.chat.tokens import visitor_token_issue
from helpdesk.throttling import PerAddressRateThrottle
from tickets.services import incoming_from_upload
from tickets.services.attachments import max_upload_bytes, validate_upload_size

CORS_MAX_AGE_SECONDS = 600
MAX_FILES_PER_MESSAGE = 5


class ChatApiThrottle(PerAddressRateThrottle):
    """Widget calls per client address (HELPDESK_CHAT_API_RATE_LIMIT, read when used)."""

    scope = "chat_widget"
    rate_setting = "HELPDESK_CHAT_API_RATE_LIMIT"
    default_rate = "120/min"


class OriginNotAllowed(exceptions.PermissionDenied):
    default_detail = _("This website may not use this chat.")
    default_code = "origin_not_allowed"


class ChatNotFound(exceptions.NotFound):
    default_detail = _("No such chat.")
    default_code = "not_found"


class ChatConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("This chat cannot do that now.")
    default_code = "conflict"


class WidgetOffline(ChatConflict):
    default_detail = _("Nobody is available to chat right now. Leave a message instead.")
    default_code = "offline"


def _own_origin(request: Request) -> str:
    return f"{request.scheme}://{request.get_host()}"


class WidgetApiView(APIView):
    """CORS, throttling and token access shared by the widget endpoints."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ChatApiThrottle]
    allowed_methods_cors = "GET, POST, OPTIONS"

    def widget_for_cors(self, request: Request, **kwargs: Any) -> ChatWidget | None:
        raise NotImplementedError

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.cors_origin = ""
        origin = request.headers.get("Origin", "")
        if not origin:
            # Not a cross-origin browser call (a same-origin GET, a server); nothing to allow.
            return
        widget = self.widget_for_cors(request, **kwargs)
        if widget is None:
            raise ChatNotFound
        if not selectors.origin_allowed(widget=widget, origin=origin, own_origin=_own_origin(request)):
            raise OriginNotAllowed
        self.cors_origin = origin

    def get_authenticate_header(self, request: Request) -> str:
        # 401 (not 403) for a missing or bad visitor token: the widget starts a new chat then.
        return 'Bearer realm="chat"'

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if getattr(self, "cors_origin", ""):
            response["Access-Control-Allow-Methods"] = self.allowed_methods_cors
            response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response["Access-Control-Max-Age"] = str(CORS_MAX_AGE_SECONDS)
        return response

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = getattr(self, "cors_origin", "")
        if origin:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = "Retry-After"
        response["Vary"] = ", ".join(filter(None, [response.get("Vary", ""), "Origin"]))
        response["Cache-Control"] = "no-store"
        return response

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.ChatRateLimited):
            exc = exceptions.Throttled(wait=60, detail=exc.messages[0])
        elif isinstance(exc, services.ChatEnded | services.ChatUnavailable):
            exc = ChatConflict(detail=exc.messages[0], code=exc.code or "conflict")
        return super().handle_exception(exc)


class WidgetKeyView(WidgetApiView):
    def widget_for_cors(self, request: Request, **kwargs: Any) -> ChatWidget | None:
        widget = selectors.widget_by_key(kwargs.get("key", ""))
        self.widget = widget
        return widget

    def get_widget(self) -> ChatWidget:
        widget = getattr(self, "widget", None) or selectors.widget_by_key(self.kwargs.get("key", ""))
        if widget is None:
            raise exceptions.NotFound(_("No such chat widget."))
        return widget


class ChatTokenView(WidgetApiView):
    """Endpoints of one chat: the Bearer token must be that chat's."""

    def widget_for_cors(self, request: Request, **kwargs: Any) -> ChatWidget | None:
        # A preflight carries no token: the chat's widget answers for its origins.
        chat = Chat.objects.select_related("widget").filter(pk=kwargs.get("chat_id"), widget__is_active=True).first()
        return chat.widget if chat is not None else None

    def get_chat(self, request: Request) -> Chat:
        scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise exceptions.NotAuthenticated(_("Send the chat's visitor token."))
        chat = selectors.chat_for_token(token.strip(), chat_id=self.kwargs["chat_id"])
        if chat is None:
            if selectors.visitor_token_claims(token.strip()) is None:
                raise exceptions.AuthenticationFailed(_("Invalid or expired visitor token."))
            raise ChatNotFound
        return chat


def _websocket_url(request: Request, token: str) -> str:
    base = (settings.HELPDESK_WEBSOCKET_URL or "").rstrip("/")
    if not base:
        base = f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}"
    return f"{base}/ws/chat/visitor/?token={token}"


def _chat_body(chat: Chat) -> dict[str, Any]:
    position, wait = services.chat_queue_position(chat=chat)
    return {
        "chat": chat.pk,
        "state": chat.state,
        "agent_name": chat.agent.name if chat.agent_id is not None and chat.agent is not None else "",
        "position": position or None,
        "estimated_wait": wait if position else None,
        "end_reason": chat.end_reason,
        "rating": chat.rating,
    }


# --- serializers -------------------------------------------------------------------------------


class StartSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    question = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=True)
    language = serializers.CharField(max_length=35, required=False, allow_blank=True, default="")
    deflect = serializers.BooleanField(required=False, default=True)
    visitor_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    # The script tag's data-team: the widget's team or one of its other teams, else refused (400).
    team = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    # The custom pre-chat answers, by the keys of the widget's `custom` rules.
    fields = serializers.DictField(required=False, default=dict)


class RatingSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class TranscriptSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class OfflineSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254)
    message = serializers.CharField(trim_whitespace=True)
    language = serializers.CharField(max_length=35, required=False, allow_blank=True, default="")
    team = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class EndSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=[ChatEndReason.VISITOR_LEFT], required=False,
                                     default=ChatEndReason.VISITOR_LEFT)


# --- views -------------------------------------------------------------------------------------


class WidgetApi(WidgetKeyView):
    @extend_schema(operation_id="chat_widget", summary="A chat widget's settings and whether anyone is online",
                   tags=["chat"], responses={200: dict})
    def get(self, request: Request, key: str) -> Response:
        widget = self.get_widget()
        team = services.chat_team(widget=widget, slug=request.query_params.get("team", ""))
        return Response({
            "online": services.widget_is_online(widget=widget, team=team),
            "greeting": widget.greeting if isinstance(widget.greeting, dict) else {},
            "prechat_fields": widget.prechat_fields,
            "deflection_enabled": widget.deflection_enabled,
            "team": team.name,
            "max_upload_bytes": max_upload_bytes(),
            "max_message_chars": int(getattr(settings, "HELPDESK_CHAT_MAX_MESSAGE_CHARS", 4000)),
        })


class ChatStartApi(WidgetKeyView):
    @extend_schema(operation_id="chat_start", summary="Start a chat", tags=["chat"], request=StartSerializer,
                   responses={201: dict})
    def post(self, request: Request, key: str) -> Response:
        widget = self.get_widget()
        body = StartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        team = services.chat_team(widget=widget, slug=data["team"])
        deflect = bool(data["deflect"]) and widget.deflection_enabled and bool(data["question"].strip())
        if not deflect and not services.widget_is_online(widget=widget, team=team):
            raise WidgetOffline
        chat = services.chat_start(
            widget=widget, visitor_id=data["visitor_id"] or uuid.uuid4(), name=data["name"], email=data["email"],
            question=data["question"], language=data["language"], origin=request.headers.get("Origin", ""),
            deflect=deflect, team=team, fields=data["fields"],
        )
        token = visitor_token_issue(chat=chat)
        chat = Chat.objects.select_related("ticket", "agent").get(pk=chat.pk)
        return Response({**_chat_body(chat), "token": token, "visitor_id": str(chat.visitor_id),
                         "ws_url": _websocket_url(request, token)}, status=status.HTTP_201_CREATED)


class ChatApi(ChatTokenView):
    @extend_schema(operation_id="chat_read", summary="The chat's state", tags=["chat"], responses={200: dict})
    def get(self, request: Request, chat_id: int) -> Response:
        return Response(_chat_body(self.get_chat(request)))


class ChatHumanApi(ChatTokenView):
    @extend_schema(operation_id="chat_request_human", summary="Talk to a person", tags=["chat"], request=None,
                   responses={200: dict})
    def post(self, request: Request, chat_id: int) -> Response:
        chat = self.get_chat(request)
        if chat.state == "deflecting" and not services.widget_is_online(widget=chat.widget, team=chat.ticket.team):
            raise WidgetOffline
        chat = services.chat_request_human(chat=chat)
        return Response(_chat_body(Chat.objects.select_related("ticket", "agent").get(pk=chat.pk)))


class ChatDeflectedApi(ChatTokenView):
    @extend_schema(operation_id="chat_deflected", summary="An article answered the question", tags=["chat"],
                   request=None, responses={200: dict})
    def post(self, request: Request, chat_id: int) -> Response:
        chat = services.chat_mark_deflected(chat=self.get_chat(request))
        return Response(_chat_body(chat))


class ChatEndApi(ChatTokenView):
    @extend_schema(operation_id="chat_end", summary="The visitor leaves the chat", tags=["chat"],
                   request=EndSerializer, responses={200: dict})
    def post(self, request: Request, chat_id: int) -> Response:
        chat = self.get_chat(request)
        body = EndSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # The visitor leaving does not settle the question: the ticket stays open for the team.
        chat = services.chat_end(chat=chat, actor=None, reason=body.validated_data["reason"], solve=False)
        return Response(_chat_body(chat))


class ChatRatingApi(ChatTokenView):
    @extend_schema(operation_id="chat_rate", summary="Rate the chat (1-5)", tags=["chat"], request=RatingSerializer,
                   responses={200: dict})
    def post(self, request: Request, chat_id: int) -> Response:
        chat = self.get_chat(request)
        body = RatingSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            chat = services.chat_rate(chat=chat, rating=body.validated_data["rating"],
                                      comment=body.validated_data["comment"])
        except DjangoValidationError as error:
            if getattr(error, "code", "") == "not_rated_yet":
                raise ChatConflict(detail=error.messages[0], code="not_rated_yet") from None
            raise
        return Response({"rating": chat.rating, "comment": chat.rating_comment})


class ChatTranscriptApi(ChatTokenView):
    @extend_schema(operation_id="chat_transcript", summary="Mail the transcript", tags=["chat"],
                   request=TranscriptSerializer, responses={202: None})
    def post(self, request: Request, chat_id: int) -> Response:
        chat = self.get_chat(request)
        body = TranscriptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.chat_transcript_send(chat=chat, email=body.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class ChatMessagesApi(ChatTokenView):
    @extend_schema(operation_id="chat_messages", summary="The chat's public messages after an id", tags=["chat"],
                   responses={200: dict})
    def get(self, request: Request, chat_id: int) -> Response:
        chat = self.get_chat(request)
        try:
            after = max(0, int(request.query_params.get("after", "0") or 0))
        except ValueError:
            raise exceptions.ValidationError({"after": [_("A message id.")]}) from None
        messages = selectors.chat_public_messages(chat=chat, after=after).prefetch_related("attachments")
        return Response({
            "messages": [files.message_payload(chat=chat, message=message) for message in messages],
            **_chat_body(chat),
        })


class ChatFilesApi(ChatTokenView):
    """A visitor's message with files (multipart: client_id, body, files), held to the tickets' upload limits."""

    @extend_schema(operation_id="chat_files", summary="Send files in the chat", tags=["chat"], request=None,
                   responses={201: dict})
    def post(self, request: Request, chat_id: int) -> Response:
        chat = self.get_chat(request)
        uploads = request.FILES.getlist("files")
        if not uploads:
            raise exceptions.ValidationError({"files": [_("Attach a file.")]})
        if len(uploads) > MAX_FILES_PER_MESSAGE:
            raise exceptions.ValidationError({"files": [_("At most %(count)s files at once.") % {
                "count": MAX_FILES_PER_MESSAGE}]})
        for upload in uploads:
            validate_upload_size(upload.size)
        message, created = services.chat_visitor_message(
            chat=chat, client_id=str(request.data.get("client_id", "")), body=str(request.data.get("body", "")),
            files=[incoming_from_upload(upload) for upload in uploads],
        )
        payload = files.message_payload(chat=chat, message=message)
        return Response(payload, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class OfflineMessageApi(WidgetKeyView):
    @extend_schema(operation_id="chat_offline_message", summary="Leave a message while nobody is online",
                   tags=["chat"], request=OfflineSerializer, responses={201: dict})
    def post(self, request: Request, key: str) -> Response:
        widget = self.get_widget()
        body = OfflineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        team = services.chat_team(widget=widget, slug=data.pop("team"))
        message = services.chat_offline_message(widget=widget, team=team, **data)
        return Response({"ticket": message.ticket.number}, status=status.HTTP_201_CREATED)
