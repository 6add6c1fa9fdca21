"""Every send-path check in one Redis round trip (SPEC §11): the send-gate script.

It extends the rate limiter's script (verification/ratelimit.py) with the resend cooldown,
the adaptive rules and the spend caps. In order, cheapest refusal first:

1. fixed limits: every counter is checked before any is counted (a refused request costs
   no quota), as in the rate limiter;
2. the resend cooldown of the phone-and-client pair;
3. the adaptive rules (rules.py): with `deny`, a fired rule refuses the request and counts
   nothing; with `record_only` it is only reported;
4. the spend caps (budget.py): the message's price must fit under every cap;
5. then, atomically: the counters, the next cooldown (doubling with each code the pair got
   this hour), the price reserved, the rules' send counters, and the verify cache entry.

A clean request reads a few keys and writes its counters; nothing else happens.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from verification.ratelimit import KEY_PREFIX, Limit
from verification.redis_client import get_redis, redis_failed

ALLOWED, RATE_LIMITED, BLOCKED, PAUSED = 0, 1, 2, 3
# A cooldown never outgrows a day, however many codes a pair was allowed.
MAX_COOLDOWN = 86400

_GATE_SCRIPT = """
local spec = cjson.decode(ARGV[1])
local limits = spec.limits
for _, l in ipairs(limits) do
  local count = tonumber(redis.call('GET', l[1]) or '0')
  if count >= l[2] then
    local ttl = redis.call('TTL', l[1])
    if ttl < 0 then
      ttl = l[3]
      redis.call('EXPIRE', l[1], ttl)
    end
    return {1, ttl, 0, ''}
  end
end
if spec.cooldown then
  local ttl = redis.call('TTL', spec.cooldown[1])
  if ttl > 0 then return {1, ttl, 0, ''} end
