from __future__ import annotations

import threading

import pytest

from verification.ratelimit import Limit, RateLimiter
from verification.redis_client import RedisUnavailable


def test_check_rate_limit_allows_up_to_the_limit_then_refuses():
    limiter = RateLimiter()

    results = [limiter.check_rate_limit("test:key", limit=3, window=60) for _ in range(5)]

    assert results == [True, True, True, False, False]


def test_hit_returns_seconds_until_the_window_resets():
    limiter = RateLimiter()
    limiter.hit([Limit("test:window", 1, 120)])

    retry_after = limiter.hit([Limit("test:window", 1, 120)]).retry_after

    assert 118 <= retry_after <= 120


def test_a_refused_request_counts_against_no_limit():
    # given: the IP is exhausted, the phone is not
    limiter = RateLimiter()
    limiter.hit([Limit("test:ip", 1, 60)])

    # when: a request is refused by the IP limit
    assert limiter.hit([Limit("test:phone", 2, 60), Limit("test:ip", 1, 60)]).retry_after > 0

    # then: the phone's quota was not spent
    assert limiter.hit([Limit("test:phone", 2, 60)]) == (0, 1)
    assert limiter.hit([Limit("test:phone", 2, 60)]) == (0, 2)
    assert limiter.hit([Limit("test:phone", 2, 60)]).retry_after > 0


def test_concurrent_hits_never_exceed_the_limit():
    limiter = RateLimiter()
    allowed: list[bool] = []
    barrier = threading.Barrier(16)

    def hit() -> None:
        barrier.wait()
        for _ in range(10):
            allowed.append(limiter.check_rate_limit("test:race", limit=25, window=60))

    threads = [threading.Thread(target=hit) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert allowed.count(True) == 25


@pytest.mark.usefixtures("redis_down")
def test_redis_down_raises_redis_unavailable_fast():
    limiter = RateLimiter()

    with pytest.raises(RedisUnavailable):
        limiter.check_rate_limit("test:down", limit=1, window=60)


def test_then_set_is_written_only_when_allowed():
    from django_redis import get_redis_connection

    limiter = RateLimiter()
    redis = get_redis_connection("default")

    allowed = limiter.hit([Limit("test:set", 1, 60)], then_set=("verification:t:a", "one", 30))
    refused = limiter.hit([Limit("test:set", 1, 60)], then_set=("verification:t:b", "two", 30))

    assert (allowed.retry_after, refused.retry_after > 0) == (0, True)
    assert redis.get("verification:t:a") == b"one"
    assert 0 < redis.ttl("verification:t:a") <= 30
    assert redis.get("verification:t:b") is None


def test_the_seeds_call_on_the_class_allows_five_an_hour():
    phone = "+79991234567"

    results = [RateLimiter.check_rate_limit(phone, limit=5, window=3600) for _ in range(6)]

    assert results == [True] * 5 + [False]
