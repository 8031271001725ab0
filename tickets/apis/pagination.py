"""Cursor pagination for API lists: {"next": url|null, "previous": url|null, "results": [...]}.

Tickets use the keyset pages of `tickets.selectors.ticket_page` (stable under concurrent updates,
as fast on the last page as on the first); short lists of other objects use DRF's cursor pagination.
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from tickets.selectors import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, InvalidQuery, TicketPage

CURSOR_PARAM = "cursor"
PAGE_SIZE_PARAM = "page_size"


def requested_page_size(request: Request, *, default: int = PAGE_SIZE_DEFAULT, maximum: int = PAGE_SIZE_MAX) -> int:
    raw = request.query_params.get(PAGE_SIZE_PARAM)
    if raw in (None, ""):
        return default
    try:
        size = int(raw)
    except ValueError:
        raise InvalidQuery(f"{PAGE_SIZE_PARAM}: expected a number") from None
    if size < 1:
        raise InvalidQuery(f"{PAGE_SIZE_PARAM}: must be at least 1")
    return min(size, maximum)


def page_link(request: Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return replace_query_param(request.build_absolute_uri(), CURSOR_PARAM, cursor)


def ticket_page_response(request: Request, page: TicketPage, results: list[dict[str, Any]]) -> Response:
    return Response({
        "next": page_link(request, page.next_cursor),
        "previous": page_link(request, page.previous_cursor),
        "results": results,
    })


class StandardCursorPagination(CursorPagination):
    """DRF's cursor pagination with a `page_size` parameter; subclasses set `ordering`."""

    page_size = PAGE_SIZE_DEFAULT
    page_size_query_param = PAGE_SIZE_PARAM
    max_page_size = PAGE_SIZE_MAX
    cursor_query_param = CURSOR_PARAM


class NameCursorPagination(StandardCursorPagination):
    ordering = ("name", "id")


class IdCursorPagination(StandardCursorPagination):
    ordering = ("id",)


class MessageCursorPagination(StandardCursorPagination):
    page_size = 100
    ordering = ("created_at", "id")


__all__ = [
    "IdCursorPagination",
    "MessageCursorPagination",
    "NameCursorPagination",
    "StandardCursorPagination",
    "page_link",
    "requested_page_size",
    "ticket_page_response",
]
