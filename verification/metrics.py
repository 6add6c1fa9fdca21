"""The service's Prometheus metrics (SPEC §14): their definitions and the calls that count.

Counters and the latency histogram live in Redis, one hash per metric, a field per label
set, so web processes and workers on any host add to the same numbers and nothing resets
or doubles when a process restarts (verification/metrics_collector.py reads them at scrape
time; gauges are computed there from the database, the broker and Redis). Each process adds
its counts in batches, at most VERIFICATION_METRICS_FLUSH_INTERVAL seconds late (_Buffer).
Counting is best effort: it never slows or fails the request or task that caused it; with
Redis down the counts wait in the process for its return.

Call sites use the small functions at the bottom (`send_request("accepted")`, …), never
Redis directly.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings

from verification.redis_client import redis_or

logger = logging.getLogger(__name__)

KEY_PREFIX = "verification:metrics:"
# Until rows know their channel (SPEC §13), every message is an SMS.
DEFAULT_CHANNEL = "sms"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Literal["counter", "histogram", "gauge"]
    documentation: str
    labels: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.name


SEND_REQUESTS = Metric(
    "verification_send_requests_total",
    "counter",
    "send-code answers by outcome: accepted, or the error code answered",
    ("outcome",),
)
SENDS = Metric(
    "verification_sends_total",
    "counter",
    "Send attempts' results: sent (the provider took it), retry, failed; expired (never "
    "sent); fallback (a failed SMS moved to VERIFICATION_FALLBACK_CHANNEL)",
    ("channel", "result"),
)
DELIVERIES = Metric(
    "verification_deliveries_total",
    "counter",
    "Final delivery reports: delivered, failed, unknown (none within the polling horizon)",
    ("channel", "status"),
)
CHECKS = Metric(
    "verification_checks_total",
    "counter",
    "verify-code answers by outcome: verified, or the error code answered",
    ("outcome",),
)
PROVIDER_SECONDS = Metric(
    "verification_provider_request_seconds",
    "histogram",
    "Duration of GreenSMS calls (send, status, balance), errors included",
    ("operation",),
)
PROVIDER_ERRORS = Metric(
    "verification_provider_errors_total",
    "counter",
    "GreenSMS calls that raised, by operation and error class",
    ("operation", "error"),
)
ABUSE_DECISIONS = Metric(
    "verification_abuse_decisions_total",
    "counter",
    "send-code requests on which an abuse rule fired, by rule and decision",
    ("rule", "decision"),
)
SPEND = Metric(
    "verification_spend_total",
    "counter",
    "Money committed to messages, in the account's currency",
    ("channel",),
)
COUNTERS = (
    SEND_REQUESTS,
    SENDS,
    DELIVERIES,
    CHECKS,
    PROVIDER_ERRORS,
    ABUSE_DECISIONS,
    SPEND,
)

# Provider latency buckets (seconds): the sandbox answers in ~1 ms, GreenSMS in ~0.1-0.5 s,
# and GREEN_SMS_TIMEOUT (10 s) bounds every call.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INF = "+Inf"

# Scrape-time gauges (verification/metrics_collector.py), listed here so every name is in
# one place.
QUEUE_DEPTH = Metric(
    "verification_queue_depth", "gauge", "Messages waiting in the broker queue", ("queue",)
)
OLDEST_QUEUED = Metric(
    "verification_oldest_queued_seconds",
    "gauge",
    "Age of the oldest live code not yet handed to the provider (queued or sending); 0: none",
)
BALANCE = Metric(
    "verification_provider_balance",
    "gauge",
    "GreenSMS balance as last read by the balance check",
)
LOW_BALANCE = Metric(
    "verification_provider_low_balance_threshold",
    "gauge",
    "GREEN_SMS_LOW_BALANCE: a balance below it is low",
)
BALANCE_AGE = Metric(
    "verification_provider_balance_age_seconds",
    "gauge",
    "Seconds since the balance was last read",
)
FUNDS_BREAKER = Metric(
    "verification_funds_breaker_open",
    "gauge",
    "1 while sends are paused after the provider reported insufficient funds",
)
WORKERS = Metric(
    "verification_workers",
    "gauge",
    "Celery workers that reported consuming the queue within the last heartbeat window",
    ("queue",),
)
SPEND_BUDGET = Metric(
    "verification_spend_budget",
    "gauge",
    "Spend cap per window (GREEN_SMS_BUDGET_PER_HOUR / _PER_DAY), when set",
    ("window",),
)

# Plain keys beside the hashes.
BALANCE_KEY = KEY_PREFIX + "balance"  # hash: value, read_at
WORKERS_KEY = KEY_PREFIX + "workers"  # hash: worker hostname -> {"seen", "queues"}


def label_field(values: tuple[str, ...]) -> str:
    """The hash field of one label set (JSON: any label value is safe)."""
    return json.dumps(values, separators=(",", ":"))


def parse_field(field: str | bytes) -> tuple[str, ...]:
    return tuple(json.loads(field))


def _increment(metric: Metric, values: tuple[str, ...], amount: int = 1) -> None:
    if amount:
        _buffer.add(metric.key, label_field(values), amount)


def bucket_for(seconds: float) -> str:
    """The upper bound of the one (non-cumulative) bucket `seconds` falls in."""
    index = bisect_left(LATENCY_BUCKETS, seconds)
    return repr(LATENCY_BUCKETS[index]) if index < len(LATENCY_BUCKETS) else INF


def _observe(metric: Metric, values: tuple[str, ...], seconds: float) -> None:
    """The bucket's count and the sum (the count is the buckets' total)."""
    _buffer.add(metric.key, label_field((*values, bucket_for(seconds))), 1)
    _buffer.add(metric.key, label_field((*values, "sum")), seconds)


class _Buffer:
    """Counter deltas of this process, added to Redis in one round trip every
    VERIFICATION_METRICS_FLUSH_INTERVAL seconds (0: at once) by a background thread.

    A Redis round trip per event cost a send-code request a tenth of its CPU, and a worker
    one per send. Deltas are summed per hash field, so a flush is a few commands however
    many events it carries. What Redis refuses is kept for the next flush; what is pending
    when the process exits is flushed then (atexit); a process killed outright loses at
    most one interval of counts. A scrape flushes its own process first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deltas: dict[tuple[str, str], int | float] = {}
        self._pid = 0

    def add(self, key: str, field: str, amount: float) -> None:
        interval = float(settings.VERIFICATION_METRICS_FLUSH_INTERVAL)
        with self._lock:
            if self._pid != os.getpid():
                self._start(interval)
            self._deltas[(key, field)] = self._deltas.get((key, field), 0) + amount
        if interval <= 0:
            self.flush()

    def _start(self, interval: float) -> None:
        # First event in this process (or in a forked child: the parent's deltas are the
        # parent's to flush).
        self._pid = os.getpid()
        self._deltas = {}
        if interval > 0:
            flusher = threading.Thread(target=self._flush_every, name="metrics-flush", daemon=True)
            flusher.start()

    def _flush_every(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            time.sleep(float(settings.VERIFICATION_METRICS_FLUSH_INTERVAL) or 1.0)
            self.flush()

    def flush(self) -> None:
        with self._lock:
            deltas, self._deltas = self._deltas, {}
        if not deltas:
            return

        def write(redis: Any) -> bool:
            pipe = redis.pipeline(transaction=False)
            for (key, field), amount in deltas.items():
                if isinstance(amount, float):
                    pipe.hincrbyfloat(key, field, amount)
                else:
                    pipe.hincrby(key, field, amount)
            pipe.execute()
            return True

        if not redis_or(False, write):
            # Redis is down: keep the counts for the next flush (at most one entry per
            # label set, so this never grows with traffic).
            with self._lock:
                for name, amount in deltas.items():
                    self._deltas[name] = self._deltas.get(name, 0) + amount

    def discard(self) -> None:
        with self._lock:
            self._deltas = {}


_buffer = _Buffer()
atexit.register(_buffer.flush)


def flush() -> None:
    """Write this process's pending counts now (a scrape's first step)."""
    _buffer.flush()


def discard_pending() -> None:
    """Drop this process's pending counts (tests that start from empty counters)."""
    _buffer.discard()


# The calls the service makes
# ------------------------------------------------------------------------------


def send_request(outcome: str) -> None:
    _increment(SEND_REQUESTS, (outcome,))


def check(outcome: str) -> None:
    _increment(CHECKS, (outcome,))


def sends(result: str, *, channel: str = DEFAULT_CHANNEL, count: int = 1) -> None:
    _increment(SENDS, (channel, result), count)


def deliveries(status: str, *, channel: str = DEFAULT_CHANNEL, count: int = 1) -> None:
    _increment(DELIVERIES, (channel, status), count)


def abuse_decision(*, rule: str, decision: str) -> None:
    _increment(ABUSE_DECISIONS, (rule, decision))


def spend(amount: Decimal | float, *, channel: str = DEFAULT_CHANNEL) -> None:
    """Add `amount` (may be negative: a released reservation) to the channel's spend."""
    _buffer.add(SPEND.key, label_field((channel,)), float(amount))


@contextmanager
def provider_call(operation: str) -> Iterator[None]:
    """Time one provider call (`send`, `status`, `balance`); count it as an error if it
    raises (the exception goes on)."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        _increment(PROVIDER_ERRORS, (operation, type(exc).__name__))
        raise
    finally:
        _observe(PROVIDER_SECONDS, (operation,), time.perf_counter() - started)


def record_balance(balance: Decimal) -> None:
    mapping = {"value": str(balance), "read_at": repr(time.time())}
    redis_or(None, lambda redis: redis.hset(BALANCE_KEY, mapping=mapping))


def worker_heartbeat(hostname: str, queues: list[str]) -> None:
    value = json.dumps({"seen": time.time(), "queues": sorted(queues)})
    redis_or(None, lambda redis: redis.hset(WORKERS_KEY, hostname, value))


def last_balance() -> tuple[Decimal, float] | None:
    """(balance, seconds since it was read) from the last balance check, if any."""
    stored: dict[bytes, bytes] = redis_or({}, lambda redis: redis.hgetall(BALANCE_KEY))
    if b"value" not in stored:
        return None
    return Decimal(stored[b"value"].decode()), time.time() - float(stored.get(b"read_at", 0))