end
local fired = {}
if spec.rules then
  for _, r in ipairs(spec.rules) do
    local threshold
    if r.z then
      local h = redis.call('MGET', r.h[1], r.h[2])
      threshold = math.max(r.floor, r.k * ((tonumber(h[1]) or 0) + (tonumber(h[2]) or 0) * r.h[3]))
      redis.call('ZREMRANGEBYSCORE', r.z, '-inf', r.since)
      if not redis.call('ZSCORE', r.z, r.m) and redis.call('ZCARD', r.z) + 1 > threshold then
        fired[#fired + 1] = r.id
      end
    else
      local c = redis.call('MGET', r.h[1], r.h[2], r.s[1], r.s[2], r.v[1], r.v[2])
      threshold = math.max(r.floor, r.k * ((tonumber(c[1]) or 0) + (tonumber(c[2]) or 0) * r.h[3]))
      local unverified = (tonumber(c[3]) or 0) + (tonumber(c[4]) or 0) * r.s[3]
        - (tonumber(c[5]) or 0) - (tonumber(c[6]) or 0) * r.v[3]
      if unverified + 1 > threshold then fired[#fired + 1] = r.id end
    end
  end
  if #fired > 0 and spec.deny then return {2, 0, 0, table.concat(fired, ',')} end
end
local price = 0
if spec.budget then
  price = tonumber(redis.call('GET', spec.budget.price[1]) or spec.budget.price[2])
  for _, c in ipairs(spec.budget.caps) do
    if tonumber(redis.call('GET', c[1]) or '0') + price > c[2] then
      local first = redis.call('SET', c[4], '1', 'NX', 'EX', c[3]) and 1 or 0
      return {3, c[3], first, table.concat(fired, ',')}
    end
  end
end
local first, pair = 0, 0
for i, l in ipairs(limits) do
  local count = redis.call('INCR', l[1])
  if count == 1 then redis.call('EXPIRE', l[1], l[3]) end
  if i == 1 then first = count end
  if spec.cooldown and i == spec.cooldown[3] then pair = count end
end
local cooldown = 0
if spec.cooldown then
  cooldown = math.min(spec.cooldown[4], math.floor(spec.cooldown[2] * 2 ^ (pair - 1)))
  if cooldown > 0 then redis.call('SET', spec.cooldown[1], '1', 'EX', cooldown) end
end
if spec.budget then
  for _, c in ipairs(spec.budget.caps) do
    redis.call('INCRBY', c[1], price)
    redis.call('EXPIRE', c[1], c[3])
  end
  local m = spec.budget.metric
  redis.call('HINCRBYFLOAT', m[1], m[2], price / 100)
end
if spec.counts then
  for _, c in ipairs(spec.counts.incr) do
    if redis.call('INCR', c[1]) == 1 then redis.call('EXPIRE', c[1], c[2]) end
  end
  local z = spec.counts.zadd
  if z then
    redis.call('ZADD', z[1], spec.now, z[2])
    redis.call('EXPIRE', z[1], z[3])
  end
end
if spec.set then redis.call('SET', spec.set[1], spec.set[2], 'EX', spec.set[3]) end
return {0, first, cooldown, table.concat(fired, ',')}
"""


@dataclass(frozen=True)
class Cooldown:
    key: str
    base: int  # seconds after a pair's first code of the hour; doubles with each one
    limit_index: int  # which of the limits counts the pair's codes this hour


@dataclass
class GateRequest:
    now: float
    limits: Sequence[Limit] = ()
    cooldown: Cooldown | None = None
    rules: list[dict[str, Any]] | None = None
    deny: bool = True
    budget: dict[str, Any] | None = None
    counts: dict[str, Any] | None = None
    then_set: tuple[str, str, int] | None = None


@dataclass(frozen=True)
class Verdict:
    status: int  # ALLOWED, RATE_LIMITED, BLOCKED or PAUSED
    retry_after: int = 0  # RATE_LIMITED, PAUSED
    hits: int = 0  # ALLOWED: the first limit's count, this request included
    cooldown: int = 0  # ALLOWED: seconds until the pair may get another code
    first_pause: bool = False  # PAUSED: the window's first refusal (log it once)
    fired: tuple[str, ...] = field(default_factory=tuple)


class SendGate:
    def __init__(self) -> None:
        self._script: Any = None

    def script(self) -> Any:
        """The script, registered with redis-py (its `sha` names it to EVALSHA)."""
        if self._script is None:
            self._script = get_redis().register_script(_GATE_SCRIPT)
        return self._script

    def check(self, request: GateRequest) -> Verdict:
        """Raises RedisUnavailable when Redis cannot answer."""
        return self.run(spec_json(request))

    def run(self, spec: str) -> Verdict:
        """The script on a spec of `spec_json`. Raises RedisUnavailable."""
        client = get_redis()
        try:
            status, a, b, fired = self.script()(keys=[], args=[spec], client=client)
        except RedisError as exc:
            raise redis_failed(exc) from exc
        rules = tuple(fired.decode().split(",")) if fired else ()
        status = int(status)
        if status == ALLOWED:
            return Verdict(ALLOWED, hits=int(a), cooldown=int(b), fired=rules)
        if status == PAUSED:
            return Verdict(PAUSED, retry_after=int(a), first_pause=bool(b), fired=rules)
        return Verdict(status, retry_after=int(a), fired=rules)


def spec_json(request: GateRequest) -> str:
    """The script's one argument: the request's keys, limits, rules and caps."""
    spec: dict[str, Any] = {
        "now": request.now,
        "limits": [[KEY_PREFIX + lim.key, lim.limit, lim.window] for lim in request.limits],
        "deny": request.deny,
    }
    if request.cooldown is not None:
        c = request.cooldown
        spec["cooldown"] = [KEY_PREFIX + c.key, c.base, c.limit_index + 1, MAX_COOLDOWN]
    for name in ("rules", "budget", "counts"):
        value = getattr(request, name)
        if value:
            spec[name] = value
    if request.then_set is not None:
        spec["set"] = list(request.then_set)
    return json.dumps(spec)


send_gate = SendGate()
