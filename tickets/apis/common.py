"""Pieces every API module shares: who is asking, staff-only permission, links to the HTML pages."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import permissions as drf_permissions
from rest_framework.request import Request

from helpdesk import permissions
from tickets.models import Customer, CustomFieldDefinition, User

VIA_API = "api"
# A number no real ticket has, reversed once per request and swapped for each row's number.
_PLACEHOLDER_NUMBER = 918273645546372819


class IsStaffMember(drf_permissions.BasePermission):
    message = _("Only support staff can use this endpoint.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return permissions.is_staff_member(request.user)


def acting_user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def is_staff(request: Request) -> bool:
    return permissions.is_staff_member(request.user)


def customer_of(request: Request) -> Customer | None:
    return permissions.customer_of(request.user)


def visible_custom_field_keys(request: Request) -> frozenset[str] | None:
    """Keys of custom fields the caller may read; None means all (staff). Cached per request."""
    if is_staff(request):
        return None
    cached = getattr(request, "_helpdesk_visible_field_keys", None)
    if cached is None:
        cached = frozenset(
            CustomFieldDefinition.objects.filter(is_customer_visible=True, applies_to=CustomFieldDefinition.AppliesTo.TICKET).values_list("key", flat=True)
        )
        request._helpdesk_visible_field_keys = cached  # type: ignore[attr-defined]
    return cached


def _path_template(names: tuple[str, ...], fallback: str) -> str:
    for name in names:
        try:
            return reverse(name, kwargs={"number": _PLACEHOLDER_NUMBER})
        except NoReverseMatch:
            continue
    return fallback


def ticket_link_template(request: Request) -> str:
    """An absolute URL of the ticket's HTML page with {number} in place of the number.

    Staff get the agent workspace, customers the portal. Resolved once per request.
    """
    cached = getattr(request, "_helpdesk_ticket_link", None)
    if cached is None:
        if is_staff(request):
            path = _path_template(("agent:ticket",), f"/agent/tickets/{_PLACEHOLDER_NUMBER}/")
        else:
            path = _path_template(("portal:ticket",), f"/portal/requests/{_PLACEHOLDER_NUMBER}/")
        cached = request.build_absolute_uri(path).replace(str(_PLACEHOLDER_NUMBER), "{number}")
        request._helpdesk_ticket_link = cached  # type: ignore[attr-defined]
    return cached


def attachment_link_template(request: Request) -> str | None:
    """An absolute download URL with {id} in place of the attachment id, or None if no download view exists."""
    if hasattr(request, "_helpdesk_attachment_link"):
        return request._helpdesk_attachment_link  # type: ignore[attr-defined, no-any-return]
    link: str | None = None
    # API clients authenticate with a token, which the browser view (a session) would not take.
    for name in ("api:attachment", "attachment_download"):
        try:
            path = reverse(name, kwargs={"attachment_id": _PLACEHOLDER_NUMBER})
        except NoReverseMatch:
            continue
        link = request.build_absolute_uri(path).replace(str(_PLACEHOLDER_NUMBER), "{id}")
        break
    request._helpdesk_attachment_link = link  # type: ignore[attr-defined]
    return link
