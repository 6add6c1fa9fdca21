"""`X-Forwarded-Proto` is believed from TRUSTED_PROXIES only.

Django's SECURE_PROXY_SSL_HEADER believes the header from anyone: a client reaching
gunicorn directly could claim https and get secure-only behaviour on plain http. This runs
before SecurityMiddleware and drops the header unless the direct peer is a trusted proxy.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from verification.api.client_ip import from_trusted_proxy

PROXY_HEADERS = ("HTTP_X_FORWARDED_PROTO",)


class TrustedProxyHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not from_trusted_proxy(request):
            for name in PROXY_HEADERS:
                request.META.pop(name, None)
        return self.get_response(request)
