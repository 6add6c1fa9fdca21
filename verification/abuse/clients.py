"""The client a limit or rule counts: its IP, or its IPv6 /64.

One IPv6 subscriber usually holds a whole /64 (often a /56 or more): counting single
addresses would give each attacker billions of fresh quotas.
"""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64
NO_CLIENT = "-"


def client_key(ip: str | None) -> str:
    """`1.2.3.4`, `2001:db8:1:2::/64`, or `-` when the address is unknown."""
    if not ip:
        return NO_CLIENT
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def client_network(ip: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The network `client_key` counts `ip` in (a /32 for IPv4)."""
    return ipaddress.ip_network(client_key(ip), strict=False)
