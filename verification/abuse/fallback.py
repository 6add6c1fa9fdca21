"""The send limits and spend caps counted from the database while Redis is down (SPEC §7).

The rows remember what Redis counted: phone, client_ip and created_at. Callers hold the
phone's advisory lock (services._lock_phone), so two requests for one phone cannot both
pass. The per-IP count and the spend count are not serialised: concurrent requests from one
IP may overshoot by the number in flight, which is bounded by the web workers. The adaptive
rules the rows can answer cheaply are in rules_db.py.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from verification.abuse import budget, policy
from verification.abuse.clients import NO_CLIENT, client_key, client_network
from verification.abuse.limits import DAY, HOUR, cooldown_after
from verification.exceptions import RateLimited, SendingPaused
from verification.models import SMSVerification

# Windows this process has logged a pause for: one ERROR per window, as with Redis.
_paused_windows: set[tuple[str, int]] = set()


def check_send(*, phone: str, client_ip: str | None, now: datetime, per_phone: bool = True) -> int:
    """Raises RateLimited or SendingPaused; returns the pair's cooldown in seconds."""
    client = client_key(client_ip)
    cooldown = 0
    if per_phone:
        cooldown = _check_phone(phone, client, now)
    if client != NO_CLIENT and client_ip:
        _check_ip(client_ip, now)
    _check_spend(now)
    return cooldown


def _check_phone(phone: str, client: str, now: datetime) -> int:
    ceiling = settings.RATE_LIMIT_PHONE_CEILING
    rows = list(
        SMSVerification.objects.filter(phone=phone, created_at__gt=now - timedelta(seconds=DAY))
        .order_by("created_at")
        .values_list("client_ip", "created_at")
    )
    hour_ago = now - timedelta(seconds=HOUR)
    hour = [created for _, created in rows if created > hour_ago]
    pair_day = [created for ip, created in rows if client_key(ip) == client]
    pair_hour = [created for created in pair_day if created > hour_ago]
    day = [created for _, created in rows]
    for times, limit, window in (
        (hour, settings.RATE_LIMIT_SEND_PER_HOUR * ceiling, HOUR),
        (day, settings.RATE_LIMIT_SEND_PER_DAY * ceiling, DAY),
        (pair_hour, settings.RATE_LIMIT_SEND_PER_HOUR, HOUR),
        (pair_day, settings.RATE_LIMIT_SEND_PER_DAY, DAY),
    ):
        if len(times) >= limit:
            raise RateLimited(_seconds_until(times[-limit] + timedelta(seconds=window), now))
    if pair_hour:
        ready = pair_hour[-1] + timedelta(seconds=cooldown_after(len(pair_hour)))
        if ready > now:
            raise RateLimited(_seconds_until(ready, now))
    return cooldown_after(len(pair_hour) + 1)


def client_rows(client_ip: str, since: datetime) -> QuerySet[SMSVerification]:
    """The rows created after `since` by the client `client_ip` counts as (its IPv6 /64)."""
    network = client_network(client_ip)
    rows = SMSVerification.objects.filter(created_at__gt=since)
    if network.num_addresses == 1:
        return rows.filter(client_ip=str(network.network_address))
    if connection.vendor == "postgresql":
        # An IPv6 /64 as a range of the (client_ip, created_at) index (inet order).
        return rows.filter(
            client_ip__gte=str(network.network_address),
            client_ip__lte=str(network.broadcast_address),
        )
    # Elsewhere (SQLite in development) addresses are text, which has no network order:
    # the window's IPv6 rows are matched against the network here.
    members = [
        pk
        for pk, ip in rows.filter(client_ip__contains=":").values_list("pk", "client_ip")
        if ip and ipaddress.ip_address(ip) in network
    ]
    return rows.filter(pk__in=members)


def _check_ip(client_ip: str, now: datetime) -> None:
    rows = client_rows(client_ip, now - timedelta(seconds=HOUR))
    limit = settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR
    times = list(rows.order_by("-created_at").values_list("created_at", flat=True)[:limit])
    if len(times) >= limit:
        raise RateLimited(_seconds_until(times[-1] + timedelta(seconds=HOUR), now))


def _check_spend(now: datetime) -> None:
    price = Decimal(str(settings.GREEN_SMS_PRICE))
    for setting, window, _ in budget.CAPS:
        cap = policy.budget(setting)
        if cap is None:
            continue
        start = datetime.fromtimestamp(now.timestamp() // window * window, tz=now.tzinfo)
        sent = SMSVerification.objects.filter(created_at__gte=start).count()
        if (sent + 1) * price > cap:
            remaining = int(window - now.timestamp() % window) + 1
            bucket = (setting, int(now.timestamp() // window))
            budget.log_pause(bucket not in _paused_windows, remaining)
            _paused_windows.add(bucket)
            raise SendingPaused(remaining)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds()) + 1)
