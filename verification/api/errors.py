"""One shape for every error: `{"error": <human message>, "code": <machine code>}`.

DRF's own errors (parse, validation, method, media type) are reshaped here too, the
database being unreachable becomes a 503, and Django's 404/500 pages are JSON as well.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from verification.exceptions import ApplicationError, ServiceUnavailable

logger = logging.getLogger(__name__)

# Codes of our own that a serializer may attach to a field error; any other field error is
# answered as `invalid_request` with the per-field messages alongside.
FIELD_ERROR_CODES = {"invalid_phone", "invalid_code"}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DatabaseError):
        logger.error("database unavailable: %s", type(exc).__name__)
        exc = ServiceUnavailable()
    if isinstance(exc, ApplicationError):
        return _application_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response  # a bug: Django's 500 handler answers (JSON, see server_error)
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_error_body(exc)
    else:
        response.data = {"error": str(exc.detail), "code": _code_of(exc)}
    return response


def _application_error_response(exc: ApplicationError) -> Response:
    body: dict[str, Any] = {"error": str(exc.message), "code": exc.code, **exc.extra()}
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Response(body, status=exc.status_code, headers=headers)


def _validation_error_body(exc: exceptions.ValidationError) -> dict[str, Any]:
    detail = exc.detail
    fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    first_field, first_errors = next(iter(fields.items()), ("", []))
    first = first_errors[0] if isinstance(first_errors, list) and first_errors else first_errors
    code = getattr(first, "code", None)
    if code in FIELD_ERROR_CODES:
        return {"error": str(first), "code": code}
    return {
        "error": str(first) if first else _("Некорректный запрос"),
        "code": "invalid_request",
        "fields": {name: [str(e) for e in _as_list(errors)] for name, errors in fields.items()},
    }


def _as_list(errors: Any) -> list[Any]:
    return list(errors) if isinstance(errors, list) else [errors]


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"error": _("Не найдено"), "code": "not_found"}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"error": _("Внутренняя ошибка сервера"), "code": "server_error"}, status=500
    )
