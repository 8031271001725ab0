"""One error body for the whole API: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tickets.selectors import InvalidQuery
from tickets.transitions import TransitionNotAllowed


def _convert(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        detail: Any = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return exceptions.ValidationError(detail)
    if isinstance(exc, TransitionNotAllowed):
        return exceptions.ValidationError({"status": [str(exc)]})
    if isinstance(exc, InvalidQuery):
        # Selectors word these "<parameter>: <problem>"; report them under the parameter's name.
        parameter, _separator, problem = str(exc).partition(":")
        if problem and parameter.isidentifier():
            return exceptions.ValidationError({parameter: [problem.strip()]})
        return exceptions.ValidationError({"query": [str(exc)]})
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _convert(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    fields = None
    message = ""
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        message = str(_("Invalid input."))
        code = "invalid"
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        message = str(detail)
        code = getattr(detail, "code", code) or code
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if fields is not None:
        body["error"]["fields"] = fields
    response.data = body
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS and "Retry-After" not in response:
        response["Retry-After"] = "60"
    return response
