"""API of tickets.collaboration (staff only): a ticket's followers and links, splitting messages off
into a new ticket, and solving a problem with its incidents. Thin: parse, find what the caller may
see (404 otherwise), call one service."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework import status as http_status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets import selectors as ticket_selectors
from tickets.apis import common
from tickets.apis.serializers import TicketSerializer, UserRefSerializer
from tickets.apis.tickets import ERRORS, NUMBER_PARAMETER, ticket_response
from tickets.collaboration import selectors, services
from tickets.models import LinkKind, Ticket, User
from tickets.services.ticket_split import ticket_split

STAFF_ONLY = [*APIView.permission_classes, common.IsStaffMember]


class FollowerAddSerializer(serializers.Serializer):
    user = serializers.IntegerField(required=False, help_text=_("A staff user id; default: yourself."))


class LinkedTicketSerializer(serializers.Serializer):
    number = serializers.IntegerField(read_only=True)
    subject = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)


class TicketLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="link.pk", read_only=True)
    kind = serializers.CharField(source="link.kind", read_only=True)
    role = serializers.CharField(read_only=True, help_text=_(
        "What the other ticket is to this one: related, problem (this ticket is its incident) or incident."))
    ticket = LinkedTicketSerializer(source="other", read_only=True)


class LinkCreateSerializer(serializers.Serializer):
    ticket = serializers.IntegerField(help_text=_("Number of the ticket to link."))
    kind = serializers.ChoiceField(choices=LinkKind.choices, default=LinkKind.RELATED,
                                   help_text=_("`incident_of`: this ticket is an incident of the problem `ticket`."))


class SplitSerializer(serializers.Serializer):
    messages = serializers.ListField(child=serializers.IntegerField(), allow_empty=False,
                                     help_text=_("Ids of the public messages to move."))
    subject = serializers.CharField(max_length=255)


class SolveIncidentsSerializer(serializers.Serializer):
    body = serializers.CharField(help_text=_("The public reply every unsolved incident gets."))


class SolveIncidentsResultSerializer(serializers.Serializer):
    solved = serializers.ListField(child=serializers.IntegerField(), help_text=_("Numbers of the incidents solved."))
    skipped = serializers.ListField(child=serializers.IntegerField(),
                                    help_text=_("Numbers of unsolved incidents you may not work on (left as they are)."))


def _follower_data(ticket: Ticket) -> list[dict[str, Any]]:
    return UserRefSerializer(selectors.ticket_followers(ticket=ticket), many=True).data


def _user(user_id: Any) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise Http404
    return user


class TicketFollowersApi(APIView):
    permission_classes = STAFF_ONLY

    @extend_schema(operation_id="tickets_followers_list", summary="A ticket's followers",
                   parameters=[NUMBER_PARAMETER], responses={200: UserRefSerializer(many=True), **ERRORS},
                   tags=["collaboration"])
    def get(self, request: Request, number: int) -> Response:
        ticket = ticket_selectors.ticket_get(user=common.acting_user(request), number=number)
        return Response(_follower_data(ticket))

    @extend_schema(operation_id="tickets_followers_add", summary="Follow a ticket",
                   description="Follow it yourself, or (leads of its team, managers) make another agent of its "
                               "team a follower. Followers get the customer's replies and status changes by email.",
                   parameters=[NUMBER_PARAMETER], request=FollowerAddSerializer,
                   responses={201: UserRefSerializer(many=True), **ERRORS}, tags=["collaboration"])
    def post(self, request: Request, number: int) -> Response:
        actor = common.acting_user(request)
        ticket = ticket_selectors.ticket_get(user=actor, number=number)
        serializer = FollowerAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_id = serializer.validated_data.get("user")
        user = actor if user_id in (None, actor.pk) else _user(user_id)
        services.follower_add(ticket=ticket, user=user, actor=actor, via=common.VIA_API)
        return Response(_follower_data(ticket), status=http_status.HTTP_201_CREATED)


class TicketFollowerApi(APIView):
    permission_classes = STAFF_ONLY

    @extend_schema(operation_id="tickets_followers_remove", summary="Stop a follower following",
                   parameters=[NUMBER_PARAMETER, OpenApiParameter("user_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
                   responses={204: None, **ERRORS}, tags=["collaboration"])
    def delete(self, request: Request, number: int, user_id: int) -> Response:
        actor = common.acting_user(request)
        ticket = ticket_selectors.ticket_get(user=actor, number=number)
        services.follower_remove(ticket=ticket, user=_user(user_id), actor=actor, via=common.VIA_API)
        return Response(status=http_status.HTTP_204_NO_CONTENT)


class TicketLinksApi(APIView):
    permission_classes = STAFF_ONLY

    @extend_schema(operation_id="tickets_links_list", summary="A ticket's links",
                   description="Only links to tickets you may see.",
                   parameters=[NUMBER_PARAMETER], responses={200: TicketLinkSerializer(many=True), **ERRORS},
                   tags=["collaboration"])
    def get(self, request: Request, number: int) -> Response:
        user = common.acting_user(request)
        ticket = ticket_selectors.ticket_get(user=user, number=number)
        return Response(TicketLinkSerializer(selectors.ticket_links(user=user, ticket=ticket), many=True).data)

    @extend_schema(operation_id="tickets_links_create", summary="Link a ticket",
                   description="`related`, or `incident_of` a ticket of type problem. You must be able to work "
                               "on both tickets.",
                   parameters=[NUMBER_PARAMETER], request=LinkCreateSerializer,
                   responses={201: TicketLinkSerializer(many=True), **ERRORS}, tags=["collaboration"])
    def post(self, request: Request, number: int) -> Response:
        user = common.acting_user(request)
        ticket = ticket_selectors.ticket_get(user=user, number=number)
        serializer = LinkCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        other = ticket_selectors.ticket_get(user=user, number=serializer.validated_data["ticket"])
        services.ticket_link(ticket=ticket, other=other, kind=serializer.validated_data["kind"], actor=user,
                             via=common.VIA_API)
        rows = selectors.ticket_links(user=user, ticket=ticket)
        return Response(TicketLinkSerializer(rows, many=True).data, status=http_status.HTTP_201_CREATED)


class TicketLinkApi(APIView):
    permission_classes = STAFF_ONLY

    @extend_schema(operation_id="tickets_links_remove", summary="Remove a link",
                   parameters=[NUMBER_PARAMETER, OpenApiParameter("link_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
                   responses={204: None, **ERRORS}, tags=["collaboration"])
    def delete(self, request: Request, number: int, link_id: int) -> Response:
        user = common.acting_user(request)
        ticket = ticket_selectors.ticket_get(user=user, number=number)
        link = selectors.link_get(user=user, ticket=ticket, link_id=link_id)
        if link is None:
            raise Http404
        services.ticket_unlink(link=link, actor=user, via=common.VIA_API)
        return Response(status=http_status.HTTP_204_NO_CONTENT)


class TicketSplitApi(APIView):
    permission_classes = STAFF_ONLY

    @extend_schema(operation_id="tickets_split", summary="Split messages off into a new ticket",
                   description="Moves the given public messages (not the first one) to a new ticket of the same "
                               "requester and team; answers with the new ticket.",
                   parameters=[NUMBER_PARAMETER], request=SplitSerializer,
                   responses={201: TicketSerializer, **ERRORS}, tags=["collaboration"])
    def post(self, request: Request, number: int) -> Response:
        user = common.acting_user(request)
        ticket = ticket_selectors.ticket_get(user=user, number=number)
        serializer = SplitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new_ticket = ticket_split(ticket=ticket, message_ids=serializer.validated_data["messages"],
                                  subject=serializer.validated_data["subject"], actor=user, via=common.VIA_API)
        return ticket_response(request, ticket_selectors.ticket_get(user=user, number=new_ticket.number),
                               status=http_status.HTTP_201_CREATED)


class ProblemSolveIncidentsApi(APIView):
    permission_classes = STAFF_ONLY

    @extend_schema(operation_id="tickets_solve_incidents", summary="Solve a problem and notify its incidents",
                   description="Every unsolved incident you may work on gets `body` as a public reply and is "
                               "solved; then the problem is solved.",
                   parameters=[NUMBER_PARAMETER], request=SolveIncidentsSerializer,
                   responses={200: SolveIncidentsResultSerializer, **ERRORS}, tags=["collaboration"])
    def post(self, request: Request, number: int) -> Response:
        user = common.acting_user(request)
        problem = ticket_selectors.ticket_get(user=user, number=number)
        serializer = SolveIncidentsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.problem_solve_and_notify(problem=problem, body_text=serializer.validated_data["body"],
                                                   actor=user, via=common.VIA_API)
        return Response({"solved": [ticket.number for ticket in result.solved],
                         "skipped": [ticket.number for ticket in result.skipped]})
