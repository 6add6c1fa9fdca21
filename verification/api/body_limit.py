"""Request bodies larger than API_MAX_BODY_BYTES: 413 `payload_too_large`, before anything
parses them (checked on the declared Content-Length, or counted for a chunked body).

Under WSGI a chunked request has no CONTENT_LENGTH: gunicorn hands over the de-chunked
stream and Django, seeing no length, would read an empty body. So a chunked body is read
here, at most one byte past the limit, and handed on with its length as if it had been
declared.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from verification.exceptions import PayloadTooLarge


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.API_MAX_BODY_BYTES
        if _declared_length(request) > limit:
            return _too_large()
        if _is_chunked(request):
            body = request.META["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return _too_large()
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = io.BytesIO(body)
        return self.get_response(request)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # as Django reads it: no body


def _is_chunked(request: HttpRequest) -> bool:
    encoding = request.META.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in encoding.lower() and "wsgi.input" in request.META


def _too_large() -> JsonResponse:
    error = PayloadTooLarge()
    return JsonResponse({"error": str(error.message), "code": error.code}, status=error.status_code)
