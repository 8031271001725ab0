"""Tags in use on the tickets the caller may see, with how many tickets carry each."""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db import connection
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import permissions
from tickets.apis import common
from tickets.apis.serializers import ErrorSerializer, TagCountSerializer, results_of
from tickets.selectors import InvalidQuery

TAGS_LIMIT_DEFAULT = 100
TAGS_LIMIT_MAX = 1000


def tag_counts(*, user: object, prefix: str = "", limit: int = TAGS_LIMIT_DEFAULT) -> list[dict[str, object]]:
    """Distinct tags over the tickets `user` may see, most used first, optionally starting with `prefix`."""
    visible = permissions.visible_tickets(user).exclude(tags=[]).values("tags")  # type: ignore[arg-type]
    try:
        inner_sql, inner_params = visible.query.sql_with_params()
    except EmptyResultSet:
        return []
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    sql = (
        "SELECT tag, COUNT(*) AS uses FROM (SELECT unnest(visible.tags) AS tag FROM ("  # noqa: S608
        + inner_sql
        + ") AS visible) AS tagged WHERE tag LIKE %s GROUP BY tag ORDER BY uses DESC, tag LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*inner_params, escaped + "%", limit])
        return [{"name": name, "count": count} for name, count in cursor.fetchall()]


class TagListApi(APIView):
    @extend_schema(
        operation_id="tags_list",
        summary="Tags in use",
        description="Distinct tags over the tickets you may see, with their ticket counts, most used first.",
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, OpenApiParameter.QUERY, description="Tags starting with this."),
            OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY,
                             description=f"At most this many tags (default {TAGS_LIMIT_DEFAULT}, "
                                         f"up to {TAGS_LIMIT_MAX})."),
        ],
        responses={200: results_of(TagCountSerializer, "TagCountList"), 400: OpenApiResponse(ErrorSerializer)},
        tags=["tickets"],
    )
    def get(self, request: Request) -> Response:
        raw_limit = request.query_params.get("limit") or str(TAGS_LIMIT_DEFAULT)
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise InvalidQuery("limit: expected a positive number")
        limit = min(int(raw_limit), TAGS_LIMIT_MAX)
        prefix = request.query_params.get("q", "").strip()[:64]
        return Response({"results": tag_counts(user=common.acting_user(request), prefix=prefix, limit=limit)})
