"""A ticket's thread: list the messages the caller may see, add a public reply or an internal note."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status as http_status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import permissions
from tickets import selectors, services
from tickets.apis import common
from tickets.apis.pagination import MessageCursorPagination
from tickets.apis.serializers import MessageCreateSerializer, MessagePageSerializer, MessageSerializer
from tickets.apis.tickets import ERRORS, NUMBER_PARAMETER
from tickets.models import Channel, Visibility


def message_context(request: Request, ticket_number: int | None) -> dict[str, Any]:
    return {
        "request": request,
        "attachment_link": common.attachment_link_template(request),
        "ticket_number": ticket_number,
    }


class TicketMessagesApi(APIView):
    pagination_class = MessageCursorPagination

    @extend_schema(
        operation_id="tickets_messages_list",
        summary="A ticket's thread",
        description="Oldest first. Customers get public replies only; staff also get internal notes.",
        parameters=[NUMBER_PARAMETER],
        responses={200: MessagePageSerializer, **ERRORS},
        tags=["messages"],
    )
    def get(self, request: Request, number: int) -> Response:
        user = common.acting_user(request)
        ticket = selectors.ticket_get(user=user, number=number)
        paginator = self.pagination_class()
        messages = paginator.paginate_queryset(selectors.ticket_messages(user=user, ticket=ticket), request, view=self)
        data = MessageSerializer(messages, many=True, context=message_context(request, ticket.number)).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="tickets_messages_create",
        summary="Reply or add an internal note",
        description="`visibility: public` (default) adds a reply the requester sees; `internal` adds a note "
                    "(staff only). Staff may set the ticket's `status` with a public reply. A customer "
                    "writing on a closed ticket opens a follow-up ticket; `ticket` in the answer says where "
                    "the message went.",
        parameters=[NUMBER_PARAMETER],
        request={"application/json": MessageCreateSerializer, "multipart/form-data": MessageCreateSerializer},
        responses={201: MessageSerializer, **ERRORS},
        tags=["messages"],
    )
    def post(self, request: Request, number: int) -> Response:
        user = common.acting_user(request)
        ticket = selectors.ticket_get(user=user, number=number)
        serializer = MessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        is_staff = permissions.is_staff_member(user)
        files = [services.incoming_from_upload(upload) for upload in data["files"]]
        body_html = data["body_html"] or None
        body_text = data["body"] or None
        if data["visibility"] == Visibility.INTERNAL:
            if not is_staff:
                raise PermissionDenied(_("Only support staff can add internal notes."))
            message = services.ticket_add_note(
                ticket=ticket, actor=user, body_html=body_html, body_text=body_text, files=files, via=common.VIA_API
            )
        else:
            if not is_staff and data.get("status"):
                raise PermissionDenied(_("Customers cannot set the status while replying."))
            message = services.ticket_reply(
                ticket=ticket, actor=user, body_html=body_html, body_text=body_text, files=files,
                status=data.get("status"), channel=Channel.API, via=common.VIA_API,
            )
        data = MessageSerializer(message, context=message_context(request, message.ticket.number)).data
        return Response(data, status=http_status.HTTP_201_CREATED)
