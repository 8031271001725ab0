"""API tokens: exchange a username (or a customer's email) and password for a per-user token."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.middleware import client_ip
from helpdesk.throttling import LoginRateThrottle
from tickets.apis.serializers import ErrorSerializer, TokenRequestSerializer, TokenResponseSerializer
from tickets.services import accounts


class InvalidCredentials(exceptions.APIException):
    # One answer for an unknown account, a wrong password and a disabled account: no enumeration.
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("Unable to sign in with these credentials.")
    default_code = "invalid_credentials"


class TokenObtainApi(APIView):
    # No session authentication here: a login form must not depend on (or be confused by) a cookie.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        operation_id="auth_token_create",
        summary="Get an API token",
        description="Staff sign in with their username, customers with their email address. The same token is "
                    "returned until it is revoked. Attempts are rate limited per client address, and repeated "
                    "failures lock the username and the address out for a while (with the same answer as "
                    "wrong credentials).",
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Invalid credentials (the same for every reason)."),
            429: OpenApiResponse(ErrorSerializer, description="Too many attempts; see Retry-After."),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"].strip()
        password = serializer.validated_data["password"]
        # The same lockout as the sign-in page: failures per username and per address, counted atomically.
        attempt = accounts.login_attempt_begin(username=username, ip=client_ip(request._request))
        user = None
        if attempt.allowed:
            user = authenticate(request._request, username=username, password=password)
        else:
            # As much work as a real check, and the same answer: a lockout tells nothing about the account.
            make_password(password)
        if user is None or not user.is_active:
            raise InvalidCredentials
        accounts.login_attempt_succeeded(attempt)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
