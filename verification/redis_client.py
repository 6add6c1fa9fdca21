"""The Redis connection for rate limits and the code cache, with an outage breaker.

Redis only makes the service faster and fairer; the database stays the source of truth.
When a Redis call fails, callers fall back to the database, and for a few seconds nobody in
this process tries Redis again, so an outage costs each request nothing instead of a
socket timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django_redis import get_redis_connection
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Seconds to skip Redis after a failure before probing it again.
OUTAGE_COOLDOWN = 5.0


class RedisUnavailable(Exception):
    """Redis did not answer; fall back to the database."""


class _OutageBreaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self._down_until

    def trip(self, exc: Exception) -> None:
        with self._lock:
            if not self.is_open():
                logger.warning("Redis unavailable (%s); using the database", type(exc).__name__)
            self._down_until = time.monotonic() + OUTAGE_COOLDOWN

    def reset(self) -> None:
        self._down_until = 0.0


breaker = _OutageBreaker()


def get_redis() -> Any:
    """The raw redis-py client behind Django's cache (its pool, its short timeouts)."""
    if breaker.is_open():
        raise RedisUnavailable()
    return get_redis_connection("default")


def redis_failed(exc: RedisError) -> RedisUnavailable:
    breaker.trip(exc)
    return RedisUnavailable()


T = TypeVar("T")


def redis_or(default: T, operation: Callable[[Any], T]) -> T:
    """`operation(client)`, or `default` when Redis is down: for callers to whom Redis is
    only an optimisation (the cache, the funds breaker)."""
    try:
        return operation(get_redis())
    except RedisUnavailable:
        return default
    except RedisError as exc:
        redis_failed(exc)
        return default
