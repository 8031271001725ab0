"""Rules through the API (managers and admins): list, create, read, update, delete, and each
rule's execution log. Writes go through tickets.rules.services, so the API accepts exactly what
the form accepts; conditions and actions use the stored shapes of tickets.rules.vocabulary.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework import permissions as drf_permissions
from rest_framework import status as http_status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import permissions
from tickets.apis import common
from tickets.apis.pagination import StandardCursorPagination
from tickets.apis.serializers import ErrorSerializer
from tickets.models import Rule, RuleKind, RuleRun, RuleRunOutcome, TriggerEvent
from tickets.rules import selectors, services


class IsManagerOrAdmin(drf_permissions.BasePermission):
    message = _("Only managers and admins can use this endpoint.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return permissions.is_manager_or_admin(request.user) and bool(request.user.is_active)


class RuleSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=TriggerEvent.choices), required=False,
                                   help_text="Triggers: when the rule runs. Automations: empty.")
    conditions = serializers.JSONField(
        required=False,
        help_text='{"all": [{"field", "operator", "value"}, …], "any": […]} (see the rule vocabulary).',
    )
    actions = serializers.JSONField(help_text='[{"type": "add_tags", "value": ["vip"]}, …] in order.')

    class Meta:
        model = Rule
        fields = ["id", "kind", "name", "description", "is_active", "position", "events", "conditions", "actions",
                  "run_count", "last_run_at", "created_at", "updated_at"]
        read_only_fields = ["id", "position", "run_count", "last_run_at", "created_at", "updated_at"]


class RuleUpdateSerializer(RuleSerializer):
    class Meta(RuleSerializer.Meta):
        read_only_fields = [*RuleSerializer.Meta.read_only_fields, "kind"]
        extra_kwargs = {"name": {"required": False}, "actions": {"required": False}}


class RuleRunSerializer(serializers.ModelSerializer):
    ticket = serializers.IntegerField(source="ticket.number", read_only=True, help_text="The ticket's number.")
    outcome = serializers.ChoiceField(choices=RuleRunOutcome.choices, read_only=True)
    actions = serializers.JSONField(read_only=True, help_text='What each action did: [{"type", "result"}, …].')

    class Meta:
        model = RuleRun
        fields = ["id", "ticket", "event", "outcome", "actions", "error", "created_at"]
        read_only_fields = fields


class RuleRunPagination(StandardCursorPagination):
    ordering = ("-created_at", "-id")


def _rule_list_envelope() -> type[serializers.Serializer]:
    return type("RuleList", (serializers.Serializer,), {"results": RuleSerializer(many=True, read_only=True)})


MANAGER_ERRORS = {
    403: OpenApiResponse(ErrorSerializer, description="Managers and admins only."),
}
RULE_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The rule's id.")
KIND_PARAMETER = OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=RuleKind.values,
                                  description="Only triggers or only automations.")


def _save(request: Request, serializer: RuleSerializer, rule: Rule | None) -> Rule:
    data = serializer.validated_data
    return services.rule_save(
        actor=common.acting_user(request), rule=rule,
        kind=rule.kind if rule is not None else data["kind"],
        name=data.get("name", rule.name if rule else ""),
        description=data.get("description", rule.description if rule else ""),
        is_active=data.get("is_active", rule.is_active if rule else True),
        events=data.get("events", rule.events if rule else []),
        conditions=data.get("conditions", rule.conditions if rule else {}),
        actions=data.get("actions", rule.actions if rule else []),
    )


class RuleListCreateApi(APIView):
    permission_classes = [*APIView.permission_classes, IsManagerOrAdmin]

    @extend_schema(operation_id="rules_list", summary="List rules", parameters=[KIND_PARAMETER],
                   description="Triggers then automations, each in the order they run.",
                   responses={200: _rule_list_envelope(), **MANAGER_ERRORS}, tags=["rules"])
    def get(self, request: Request) -> Response:
        kind = request.query_params.get("kind", "")
        rules = selectors.rule_list(kind=kind if kind in RuleKind.values else None)
        return Response({"results": RuleSerializer(rules, many=True).data})

    @extend_schema(operation_id="rules_create", summary="Create a rule", request=RuleSerializer,
                   description="The rule goes last in its kind's order.",
                   responses={201: RuleSerializer, 400: ErrorSerializer, **MANAGER_ERRORS}, tags=["rules"])
    def post(self, request: Request) -> Response:
        serializer = RuleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = _save(request, serializer, None)
        return Response(RuleSerializer(rule).data, status=http_status.HTTP_201_CREATED)


class RuleDetailApi(APIView):
    permission_classes = [*APIView.permission_classes, IsManagerOrAdmin]

    def _rule(self, pk: int) -> Rule:
        return generics.get_object_or_404(Rule.objects.all(), pk=pk)

    @extend_schema(operation_id="rules_retrieve", summary="Get a rule", parameters=[RULE_ID],
                   responses={200: RuleSerializer, 404: ErrorSerializer, **MANAGER_ERRORS}, tags=["rules"])
    def get(self, request: Request, pk: int) -> Response:
        return Response(RuleSerializer(self._rule(pk)).data)

    @extend_schema(operation_id="rules_update", summary="Change a rule", parameters=[RULE_ID],
                   description="Send the fields to change; a rule keeps its kind.", request=RuleUpdateSerializer,
                   responses={200: RuleSerializer, 400: ErrorSerializer, 404: ErrorSerializer, **MANAGER_ERRORS},
                   tags=["rules"])
    def patch(self, request: Request, pk: int) -> Response:
        rule = self._rule(pk)
        serializer = RuleUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        rule = _save(request, serializer, rule)
        return Response(RuleSerializer(rule).data)

    @extend_schema(operation_id="rules_destroy", summary="Delete a rule", parameters=[RULE_ID],
                   responses={204: None, 404: ErrorSerializer, **MANAGER_ERRORS}, tags=["rules"])
    def delete(self, request: Request, pk: int) -> Response:
        services.rule_delete(actor=common.acting_user(request), rule=self._rule(pk))
        return Response(status=http_status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(operation_id="rules_runs_list", summary="A rule's execution log", parameters=[RULE_ID],
                      description="Newest first, cursor-paginated.",
                      responses={200: RuleRunSerializer(many=True), 404: ErrorSerializer, **MANAGER_ERRORS},
                      tags=["rules"]),
)
class RuleRunListApi(generics.ListAPIView):
    permission_classes = [*generics.ListAPIView.permission_classes, IsManagerOrAdmin]
    serializer_class = RuleRunSerializer
    pagination_class = RuleRunPagination

    def get_queryset(self) -> QuerySet[RuleRun]:
        rule = generics.get_object_or_404(Rule.objects.all(), pk=self.kwargs["pk"])
        return selectors.rule_runs(rule=rule)
