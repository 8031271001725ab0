"""Customers (staff), organizations (staff), teams (everyone, scoped) and staff users (staff)."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics
from rest_framework import status as http_status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from helpdesk import permissions
from tickets.apis import common
from tickets.apis.pagination import IdCursorPagination, NameCursorPagination
from tickets.apis.serializers import (
    CustomerCreateSerializer,
    CustomerSerializer,
    ErrorSerializer,
    OrganizationSerializer,
    PublicTeamSerializer,
    StaffUserSerializer,
    TeamSerializer,
    results_of,
)
from tickets.models import STAFF_ROLES, Customer, Organization, Team, User
from tickets.services.customers import customer_create

STAFF_ERRORS = {
    403: OpenApiResponse(ErrorSerializer, description="Staff only."),
    404: OpenApiResponse(ErrorSerializer, description="Not found."),
}
Q_PARAMETER = OpenApiParameter("q", OpenApiTypes.STR, OpenApiParameter.QUERY,
                               description="Case-insensitive search in names (and email addresses for customers).")
ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The id.")


def _search(request: Request) -> str:
    return " ".join(request.query_params.get("q", "").split())[:200]


class CustomerQuerysetMixin:
    permission_classes = [*generics.GenericAPIView.permission_classes, common.IsStaffMember]

    def get_queryset(self) -> QuerySet[Customer]:
        return Customer.objects.select_related("organization")


@extend_schema_view(
    get=extend_schema(operation_id="customers_list", summary="List customers", parameters=[Q_PARAMETER],
                      responses={200: CustomerSerializer(many=True), **STAFF_ERRORS}, tags=["people"]),
    post=extend_schema(operation_id="customers_create", summary="Create a customer",
                       request=CustomerCreateSerializer,
                       responses={201: CustomerSerializer, 400: ErrorSerializer, **STAFF_ERRORS}, tags=["people"]),
)
class CustomerListCreateApi(CustomerQuerysetMixin, generics.ListCreateAPIView):
    pagination_class = NameCursorPagination

    def get_serializer_class(self) -> type[BaseSerializer]:
        return CustomerCreateSerializer if self.request.method == "POST" else CustomerSerializer

    def get_queryset(self) -> QuerySet[Customer]:
        queryset = super().get_queryset()
        q = _search(self.request)
        if q:
            queryset = queryset.filter(Q(name__icontains=q) | Q(email__icontains=q))
        return queryset

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = CustomerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = customer_create(**serializer.validated_data)
        return Response(CustomerSerializer(customer).data, status=http_status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(operation_id="customers_retrieve", summary="Get a customer", parameters=[ID_PARAMETER],
                      responses={200: CustomerSerializer, **STAFF_ERRORS}, tags=["people"]),
)
class CustomerDetailApi(CustomerQuerysetMixin, generics.RetrieveAPIView):
    serializer_class = CustomerSerializer


@extend_schema_view(
    get=extend_schema(operation_id="organizations_list", summary="List organizations", parameters=[Q_PARAMETER],
                      responses={200: OrganizationSerializer(many=True), **STAFF_ERRORS}, tags=["people"]),
)
class OrganizationListApi(generics.ListAPIView):
    permission_classes = [*generics.GenericAPIView.permission_classes, common.IsStaffMember]
    serializer_class = OrganizationSerializer
    pagination_class = NameCursorPagination

    def get_queryset(self) -> QuerySet[Organization]:
        queryset = Organization.objects.all()
        q = _search(self.request)
        return queryset.filter(name__icontains=q) if q else queryset


@extend_schema_view(
    get=extend_schema(operation_id="organizations_retrieve", summary="Get an organization",
                      parameters=[ID_PARAMETER], responses={200: OrganizationSerializer, **STAFF_ERRORS},
                      tags=["people"]),
)
class OrganizationDetailApi(generics.RetrieveAPIView):
    permission_classes = [*generics.GenericAPIView.permission_classes, common.IsStaffMember]
    serializer_class = OrganizationSerializer
    queryset = Organization.objects.all()


def teams_visible_to(request: Request) -> QuerySet[Team]:
    """Staff see every team (to route tickets); customers only those offered on the web form."""
    if permissions.is_staff_member(request.user):
        return Team.objects.order_by("name")
    return Team.objects.filter(is_customer_selectable=True).order_by("name")


def team_serializer_for(request: Request) -> type[BaseSerializer]:
    return TeamSerializer if permissions.is_staff_member(request.user) else PublicTeamSerializer


class TeamListApi(generics.GenericAPIView):
    @extend_schema(
        operation_id="teams_list",
        summary="List teams",
        description="Staff get every team; customers get the teams they may choose when opening a request, "
                    "with only `id`, `name` and `slug`.",
        responses={200: results_of(TeamSerializer, "TeamList")},
        tags=["people"],
    )
    def get(self, request: Request) -> Response:
        serializer = team_serializer_for(request)(teams_visible_to(request), many=True)
        return Response({"results": serializer.data})


class TeamDetailApi(generics.GenericAPIView):
    @extend_schema(
        operation_id="teams_retrieve",
        summary="Get a team",
        parameters=[ID_PARAMETER],
        responses={200: TeamSerializer, 404: OpenApiResponse(ErrorSerializer)},
        tags=["people"],
    )
    def get(self, request: Request, pk: int) -> Response:
        team = generics.get_object_or_404(teams_visible_to(request), pk=pk)
        return Response(team_serializer_for(request)(team).data)


class StaffUserQuerysetMixin:
    permission_classes = [*generics.GenericAPIView.permission_classes, common.IsStaffMember]
    serializer_class = StaffUserSerializer

    def get_queryset(self) -> QuerySet[User]:
        return User.objects.filter(role__in=STAFF_ROLES, is_active=True).prefetch_related(
            Prefetch("teams", queryset=Team.objects.order_by("name"))
        )


@extend_schema_view(
    get=extend_schema(
        operation_id="users_list", summary="List support staff",
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, OpenApiParameter.QUERY,
                             description="Search usernames and names."),
            OpenApiParameter("team", OpenApiTypes.INT, OpenApiParameter.QUERY, description="Members of this team."),
        ],
        responses={200: StaffUserSerializer(many=True), **STAFF_ERRORS}, tags=["people"],
    ),
)
class StaffUserListApi(StaffUserQuerysetMixin, generics.ListAPIView):
    pagination_class = IdCursorPagination

    def get_queryset(self) -> QuerySet[User]:
        queryset = super().get_queryset()
        q = _search(self.request)
        if q:
            queryset = queryset.filter(
                Q(username__icontains=q) | Q(display_name__icontains=q) | Q(first_name__icontains=q)
                | Q(last_name__icontains=q)
            )
        team = self.request.query_params.get("team", "")
        if team:
            if not team.isdigit():
                raise exceptions.ValidationError({"team": [_("Expected a team id.")]})
            queryset = queryset.filter(team_memberships__team_id=int(team))
        return queryset


@extend_schema_view(
    get=extend_schema(operation_id="users_retrieve", summary="Get a staff user", parameters=[ID_PARAMETER],
                      responses={200: StaffUserSerializer, **STAFF_ERRORS}, tags=["people"]),
)
class StaffUserDetailApi(StaffUserQuerysetMixin, generics.RetrieveAPIView):
    pass
