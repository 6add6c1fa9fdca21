"""The client's IP: REMOTE_ADDR, or X-Forwarded-For when the request came through a proxy
we trust (TRUSTED_PROXIES). Anyone can send the header; believing it from anywhere would let
a client pick its own rate-limit key."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies if proxy)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def from_trusted_proxy(request: HttpRequest) -> bool:
    """Whether the request's direct peer is one of TRUSTED_PROXIES."""
    remote = request.META.get("REMOTE_ADDR") or ""
    return _is_trusted(remote, _trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    networks = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if remote is None or not networks or not _is_trusted(remote, networks):
        return remote
    # Walk the chain from the nearest hop: the first address we do not trust is the client.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # a malformed header from a trusted proxy: fall back to it
    return remote
