from __future__ import annotations

import pytest
from django.test import RequestFactory

from verification.api.client_ip import client_ip


def request_from(remote: str, forwarded: str | None = None):
    request = RequestFactory().post("/")
    request.META["REMOTE_ADDR"] = remote
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_without_trusted_proxies_the_peer_is_the_client(settings):
    settings.TRUSTED_PROXIES = []

    assert client_ip(request_from("203.0.113.7", "1.2.3.4")) == "203.0.113.7"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("198.51.100.1", "198.51.100.1"),
        # a client-supplied first hop is ignored: the nearest untrusted hop wins
        ("6.6.6.6, 198.51.100.1", "198.51.100.1"),
        ("198.51.100.1, 10.0.0.2", "198.51.100.1"),  # through two of our proxies
        ("", "10.0.0.1"),
        ("not-an-ip", "10.0.0.1"),
    ],
)
def test_trusted_proxy_forwarded_for(settings, forwarded, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert client_ip(request_from("10.0.0.1", forwarded)) == expected


def test_untrusted_peer_cannot_claim_an_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert client_ip(request_from("203.0.113.7", "1.2.3.4")) == "203.0.113.7"
