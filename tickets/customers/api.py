"""The customer 360 over the API: a customer's and an organization's overview (staff only).

Same reads as the pages (tickets.customers.selectors): the tickets and what comes from them are
only those the caller may see.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tickets.apis import common
from tickets.apis.serializers import ErrorSerializer
from tickets.customers import selectors
from tickets.customers.health import HealthScore
from tickets.models import Ticket

ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="Staff only."),
    404: OpenApiResponse(ErrorSerializer, description="Not found."),
}
ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The id.")


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class HealthComponentSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="satisfaction, open_tickets, reopens or contacts.")
    label = serializers.CharField()
    points = serializers.FloatField()
    max = serializers.IntegerField()
    neutral = serializers.BooleanField(help_text="No data: the component gives its neutral points.")


class HealthSerializer(serializers.Serializer):
    score = serializers.IntegerField(help_text="0–100, see docs/HEALTH_SCORE.md.")
    level = serializers.ChoiceField(choices=["good", "fair", "poor"])
    components = HealthComponentSerializer(many=True)
    inputs = serializers.DictField(help_text="Each component's inputs and points, as stored in snapshots.")


class TrendPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    score = serializers.IntegerField()


class OverviewTicketSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    subject = serializers.CharField()
    status = serializers.CharField()
    channel = serializers.CharField()
    requester = NamedRefSerializer()
    team = NamedRefSerializer(allow_null=True)
    assignee = NamedRefSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    last_activity_at = serializers.DateTimeField()
    url = serializers.URLField()


class ChannelContactsSerializer(serializers.Serializer):
    channel = serializers.CharField()
    tickets = serializers.IntegerField()
    inbound_messages = serializers.IntegerField()
    last_inbound_at = serializers.DateTimeField(allow_null=True)


class SurveyAnswerSerializer(serializers.Serializer):
    kind = serializers.CharField()
    score = serializers.IntegerField()
    comment = serializers.CharField(allow_blank=True)
    responded_at = serializers.DateTimeField()
    ticket_number = serializers.IntegerField(allow_null=True)


class SlaBreachSerializer(serializers.Serializer):
    ticket_number = serializers.IntegerField()
    metric = serializers.CharField()
    due_at = serializers.DateTimeField()
    breached_at = serializers.DateTimeField()


class TicketsSummarySerializer(serializers.Serializer):
    ticket_count = serializers.IntegerField(help_text="Tickets the caller may see.")
    open_count = serializers.IntegerField()
    last_contact_at = serializers.DateTimeField(allow_null=True)
    channels = ChannelContactsSerializer(many=True)
    tickets = OverviewTicketSerializer(many=True, help_text="The most recent 200.")
    satisfaction = SurveyAnswerSerializer(many=True)
    sla_breaches = SlaBreachSerializer(many=True)


class CustomFieldValueSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    type = serializers.CharField()
    value = serializers.JSONField(allow_null=True)


class CustomerIdentitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    other_emails = serializers.ListField(child=serializers.EmailField())
    phone_numbers = serializers.ListField(child=serializers.CharField())
    organization = NamedRefSerializer(allow_null=True)
    language = serializers.CharField(allow_blank=True)
    timezone = serializers.CharField(allow_blank=True)
    tier = serializers.CharField()
    has_login = serializers.BooleanField()
    notes = serializers.CharField(allow_blank=True)
    custom_fields = CustomFieldValueSerializer(many=True)


class CustomerOverviewSerializer(serializers.Serializer):
    customer = CustomerIdentitySerializer()
    health = HealthSerializer()
    trend = TrendPointSerializer(many=True)
    summary = TicketsSummarySerializer()


class OrganizationCustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    health_score = serializers.IntegerField(allow_null=True)


class OrganizationOverviewSerializer(serializers.Serializer):
    organization = serializers.DictField(help_text="id, name, domains, notes.")
    health = HealthSerializer()
    trend = TrendPointSerializer(many=True)
    customer_count = serializers.IntegerField()
    customers = OrganizationCustomerSerializer(many=True, help_text="The first 200 by name.")
    summary = TicketsSummarySerializer()


def _ref(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, "name": getattr(obj, "name", str(obj))}


def _health(health: HealthScore) -> dict[str, Any]:
    return {
        "score": health.score, "level": health.level,
        "components": [{key: row.get(key) for key in ("key", "label", "points", "max", "neutral")}
                       for row in health.component_rows()],
        "inputs": health.components,
    }


def _ticket(ticket: Ticket, link: str) -> dict[str, Any]:
    return {
        "number": ticket.number, "subject": ticket.subject, "status": ticket.status, "channel": ticket.channel,
        "requester": _ref(ticket.requester), "team": _ref(ticket.team), "assignee": _ref(ticket.assignee),
        "created_at": ticket.created_at, "last_activity_at": ticket.updated_at,
        "url": link.replace("{number}", str(ticket.number)),
    }


def _summary(request: Request, summary: selectors.TicketsSummary) -> dict[str, Any]:
    link = common.ticket_link_template(request)
    return {
        "ticket_count": summary.ticket_count, "open_count": summary.open_count,
        "last_contact_at": summary.last_contact_at,
        "channels": [{"channel": entry.channel, "tickets": entry.tickets, "inbound_messages": entry.inbound_messages,
                      "last_inbound_at": entry.last_inbound_at} for entry in summary.channels],
        "tickets": [_ticket(ticket, link) for ticket in summary.tickets],
        "satisfaction": [{"kind": answer.kind, "score": answer.score, "comment": answer.comment,
                          "responded_at": answer.responded_at,
                          "ticket_number": answer.ticket.number if answer.ticket_id else None}
                         for answer in summary.satisfaction],
        "sla_breaches": [{"ticket_number": timer.ticket.number, "metric": timer.metric, "due_at": timer.due_at,
                          "breached_at": timer.breached_at} for timer in summary.sla_breaches],
    }


class CustomerOverviewApi(generics.GenericAPIView):
    permission_classes = [*generics.GenericAPIView.permission_classes, common.IsStaffMember]

    @extend_schema(
        operation_id="customers_overview",
        summary="A customer's 360 overview",
        description="Identity, notes, custom fields, health score with its components and 90-day trend, and "
                    "the tickets the caller may see across all channels with their satisfaction answers, SLA "
                    "breaches and contacts per channel.",
        parameters=[ID_PARAMETER], responses={200: CustomerOverviewSerializer, **ERRORS}, tags=["people"],
    )
    def get(self, request: Request, pk: int) -> Response:
        overview = selectors.customer_overview(viewer=request.user, customer_id=pk)
        customer = overview.customer
        data = {
            "customer": {
                "id": customer.pk, "name": customer.name, "email": customer.email,
                "other_emails": overview.other_emails, "phone_numbers": customer.phone_numbers,
                "organization": _ref(customer.organization), "language": customer.language,
                "timezone": customer.timezone, "tier": customer.tier, "has_login": overview.has_login,
                "notes": customer.notes,
                "custom_fields": [{key: row[key] for key in ("key", "label", "type", "value")}
                                  for row in overview.custom_fields],
            },
            "health": _health(overview.health),
            "trend": overview.trend,
            "summary": _summary(request, overview.summary),
        }
        return Response(CustomerOverviewSerializer(data).data)


class OrganizationOverviewApi(generics.GenericAPIView):
    permission_classes = [*generics.GenericAPIView.permission_classes, common.IsStaffMember]

    @extend_schema(
        operation_id="organizations_overview",
        summary="An organization's 360 overview",
        description="The customer overview rolled up over the organization's tickets, with its customers "
                    "and their health scores.",
        parameters=[ID_PARAMETER], responses={200: OrganizationOverviewSerializer, **ERRORS}, tags=["people"],
    )
    def get(self, request: Request, pk: int) -> Response:
        overview = selectors.organization_overview(viewer=request.user, organization_id=pk)
        organization = overview.organization
        data = {
            "organization": {"id": organization.pk, "name": organization.name, "domains": organization.domains,
                             "notes": organization.notes},
            "health": _health(overview.health),
            "trend": overview.trend,
            "customer_count": overview.customer_count,
            "customers": [
                {"id": customer.pk, "name": customer.name, "email": customer.email,
                 "health_score": overview.customer_scores[customer.pk].score
                 if customer.pk in overview.customer_scores else None}
                for customer in overview.customers
            ],
            "summary": _summary(request, overview.summary),
        }
        return Response(OrganizationOverviewSerializer(data).data)
