"""The send circuit-breaker: after "Insufficient funds" every worker pauses sending.

Without it, each queued code would burn a provider call (and a log line) only to be
refused. State lives in Redis so all workers share it; the key's TTL is the cooldown, after
which one send probes again, and the balance task closes it early when funds return. With
Redis down the breaker reads closed: sending matters more than saving calls.
"""

from __future__ import annotations

import logging
import math
import time

from verification.redis_client import redis_or

logger = logging.getLogger(__name__)

KEY = "verification:breaker:funds"
# Seconds a worker process trusts its last reading of the breaker before every send (one
# Redis round trip per send otherwise). A breaker another process opens stops this one's
# sends at most this much later; each of those few calls is refused by the provider and
# retried like the first.
SEND_CHECK_MAX_AGE = 1.0


def pause_remaining() -> int:
    """Seconds sends stay paused; 0 when the breaker is closed."""
    return max(0, int(redis_or(0, lambda redis: redis.ttl(KEY))))


# This process's last reading of the breaker: (paused until, read at), monotonic seconds;
# one tuple, so threads swap it whole.
_last: tuple[float, float] = (0.0, float("-inf"))


def send_pause() -> int:
    """pause_remaining() for the send path: read at most every SEND_CHECK_MAX_AGE seconds."""
    global _last
    now = time.monotonic()
    until, read_at = _last
    if now - read_at > SEND_CHECK_MAX_AGE:
        paused = pause_remaining()
        until, _last = now + paused, (now + paused, now)
    return max(0, math.ceil(until - now))


def open_breaker(pause: int) -> None:
    logger.error("GreenSMS reports insufficient funds: sends paused for %s s", pause)
    global _last
    _last = (time.monotonic() + pause, time.monotonic())
    redis_or(None, lambda redis: redis.set(KEY, "1", ex=pause))


def close_breaker() -> bool:
    """Returns True when the breaker was open."""
    forget_reading()
    closed = bool(redis_or(0, lambda redis: redis.delete(KEY)))
    if closed:
        logger.warning("GreenSMS funds are back: sends resume")
    return closed


def forget_reading() -> None:
    """The next send reads the breaker from Redis."""
    global _last
    _last = (0.0, float("-inf"))
