"""Start-up validation of settings whose mistakes would fail open (project/settings.py).

Pure functions of the values, importable before Django is set up: each raises
ImproperlyConfigured with what to change, so the process stops at start instead of running
with, say, every client sharing one rate-limit key or codes crossing the network in clear.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

LOOPBACK_NAMES = ("localhost",)


def trusted_proxies(values: list[str]) -> list[str]:
    """TRUSTED_PROXIES: IPs or CIDRs; none may trust everybody (anyone could then choose
    the address the rate limits see)."""
    proxies = [value.strip() for value in values if value.strip()]
    for proxy in proxies:
        try:
            network = ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {proxy!r} is not an IP address or CIDR network"
            ) from None
        if network.prefixlen == 0:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {proxy} trusts every address; list the proxies themselves"
            )
    return proxies


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def provider_url(url: str) -> str:
    """GREEN_SMS_BASE_URL: https, unless it points at this machine (the sandbox)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        host, parts = "", None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ImproperlyConfigured(f"GREEN_SMS_BASE_URL must be an https URL, not {url!r}")
    if parts.scheme != "https" and not is_loopback(host):
        # The client sends the login, the password and the code in the query string.
        raise ImproperlyConfigured(
            "GREEN_SMS_BASE_URL must use https unless it points at loopback (the sandbox): "
            "the provider login, password and codes travel in its query string"
        )
    return url
