"""The fixed limits of SPEC §11.2, counted per phone *and* client so nobody is locked out.

Every per-phone limit counts the phone-and-client pair at its configured value; the phone
alone may reach RATE_LIMIT_PHONE_CEILING times as much. A stranger who spends his own quota
on someone's number (sends or wrong guesses) leaves its owner, at another address, his.
The resend cooldown is the pair's too: it doubles with each code the pair got this hour.
Clients are IPs, IPv6 by /64 (clients.py).
"""

from __future__ import annotations

from django.conf import settings

from verification.abuse.clients import NO_CLIENT
from verification.abuse.gate import Cooldown
from verification.ratelimit import Limit, rate_limiter

HOUR = 3600
DAY = 86400
# The index in send_limits() of the pair's hourly counter, which drives the cooldown.
PAIR_HOUR = 2


def send_limits(phone: str, client: str, *, per_phone: bool = True) -> list[Limit]:
    """The first limit is the phone's hourly one (its count tells a phone's first code).

    `per_phone=False` (test numbers) keeps only the per-client limit.
    """
    ceiling = settings.RATE_LIMIT_PHONE_CEILING
    limits = []
    if per_phone:
        limits = [
            Limit(f"send:phone:{phone}", settings.RATE_LIMIT_SEND_PER_HOUR * ceiling, HOUR),
            Limit(f"send:phone-day:{phone}", settings.RATE_LIMIT_SEND_PER_DAY * ceiling, DAY),
            Limit(f"send:pair:{phone}:{client}", settings.RATE_LIMIT_SEND_PER_HOUR, HOUR),
            Limit(f"send:pair-day:{phone}:{client}", settings.RATE_LIMIT_SEND_PER_DAY, DAY),
        ]
    if client != NO_CLIENT:
        limits.append(Limit(f"send:ip:{client}", settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR, HOUR))
    return limits


def resend_cooldown(phone: str, client: str) -> Cooldown:
    return Cooldown(f"cooldown:{phone}:{client}", settings.VERIFICATION_RESEND_COOLDOWN, PAIR_HOUR)


def cooldown_after(codes_this_hour: int) -> int:
    """Seconds before the pair's next code, after its n-th code this hour: 60, 120, 240…"""
    return int(settings.VERIFICATION_RESEND_COOLDOWN * 2 ** max(0, codes_this_hour - 1))


def verify_retry_after(phone: str, client: str) -> int:
    """0 when the verify request is allowed (and counted). Raises RedisUnavailable."""
    limits = [
        Limit(f"verify:pair:{phone}:{client}", settings.RATE_LIMIT_VERIFY_PER_HOUR, HOUR),
        Limit(
            f"verify:phone:{phone}",
            settings.RATE_LIMIT_VERIFY_PER_HOUR * settings.RATE_LIMIT_PHONE_CEILING,
            HOUR,
        ),
    ]
    if client != NO_CLIENT:
        limits.append(
            Limit(f"verify:ip:{client}", settings.RATE_LIMIT_VERIFY_PER_IP_PER_HOUR, HOUR)
        )
    return rate_limiter.hit(limits).retry_after
