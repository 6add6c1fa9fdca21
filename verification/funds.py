"""The send circuit-breaker: after "Insufficient funds" every worker pauses sending.

Without it, each queued code would burn a provider call (and a log line) only to be
refused. State lives in Redis so all workers share it; the key's TTL is the cooldown, after
which one send probes again, and the balance task closes it early when funds return. With
Redis down the breaker reads closed: sending matters more than saving calls.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from verification.redis_client import RedisUnavailable, get_redis, redis_failed

logger = logging.getLogger(__name__)

KEY = "verification:breaker:funds"


def pause_remaining() -> int:
    """Seconds sends stay paused; 0 when the breaker is closed."""
    try:
        ttl = get_redis().ttl(KEY)
    except RedisUnavailable:
        return 0
    except RedisError as exc:
        redis_failed(exc)
        return 0
    return max(0, int(ttl))


def open_breaker(pause: int) -> None:
    logger.error("GreenSMS reports insufficient funds: sends paused for %s s", pause)
    try:
        get_redis().set(KEY, "1", ex=pause)
    except RedisUnavailable:
        return
    except RedisError as exc:
        redis_failed(exc)


def close_breaker() -> bool:
    """Returns True when the breaker was open."""
    try:
        closed = bool(get_redis().delete(KEY))
    except RedisUnavailable:
        return False
    except RedisError as exc:
        redis_failed(exc)
        return False
    if closed:
        logger.warning("GreenSMS funds are back: sends resume")
    return closed
