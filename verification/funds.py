"""The send circuit-breaker: after "Insufficient funds" every worker pauses sending.

Without it, each queued code would burn a provider call (and a log line) only to be
refused. State lives in Redis so all workers share it; the key's TTL is the cooldown, after
which one send probes again, and the balance task closes it early when funds return. With
Redis down the breaker reads closed: sending matters more than saving calls.
"""

from __future__ import annotations

import logging

from verification.redis_client import redis_or

logger = logging.getLogger(__name__)

KEY = "verification:breaker:funds"


def pause_remaining() -> int:
    """Seconds sends stay paused; 0 when the breaker is closed."""
    return max(0, int(redis_or(0, lambda redis: redis.ttl(KEY))))


def open_breaker(pause: int) -> None:
    logger.error("GreenSMS reports insufficient funds: sends paused for %s s", pause)
    redis_or(None, lambda redis: redis.set(KEY, "1", ex=pause))


def close_breaker() -> bool:
    """Returns True when the breaker was open."""
    closed = bool(redis_or(0, lambda redis: redis.delete(KEY)))
    if closed:
        logger.warning("GreenSMS funds are back: sends resume")
    return closed
