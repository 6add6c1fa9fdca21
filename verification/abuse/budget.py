"""Spend caps (SPEC §11.4): what sends cost, reserved when a code is accepted.

Prices come from the provider's tariff (`account.tariff`, refreshed by beat into Redis) or
GREEN_SMS_PRICE. Spend is counted per calendar hour and day (UTC) in hundredths of the
account's currency. The send-gate script reserves a message's price atomically with every
other check, so a burst of concurrent requests can never take the spend past a cap: the one
that would cross it is refused (503 `sending_paused`) and so is everything after it until
the window ends.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings

from verification import metrics
from verification.abuse import policy
from verification.redis_client import redis_or

logger = logging.getLogger(__name__)

PREFIX = "verification:spend:"
TARIFF_PREFIX = "verification:tariff:"
HOUR = 3600
DAY = 86400
# A tariff read from the provider stays usable this long without a refresh: an outage of
# the provider's API keeps the last real price rather than falling back to a guess.
TARIFF_TTL = 7 * DAY
CAPS = (("GREEN_SMS_BUDGET_PER_HOUR", HOUR, "h"), ("GREEN_SMS_BUDGET_PER_DAY", DAY, "d"))


def cents(amount: Decimal | float | str) -> int:
    return int((Decimal(str(amount)) * 100).to_integral_value())


def default_price_cents() -> int:
    return cents(settings.GREEN_SMS_PRICE)


def tariff_key(channel: str) -> str:
    return TARIFF_PREFIX + channel


def script_budget(now: float, channel: str = "sms") -> dict[str, Any]:
    """The price, the caps (if any) and the spend metric, as the send-gate script uses
    them: an accepted message adds its price to `verification_spend_total{channel}` in the
    same round trip."""
    caps = []
    for setting, window, name in CAPS:
        cap = policy.budget(setting)
        if cap is None:
            continue
        bucket = int(now // window)
        remaining = int(window - now % window) + 1
        caps.append(
            [f"{PREFIX}{name}:{bucket}", cents(cap), remaining, f"{PREFIX}alert:{name}:{bucket}"]
        )
    return {
        "price": [tariff_key(channel), default_price_cents()],
        "caps": caps,
        "metric": [metrics.SPEND.key, metrics.label_field((channel,))],
    }


def log_pause(first_in_window: bool, retry_after: int) -> None:
    """One ERROR per window (the script says which refusal was the window's first)."""
    if first_in_window:
        logger.error("spend cap reached: new sends paused for %s s", retry_after)


def store_tariff(prices: dict[str, Decimal]) -> int:
    """Keep the provider's prices for the send path; returns how many were stored."""

    def write(redis: Any) -> int:
        pipe = redis.pipeline(transaction=False)
        for channel, price in prices.items():
            pipe.set(tariff_key(channel), cents(price), ex=TARIFF_TTL)
        pipe.execute()
        return len(prices)

    return redis_or(0, write)


def spent(window: int, now: float) -> Decimal:
    name = "h" if window == HOUR else "d"
    raw = redis_or(None, lambda redis: redis.get(f"{PREFIX}{name}:{int(now // window)}"))
    return Decimal(int(raw or 0)) / 100
