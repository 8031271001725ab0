"""REST API of the knowledge base: search (help center, portal form, chat widget, agent reply box)
and the click that tells which result a reader opened. Anonymous callers search public articles."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from knowledgebase.models import SearchQuery
from knowledgebase.search import kb_search
from knowledgebase.search.clicks import ClickNotRecorded, search_click_record
from knowledgebase.search.query import MAX_LIMIT
from tickets.apis.serializers import ErrorSerializer

LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]


class SearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=200, allow_blank=True, trim_whitespace=True, default="")
    lang = serializers.ChoiceField(choices=LANGUAGE_CODES, required=False, allow_blank=True)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=10)
    source = serializers.ChoiceField(choices=SearchQuery.Source.values, default=SearchQuery.Source.API)


class SearchResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="translation_id", help_text="The article translation.")
    article_id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField(help_text="The article page in the help center.")
    snippet = serializers.CharField(
        source="snippet_html", help_text="Escaped text around the match; matches wrapped in <mark>.",
    )
    category = serializers.CharField(source="category_name")
    language = serializers.CharField()


class SearchResponseSerializer(serializers.Serializer):
    query_id = serializers.IntegerField(allow_null=True, help_text="Send it back with a click; null for an empty query.")
    results = SearchResultSerializer(many=True)


class SearchClickSerializer(serializers.Serializer):
    query_id = serializers.IntegerField(min_value=1)
    translation_id = serializers.IntegerField(min_value=1)
    rank = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, help_text="1 for the first result.")


def _session_key(request: Request) -> str:
    session = getattr(request, "session", None)
    return (session.session_key or "") if session is not None else ""


class SearchApi(APIView):
    permission_classes = [AllowAny]

    def finalize_response(self, request: Request, response: Response, *args: object, **kwargs: object) -> Response:
        """The chat widget searches from the pages that embed it: answered CORS for the allowed
        origins of active widgets (never with credentials: such a caller reads public articles)."""
        from channels_intake.chat.selectors import origin_of_a_widget

        response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.headers.get("Origin", "")
        if origin and origin_of_a_widget(origin):
            response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = ", ".join(filter(None, [response.get("Vary", ""), "Origin"]))
        return response

    @extend_schema(
        operation_id="kb_search",
        summary="Search the knowledge base",
        description=(
            "Published articles the caller may read (public ones for anonymous callers; customers-only "
            "ones for signed-in customers; internal ones for agents), best first. English is stemmed; "
            "Chinese is segmented and Traditional/Simplified match each other; close spellings of title "
            "words are found too. Each non-empty search is logged for the authors' analytics."
        ),
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, OpenApiParameter.QUERY, description="What to search for."),
            OpenApiParameter("lang", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=LANGUAGE_CODES,
                             description="Only articles in this language (default: all)."),
            OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY,
                             description=f"At most this many results (default 10, up to {MAX_LIMIT})."),
            OpenApiParameter("source", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=SearchQuery.Source.values,
                             description="Where the search was typed, for the analytics (default api)."),
        ],
        responses={200: SearchResponseSerializer, 400: OpenApiResponse(ErrorSerializer)},
        tags=["knowledge base"],
    )
    def get(self, request: Request) -> Response:
        params = SearchParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        results = kb_search(
            query=data["q"], language=data.get("lang") or None, viewer=request.user, limit=data["limit"],
            source=data["source"], session_key=_session_key(request),
        )
        return Response({
            "query_id": results.query_id,
            "results": SearchResultSerializer(results.hits, many=True).data,
        })


class SearchClickApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="kb_search_click",
        summary="Record the result a reader opened",
        description=(
            "Tells which result of a search was opened. The first click of a search is kept; repeating "
            "it changes nothing. Unknown searches, searches of another session and articles the caller "
            "may not read answer 404."
        ),
        request=SearchClickSerializer,
        responses={204: None, 400: OpenApiResponse(ErrorSerializer), 404: OpenApiResponse(ErrorSerializer)},
        tags=["knowledge base"],
    )
    def post(self, request: Request) -> Response:
        body = SearchClickSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            search_click_record(viewer=request.user, session_key=_session_key(request), **body.validated_data)
        except ClickNotRecorded:
            raise Http404 from None
        return Response(status=204)
