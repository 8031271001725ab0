"""Tickets: list (filtered, cursor-paginated), create, retrieve, partial update, merge."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status as http_status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import permissions
from tickets import selectors, services
from tickets.apis import common
from tickets.apis.pagination import requested_page_size, ticket_page_response
from tickets.apis.serializers import (
    TICKET_ROW_COLUMNS,
    ErrorSerializer,
    TicketCreateSerializer,
    TicketMergeSerializer,
    TicketPageSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
    ticket_row_data,
)
from tickets.models import Channel, Customer, Priority, Ticket, TicketType
from tickets.services.customers import customer_find_or_create

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input, filter, sort or cursor."),
    403: OpenApiResponse(ErrorSerializer, description="Not allowed for your role."),
    404: OpenApiResponse(ErrorSerializer, description="No such ticket, or not one you may see."),
    429: OpenApiResponse(ErrorSerializer, description="Rate limit reached; see Retry-After."),
}
NUMBER_PARAMETER = OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH,
                                    description="The ticket number.")


def _list_parameter(name: str, description: str, **kwargs: Any) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=description, **kwargs)


LIST_PARAMETERS = [
    _list_parameter("status", "Comma-separated statuses; `unsolved` means new, open, pending and on hold."),
    _list_parameter("team", "Comma-separated team ids; `none` for tickets without a team."),
    _list_parameter("assignee", "Comma-separated user ids; `me`; `none` for unassigned."),
    _list_parameter("priority", "Comma-separated priorities."),
    _list_parameter("channel", "Comma-separated channels."),
    _list_parameter("type", "Comma-separated ticket types."),
    _list_parameter("tag", "Comma-separated tags; a ticket must carry all of them."),
    _list_parameter("requester", "A customer id."),
    _list_parameter("organization", "An organization id."),
    _list_parameter("sla", "`breaching`: tickets whose nearest running SLA target is due within the hour or "
                    "overdue (staff). Sort `due` lists the nearest due first, tickets without one last."),
    OpenApiParameter("updated_after", OpenApiTypes.DATETIME, OpenApiParameter.QUERY,
                     description="Only tickets updated after this ISO 8601 date-time."),
    OpenApiParameter("created_after", OpenApiTypes.DATETIME, OpenApiParameter.QUERY,
                     description="Only tickets created after this ISO 8601 date-time."),
    _list_parameter("q", "Search subjects and message texts (all words must match); `#123` finds a number."),
    _list_parameter("sort", "One of " + ", ".join(selectors.SORT_FIELDS) + "; prefix `-` for descending. "
                    f"Default `{selectors.DEFAULT_SORT}`."),
    _list_parameter("cursor", "The opaque cursor from `next` or `previous`."),
    OpenApiParameter("page_size", OpenApiTypes.INT, OpenApiParameter.QUERY,
                     description=f"Rows per page, 1–{selectors.PAGE_SIZE_MAX} (default {selectors.PAGE_SIZE_DEFAULT})."),
]


def ticket_context(request: Request) -> dict[str, Any]:
    return {
        "request": request,
        "custom_field_keys": common.visible_custom_field_keys(request),
        "link": common.ticket_link_template(request),
    }


def ticket_response(request: Request, ticket: Ticket, *, status: int = http_status.HTTP_200_OK) -> Response:
    return Response(TicketSerializer(ticket, context=ticket_context(request)).data, status=status)


class TicketListCreateApi(APIView):
    @extend_schema(
        operation_id="tickets_list",
        summary="List tickets",
        description="The tickets you may see (your teams' for agents, your own and — for designated contacts — "
                    "your organization's for customers), filtered and cursor-paginated.",
        parameters=LIST_PARAMETERS,
        responses={200: TicketPageSerializer, **ERRORS},
        tags=["tickets"],
    )
    def get(self, request: Request) -> Response:
        user = common.acting_user(request)
        params = request.query_params
        filters = selectors.TicketFilters.from_params(params, user=user)
        keys, link = common.visible_custom_field_keys(request), common.ticket_link_template(request)
        # SLA targets are for staff (keys None), read in the page's own query.
        page = selectors.ticket_row_page(
            user=user, filters=filters, columns=TICKET_ROW_COLUMNS, sort=params.get("sort"),
            cursor=params.get("cursor") or None, page_size=requested_page_size(request),
            annotations={"sla_targets": selectors.sla_targets_annotation()} if keys is None else None,
        )
        results = [ticket_row_data(row, custom_field_keys=keys, link=link) for row in page.tickets]
        return ticket_page_response(request, page, results)

    @extend_schema(
        operation_id="tickets_create",
        summary="Open a ticket",
        description="Staff open tickets for a requester given by `requester_email` (found or created); customers "
                    "open their own (subject, description, type, a customer-selectable team and customer-visible "
                    "custom fields). The channel is `api`.",
        request={"application/json": TicketCreateSerializer, "multipart/form-data": TicketCreateSerializer},
        responses={201: TicketSerializer, **ERRORS},
        tags=["tickets"],
    )
    def post(self, request: Request) -> Response:
        user = common.acting_user(request)
        serializer = TicketCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        is_staff = permissions.is_staff_member(user)
        requester = None if is_staff else common.customer_of(request)
        if not is_staff and requester is None:
            raise PermissionDenied(_("Your account has no customer profile."))
        # One transaction: a refused ticket (say, a bad custom field) leaves no new contact behind.
        with transaction.atomic():
            if requester is None:
                requester = customer_find_or_create(email=data["requester_email"], name=data.get("requester_name", ""))
            ticket = services.ticket_create(
                requester=requester,
                subject=data["subject"],
                body_text=data.get("description") or None,
                body_html=data.get("description_html") or None,
                channel=Channel.API,
                actor=user,
                team=data.get("team"),
                assignee=data.get("assignee") if is_staff else None,
                priority=data.get("priority") or Priority.NORMAL,
                ticket_type=data.get("type") or TicketType.QUESTION,
                tags=data.get("tags") if is_staff else None,
                custom_fields=data.get("custom_fields") or None,
                customer_fields_only=not is_staff,
                files=[services.incoming_from_upload(upload) for upload in data.get("files") or []],
                via=common.VIA_API,
            )
        if requester.organization_id and Customer.organization.is_cached(requester):
            ticket.organization = requester.organization
        return ticket_response(request, ticket, status=http_status.HTTP_201_CREATED)


class TicketDetailApi(APIView):
    @extend_schema(
        operation_id="tickets_retrieve",
        summary="Get a ticket",
        parameters=[NUMBER_PARAMETER],
        responses={200: TicketSerializer, **ERRORS},
        tags=["tickets"],
    )
    def get(self, request: Request, number: int) -> Response:
        ticket = selectors.ticket_get(user=common.acting_user(request), number=number)
        return ticket_response(request, ticket)

    @extend_schema(
        operation_id="tickets_partial_update",
        summary="Change a ticket",
        description="Staff change any of the fields; customers may only mark their own request `solved` or "
                    "reopen it (`open`). Every change is recorded in the ticket's audit trail.",
        parameters=[NUMBER_PARAMETER],
        request=TicketUpdateSerializer,
        responses={200: TicketSerializer, **ERRORS},
        tags=["tickets"],
    )
    def patch(self, request: Request, number: int) -> Response:
        user = common.acting_user(request)
        ticket = selectors.ticket_get(user=user, number=number)
        if not permissions.is_staff_member(user):
            # Refused before any field is looked up, so nothing about teams or staff can be probed.
            customer = common.customer_of(request)
            if set(request.data) != {"status"} or customer is None or ticket.requester_id != customer.pk:
                raise PermissionDenied(_("Customers can only mark their own request solved or reopen it."))
        serializer = TicketUpdateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "type" in changes:
            changes["ticket_type"] = changes.pop("type")
        ticket = services.ticket_update(ticket=ticket, actor=user, via=common.VIA_API, **changes)
        return ticket_response(request, ticket)


class TicketMergeApi(APIView):
    permission_classes = [*APIView.permission_classes, common.IsStaffMember]

    @extend_schema(
        operation_id="tickets_merge",
        summary="Merge a ticket into another",
        description="Moves this ticket's messages to the ticket `into` and closes this one. Staff only.",
        parameters=[NUMBER_PARAMETER],
        request=TicketMergeSerializer,
        responses={200: TicketSerializer, **ERRORS},
        tags=["tickets"],
    )
    def post(self, request: Request, number: int) -> Response:
        user = common.acting_user(request)
        source = selectors.ticket_get(user=user, number=number)
        serializer = TicketMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        target = selectors.ticket_get(user=user, number=serializer.validated_data["into"])
        target = services.ticket_merge(source=source, target=target, actor=user, via=common.VIA_API)
        return ticket_response(request, target)
