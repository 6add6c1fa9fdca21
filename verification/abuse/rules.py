"""The adaptive rules of SPEC §11.3: codes sent and never verified, over sliding windows.

Each rule compares the unverified codes of one dimension (a country, a number prefix, a
client) in a window with `max(floor, k × verified codes of that dimension over a longer
history)`. Pumping never verifies, so its threshold stays at the floor; real traffic, even a
launch-day spike, verifies most of its codes and lifts its own threshold as it grows.

Counters are Redis buckets as long as their window; a sliding count is the current bucket
plus the previous one weighted by how much of it the window still covers (the
two-bucket approximation: exact for a steady rate, within one bucket's share otherwise).
The send-gate script (gate.py) reads and bumps them in the send path's one round trip;
`count_verified` bumps the verified side when a code is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from verification.abuse.clients import NO_CLIENT
from verification.redis_client import get_redis, redis_failed

PREFIX = "verification:ab:"
HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
WINDOW_NAMES = {HOUR: "h", DAY: "d", WEEK: "w"}

# k: how many unverified codes one verified code of the longer history buys. 1.0 lets a
# dimension run at a conversion down to ~50% in a window (real SMS OTP converts 70–95%)
# whatever its size, while a dimension that never verifies stops at its floor.
K_UNVERIFIED = 1.0
# Distinct countries from one client: each 5 verified codes of the week allow one more.
K_COUNTRIES = 0.2


@dataclass(frozen=True)
class Rule:
    id: str
    dimension: str  # "c" country, "p" prefix, "i" client
    window: int
    history: int
    floor_setting: str
    k: float = K_UNVERIFIED
    distinct_countries: bool = False

    def floor(self) -> int:
        return int(getattr(settings, self.floor_setting))


RULES = (
    Rule("unverified_by_country_hour", "c", HOUR, DAY, "ABUSE_FLOOR_COUNTRY_HOUR"),
    Rule("unverified_by_country_day", "c", DAY, WEEK, "ABUSE_FLOOR_COUNTRY_DAY"),
    Rule("unverified_by_prefix_hour", "p", HOUR, DAY, "ABUSE_FLOOR_PREFIX_HOUR"),
    Rule("unverified_by_ip_hour", "i", HOUR, DAY, "ABUSE_FLOOR_IP_HOUR"),
    Rule("unverified_by_ip_day", "i", DAY, WEEK, "ABUSE_FLOOR_IP_DAY"),
    Rule(
        "countries_by_ip_day", "i", DAY, WEEK, "ABUSE_FLOOR_COUNTRIES_PER_IP",
        k=K_COUNTRIES, distinct_countries=True,
    ),
)  # fmt: skip
RULE_IDS = tuple(rule.id for rule in RULES)

# The counters a send bumps, and those a confirmed code bumps, per dimension.
SENT_WINDOWS = {"c": (HOUR, DAY), "p": (HOUR,), "i": (HOUR, DAY)}
VERIFIED_WINDOWS = {"c": (HOUR, DAY, WEEK), "p": (HOUR, DAY), "i": (HOUR, DAY, WEEK)}


@dataclass(frozen=True)
class Subject:
    """What the rules count one request under."""

    country: str
    prefix: str
    client: str  # clients.client_key(); NO_CLIENT when unknown

    def value(self, dimension: str) -> str:
        return {"c": self.country, "p": self.prefix, "i": self.client}[dimension]


def _key(kind: str, window: int, dimension: str, value: str, bucket: int) -> str:
    return f"{PREFIX}{kind}:{WINDOW_NAMES[window]}:{dimension}:{value}:{bucket}"


def _pair(kind: str, window: int, dimension: str, value: str, now: float) -> list[Any]:
    """[current bucket key, previous bucket key, weight of the previous one]."""
    bucket = int(now // window)
    weight = 1.0 - (now % window) / window
    return [
        _key(kind, window, dimension, value, bucket),
        _key(kind, window, dimension, value, bucket - 1),
        round(weight, 4),
    ]


def script_rules(subject: Subject, now: float) -> list[dict[str, Any]]:
    """The rules as the send-gate script evaluates them (see gate.py)."""
    specs = []
    for rule in RULES:
        value = subject.value(rule.dimension)
        if rule.dimension == "i" and value == NO_CLIENT:
            continue
        spec: dict[str, Any] = {
            "id": rule.id,
            "floor": rule.floor(),
            "k": rule.k,
            "h": _pair("v", rule.history, rule.dimension, value, now),
        }
        if rule.distinct_countries:
            spec["z"] = f"{PREFIX}cc:{value}"
            spec["m"] = subject.country
            spec["since"] = now - rule.window
        else:
            spec["s"] = _pair("s", rule.window, rule.dimension, value, now)
            spec["v"] = _pair("v", rule.window, rule.dimension, value, now)
        specs.append(spec)
    return specs


def script_counts(subject: Subject, now: float) -> dict[str, Any]:
    """What an accepted send adds: bucket counters (key, ttl) and the client's countries."""
    incr = []
    for dimension, windows in SENT_WINDOWS.items():
        value = subject.value(dimension)
        if dimension == "i" and value == NO_CLIENT:
            continue
        for window in windows:
            bucket = int(now // window)
            incr.append([_key("s", window, dimension, value, bucket), 2 * window])
    counts: dict[str, Any] = {"incr": incr}
    if subject.client != NO_CLIENT:
        counts["zadd"] = [f"{PREFIX}cc:{subject.client}", subject.country, DAY]
    return counts


def count_verified(subject: Subject, now: float, *, also_delete: str | None = None) -> None:
    """A confirmed code: one more verified in every window of its dimensions, in one round
    trip (with `also_delete`, the verify cache's entry). Raises RedisUnavailable."""
    from redis.exceptions import RedisError

    client = get_redis()
    try:
        pipe = client.pipeline(transaction=False)
        for dimension, windows in VERIFIED_WINDOWS.items():
            value = subject.value(dimension)
            if dimension == "i" and value == NO_CLIENT:
                continue
            for window in windows:
                key = _key("v", window, dimension, value, int(now // window))
                pipe.incr(key)
                pipe.expire(key, 2 * window)
        if also_delete:
            pipe.delete(also_delete)
        pipe.execute()
    except RedisError as exc:
        raise redis_failed(exc) from exc
