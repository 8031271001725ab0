"""Downloading an attachment through the API, with the same checks and headers as the browser view."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from tickets import selectors
from tickets.apis import common
from tickets.apis.serializers import ErrorSerializer
from tickets.apis.tickets import ERRORS
from tickets.views.attachments import attachment_response


class AttachmentDownloadApi(APIView):
    @extend_schema(
        operation_id="attachments_download",
        summary="Download an attachment",
        description=(
            "The file of an attachment on a ticket the caller may see (customers: public messages of "
            "their own tickets only). Safe raster images are served inline with their type; anything "
            "else as application/octet-stream with Content-Disposition attachment. The `url` of an "
            "attachment in the messages API points here."
        ),
        parameters=[OpenApiParameter("attachment_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
                   401: ERRORS[403], 404: OpenApiResponse(ErrorSerializer, description="No such attachment, or not one you may see."),
                   429: ERRORS[429]},
    )
    def get(self, request: Request, attachment_id: int) -> FileResponse:
        attachment = selectors.attachment_get(user=common.acting_user(request), attachment_id=attachment_id)
        return attachment_response(attachment)
