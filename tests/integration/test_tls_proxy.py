"""Behind a TLS proxy: X-Forwarded-Proto counts from TRUSTED_PROXIES only, and then the
service redirects plain http, sends HSTS and marks its cookies secure."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.10"


@pytest.fixture
def behind_tls_proxy(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    return settings


def get(path: str, remote: str, **headers: Any):
    return Client(REMOTE_ADDR=remote).get(path, **headers)


def test_https_through_the_trusted_proxy_is_served_with_hsts(behind_tls_proxy):
    response = get("/api/schema/", PROXY, HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"


def test_a_client_claiming_https_directly_is_not_believed(behind_tls_proxy):
    # when: a client that reaches gunicorn itself says the request came over TLS
    response = get("/api/schema/", "203.0.113.7", HTTP_X_FORWARDED_PROTO="https")

    # then: it is plain http to the service: redirected, no HSTS
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert "Strict-Transport-Security" not in response


def test_host_probes_are_not_redirected(behind_tls_proxy):
    response = get("/health/", "127.0.0.1")

    assert response.status_code in (200, 503)
