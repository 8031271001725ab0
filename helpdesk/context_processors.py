from django.conf import settings
from django.http import HttpRequest


def helpdesk(request: HttpRequest) -> dict:
    return {
        "csp_nonce": getattr(request, "csp_nonce", ""),
        "websocket_url": settings.HELPDESK_WEBSOCKET_URL,
        "max_upload_bytes": settings.HELPDESK_MAX_UPLOAD_BYTES,
    }
