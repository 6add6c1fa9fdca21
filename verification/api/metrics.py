"""GET /metrics: the Prometheus exposition (SPEC §14), for loopback or basic-auth clients.

A plain Django view, not a DRF one: it is no part of the public API and never appears in
the OpenAPI schema.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from prometheus_client.exposition import choose_encoder
from rest_framework.exceptions import MethodNotAllowed

from verification import metrics_collector

# Headers a reverse proxy adds: a request carrying one came from elsewhere, even when the
# proxy (nginx on the same host) connects from loopback.
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        refusal = MethodNotAllowed(request.method or "")
        response = JsonResponse({"error": str(refusal.detail), "code": "method_not_allowed"})
        response.status_code, response["Allow"] = 405, "GET, HEAD"
        return response
    credentials = settings.METRICS_BASIC_AUTH
    if credentials:
        if not _authorized(request, credentials):
            response = JsonResponse(
                {"error": _("Требуется авторизация"), "code": "not_authenticated"}, status=401
            )
            response["WWW-Authenticate"] = 'Basic realm="metrics"'
            return response
    elif not _is_direct_loopback(request):
        return JsonResponse({"error": _("Доступ запрещён"), "code": "forbidden"}, status=403)
    encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(encoder(metrics_collector.registry()), content_type=content_type)


def _is_direct_loopback(request: HttpRequest) -> bool:
    if any(request.META.get(header) for header in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _authorized(request: HttpRequest, credentials: str) -> bool:
    scheme, _sep, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, credentials.encode())
