"""The metrics API: GET /api/v1/metrics/summary, /timeseries and /breakdown (also as CSV or XLSX).

Thin views: the filters come from `MetricFilters.from_params` (which applies the caller's role
scope), the figures from metrics.selectors, the files from metrics.exports.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, renderers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics import exports
from metrics.selectors import (
    BREAKDOWN_DIMENSIONS,
    DEFAULT_PERIOD,
    MAX_PERIOD_DAYS,
    PERIODS,
    InvalidMetricFilters,
    MetricFilters,
    metrics_breakdown,
    metrics_period,
    metrics_summary,
    metrics_timeseries,
)
from metrics.serializers import BreakdownSerializer, SummarySerializer, TimeseriesSerializer
from tickets.apis.common import IsStaffMember
from tickets.apis.serializers import ErrorSerializer
from tickets.models import Channel, Priority


class InvalidFilters(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("These filters are not valid.")
    default_code = "invalid_filters"


FILTER_PARAMETERS = [
    OpenApiParameter("period", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=list(PERIODS),
                     description=f"Reporting days: today, the last 7, 30 or 90 days including today, this or last "
                                 f"calendar month, or custom (with start and end). Default {DEFAULT_PERIOD}."),
    OpenApiParameter("start", OpenApiTypes.DATE, OpenApiParameter.QUERY,
                     description="First day of a custom period (YYYY-MM-DD)."),
    OpenApiParameter("end", OpenApiTypes.DATE, OpenApiParameter.QUERY,
                     description=f"Last day of a custom period, inclusive; at most {MAX_PERIOD_DAYS} days after "
                                 f"the start."),
    OpenApiParameter("team", OpenApiTypes.INT, OpenApiParameter.QUERY, many=True, explode=True,
                     description="Team id (repeatable). Team leads see only the teams they lead (all of them by "
                                 "default)."),
    OpenApiParameter("agent", OpenApiTypes.INT, OpenApiParameter.QUERY, many=True, explode=True,
                     description="Agent (user) id (repeatable): tickets credited to the agent (assignee at the "
                                 "first solve, else the current assignee). Agents see only their own figures."),
    OpenApiParameter("channel", OpenApiTypes.STR, OpenApiParameter.QUERY, many=True, explode=True,
                     enum=list(Channel.values), description="Channel (repeatable)."),
    OpenApiParameter("priority", OpenApiTypes.STR, OpenApiParameter.QUERY, many=True, explode=True,
                     enum=list(Priority.values), description="Priority (repeatable)."),
    OpenApiParameter("organization", OpenApiTypes.INT, OpenApiParameter.QUERY, many=True, explode=True,
                     description="Organization id (repeatable)."),
    OpenApiParameter("hours", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=["business", "calendar"],
                     description="Response and resolution times in business hours of the ticket's calendar "
                                 "(default) or in calendar hours."),
]
ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid filters (code invalid_filters, with the reason)."),
    403: OpenApiResponse(ErrorSerializer, description="Not support staff, or filters outside your scope (another "
                                                      "agent, a team you do not lead)."),
}


def filters_of(request: Request) -> MetricFilters:
    try:
        return MetricFilters.from_params(request.query_params, user=request.user)
    except InvalidMetricFilters as error:
        raise InvalidFilters(str(error)) from None


class _MetricsApi(APIView):
    permission_classes = [IsStaffMember]


class MetricsSummaryApi(_MetricsApi):
    @extend_schema(
        operation_id="metrics_summary",
        summary="Headline figures",
        description="Volume, solved, first response and resolution times (median, mean, p90), FCR and reopen "
                    "rates, CSAT, NPS, CES, SLA compliance and the backlog by age, each with its value over the "
                    "previous period of the same length. Times are in seconds, ratios 0–1.",
        parameters=FILTER_PARAMETERS,
        responses={200: SummarySerializer, **ERROR_RESPONSES},
        tags=["metrics"],
    )
    def get(self, request: Request) -> Response:
        return Response(metrics_summary(filters=filters_of(request)))


class MetricsTimeseriesApi(_MetricsApi):
    @extend_schema(
        operation_id="metrics_timeseries",
        summary="Figures per day",
        description="One value per reporting day: tickets created by channel, solved, median first response and "
                    "resolution times, CSAT, NPS, CES and the backlog at the end of the day.",
        parameters=FILTER_PARAMETERS,
        responses={200: TimeseriesSerializer, **ERROR_RESPONSES},
        tags=["metrics"],
    )
    def get(self, request: Request) -> Response:
        return Response(metrics_timeseries(filters=filters_of(request)))


class _FileRenderer(renderers.BaseRenderer):
    """Lets `?format=csv|xlsx` through content negotiation; the view answers with the file itself."""

    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: dict[str, Any] | None = None) -> bytes:
        raise NotImplementedError  # pragma: no cover (errors are rendered as JSON, files by the view)


class CsvRenderer(_FileRenderer):
    media_type = "text/csv"
    format = "csv"


class XlsxRenderer(_FileRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"


class MetricsBreakdownApi(_MetricsApi):
    renderer_classes = [renderers.JSONRenderer, CsvRenderer, XlsxRenderer]

    @extend_schema(
        operation_id="metrics_breakdown",
        summary="Figures per team, agent, channel, priority or organization",
        description="One row per value of the dimension, most tickets first. With format=csv or format=xlsx, "
                    "the same table as a file download (translated column headers; times in hours with two "
                    "decimals, rates in percent).",
        parameters=[
            OpenApiParameter("by", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True,
                             enum=list(BREAKDOWN_DIMENSIONS), description="The dimension of the rows."),
            OpenApiParameter("format", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=["json", "csv", "xlsx"],
                             description="json (default), or a csv or xlsx file."),
            *FILTER_PARAMETERS,
        ],
        responses={
            (200, "application/json"): BreakdownSerializer,
            (200, CsvRenderer.media_type): OpenApiTypes.BINARY,
            (200, XlsxRenderer.media_type): OpenApiTypes.BINARY,
            **ERROR_RESPONSES,
        },
        tags=["metrics"],
    )
    def get(self, request: Request) -> Response | HttpResponse:
        filters = filters_of(request)
        by = request.query_params.get("by", "")
        if by not in BREAKDOWN_DIMENSIONS:
            raise InvalidFilters(_("Choose what to break the figures down by: team, agent, channel, priority or "
                                   "organization."))
        rows = metrics_breakdown(filters=filters, by=by)
        file_format = request.accepted_renderer.format
        if file_format in ("csv", "xlsx"):
            if file_format == "csv":
                content = exports.breakdown_csv(rows, by=by, filters=filters)
                content_type = f"{CsvRenderer.media_type}; charset=utf-8"
            else:
                content = exports.breakdown_xlsx(rows, by=by, filters=filters)
                content_type = XlsxRenderer.media_type
            response = HttpResponse(content, content_type=content_type)
            filename = exports.export_filename(by=by, filters=filters, extension=file_format)
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        return Response({"by": by, "period": metrics_period(filters), "results": rows})

    def handle_exception(self, exc: Exception) -> Response:
        # An error of a file request is still a JSON error body, not a broken download.
        self.request.accepted_renderer = renderers.JSONRenderer()
        self.request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().handle_exception(exc)
