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
# KEYS: the n counters, then optionally one key to SET when the request is allowed.
# ARGV: n, a (limit, window) pair per counter, then the value and TTL for that SET.
# Returns {retry_after, count}: 0 and the first counter's new count when allowed, else the
# seconds until the first exhausted window resets.
_HIT_SCRIPT = """
local n = tonumber(ARGV[1])
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[2 * i]) then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i + 1])
      redis.call('EXPIRE', KEYS[i], ttl)
    end
    return {ttl, count}
  end
end
local first = 0
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then
    redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2 * i + 1]))
  end
  if i == 1 then first = count end
end
if #KEYS > n then
  redis.call('SET', KEYS[n + 1], ARGV[2 * n + 2], 'EX', tonumber(ARGV[2 * n + 3]))
end
return {0, first}
"""


class Limit(NamedTuple):
    key: str
    limit: int
    window: int  # seconds


class Hit(NamedTuple):
    retry_after: int  # 0: allowed and counted
    hits: int  # the first limit's count, this request included


class RateLimiter:
    def __init__(self) -> None:
        self._script: Any = None

    def hit(self, limits: Sequence[Limit], *, then_set: tuple[str, str, int] | None = None) -> Hit:
        """Count one request against every limit, atomically, in one round trip.

        When allowed, also SETs `then_set` (key, value, ttl) in the same round trip.
        Raises RedisUnavailable when Redis cannot answer.
        """
        client = get_redis()
        if self._script is None:
            self._script = client.register_script(_HIT_SCRIPT)
        keys = [KEY_PREFIX + limit.key for limit in limits]
        args: list[int | str] = [len(limits)]
        for limit in limits:
            args += [limit.limit, limit.window]
        if then_set is not None:
            keys.append(then_set[0])
            args += [then_set[1], then_set[2]]
        try:
            retry_after, count = self._script(keys=keys, args=args, client=client)
        except RedisError as exc:
            raise redis_failed(exc) from exc
        return Hit(int(retry_after), int(count))

    @classmethod
    def check_rate_limit(cls, key: str, limit: int, window: int) -> bool:
        """The seed's API, called on the class as the seed does
        (`RateLimiter.check_rate_limit(phone, limit=5, window=3600)`): True, and counted, when
        `key` is still under `limit` per `window` seconds. Raises RedisUnavailable."""
        return rate_limiter.hit([Limit(key, limit, window)]).retry_after == 0


rate_limiter = RateLimiter()
