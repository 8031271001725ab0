"""Definitions of the admin-defined custom ticket fields."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets.apis import common
from tickets.apis.serializers import CustomFieldDefinitionSerializer, results_of
from tickets.models import CustomFieldDefinition


class CustomFieldListApi(APIView):
    @extend_schema(
        operation_id="custom_fields_list",
        summary="Custom ticket fields",
        description="Every definition for staff; customers get the fields marked visible to customers.",
        responses={200: results_of(CustomFieldDefinitionSerializer, "CustomFieldDefinitionList")},
        tags=["tickets"],
    )
    def get(self, request: Request) -> Response:
        # Customer fields belong to the customer records (the customer overview API shows them).
        definitions = CustomFieldDefinition.objects.filter(
            applies_to=CustomFieldDefinition.AppliesTo.TICKET
        ).order_by("position", "key")
        if not common.is_staff(request):
            definitions = definitions.filter(is_customer_visible=True)
        return Response({"results": CustomFieldDefinitionSerializer(definitions, many=True).data})
