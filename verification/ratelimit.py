"""Rate limits counted in Redis: one atomic script, one round trip per check.

Windows start at a key's first hit and last `window` seconds. When Redis is down, callers
count per-phone limits from the database instead (see services.py); per-IP limits are then
not enforced, which the warning of the outage breaker says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from redis.exceptions import RedisError

from verification.redis_client import get_redis, redis_failed

KEY_PREFIX = "verification:rl:"

# All limits are checked before any is counted: a refused request costs no quota.
# Returns 0 when allowed, else the seconds until the first exhausted window resets.
_HIT_SCRIPT = """
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= limit then
    local ttl = redis.call('TTL', key)
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i])
      redis.call('EXPIRE', key, ttl)
    end
    return ttl
  end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('EXPIRE', key, tonumber(ARGV[2 * i]))
  end
end
return 0
"""


class Limit(NamedTuple):
    key: str
    limit: int
    window: int  # seconds


class RateLimiter:
    def __init__(self) -> None:
        self._script: Any = None

    def hit(self, limits: Sequence[Limit]) -> int:
        """Count one request against every limit, atomically.

        Returns 0 when allowed (all counted), else the Retry-After seconds (none counted).
        Raises RedisUnavailable when Redis cannot answer.
        """
        client = get_redis()
        if self._script is None:
            self._script = client.register_script(_HIT_SCRIPT)
        args: list[int] = []
        for limit in limits:
            args += [limit.limit, limit.window]
        try:
            return int(
                self._script(
                    keys=[KEY_PREFIX + limit.key for limit in limits], args=args, client=client
                )
            )
        except RedisError as exc:
            raise redis_failed(exc) from exc

    def check_rate_limit(self, key: str, limit: int, window: int) -> bool:
        """The seed's API: True (and counted) when `key` is still under `limit` per `window`."""
        return self.hit([Limit(key, limit, window)]) == 0

    def reset(self, key: str) -> None:
        try:
            get_redis().delete(KEY_PREFIX + key)
        except RedisError as exc:
            raise redis_failed(exc) from exc


rate_limiter = RateLimiter()
