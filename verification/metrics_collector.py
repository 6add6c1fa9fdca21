"""What a scrape of /metrics reads: Redis-backed counters, and gauges computed right now.

One Redis round trip reads every counter and histogram hash, the funds breaker, the last
balance and the worker heartbeats; two indexed queries give the oldest unsent code; one
broker connection gives the queue depths. A part that cannot be read (Redis or the broker
down) is left out of the scrape rather than reported as zero, which Prometheus would take
for a counter reset.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Min
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from redis.exceptions import RedisError

from verification import funds
from verification import metrics as m
from verification.models import UNSENT_STATUSES, SMSVerification
from verification.redis_client import RedisUnavailable, get_redis, redis_failed

logger = logging.getLogger(__name__)

# The broker queues whose depth is reported (celeryconfig.task_queues).
QUEUES = ("sms", "status", "maintenance")
# A worker counts as consuming while its last heartbeat (workers/heartbeat.py, every
# HEARTBEAT_INTERVAL s) is younger than this: two missed beats and it is gone.
WORKER_ALIVE_WINDOW = 35.0
HASHED = (*m.COUNTERS, m.PROVIDER_SECONDS)


class VerificationCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        stored = _read_redis()
        if stored is not None:
            hashes, breaker_ttl, balance, workers = stored
            for metric in m.COUNTERS:
                yield _counter(metric, hashes[metric.name])
            yield _histogram(m.PROVIDER_SECONDS, hashes[m.PROVIDER_SECONDS.name])
            yield _gauge(m.FUNDS_BREAKER, [((), 1.0 if breaker_ttl > 0 else 0.0)])
            yield from _balance(balance)
            yield _workers(workers)
        depths = queue_depths()
        if depths is not None:
            yield _gauge(m.QUEUE_DEPTH, [((queue,), depths[queue]) for queue in QUEUES])
        try:
            yield _gauge(m.OLDEST_QUEUED, [((), oldest_unsent_age())])
        except DatabaseError as exc:
            logger.warning("metrics: database unavailable (%s)", type(exc).__name__)
        yield _gauge(m.LOW_BALANCE, [((), float(settings.GREEN_SMS_LOW_BALANCE))])
        yield _gauge(m.SPEND_BUDGET, list(_budgets()))


def registry() -> CollectorRegistry:
    """A registry holding only this collector: no per-process metrics (a scrape lands on
    one gunicorn worker of many, so they would flap from scrape to scrape)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(VerificationCollector())
    return reg


# Redis
# ------------------------------------------------------------------------------


def _read_redis() -> tuple[dict[str, dict[bytes, bytes]], int, dict[bytes, bytes], Any] | None:
    try:
        pipe = get_redis().pipeline(transaction=False)
        for metric in HASHED:
            pipe.hgetall(metric.key)
        pipe.ttl(funds.KEY)
        pipe.hgetall(m.BALANCE_KEY)
        pipe.hgetall(m.WORKERS_KEY)
        replies = pipe.execute()
    except RedisUnavailable:
        return None
    except RedisError as exc:
        redis_failed(exc)
        return None
    hashes = {metric.name: reply for metric, reply in zip(HASHED, replies, strict=False)}
    breaker_ttl, balance, workers = replies[len(HASHED) :]
    return hashes, int(breaker_ttl), balance, workers


def _counter(metric: m.Metric, stored: dict[bytes, bytes]) -> CounterMetricFamily:
    family = CounterMetricFamily(metric.name, metric.documentation, labels=metric.labels)
    for field, value in sorted(stored.items()):
        family.add_metric(list(m.parse_field(field)), float(value))
    return family


def _histogram(metric: m.Metric, stored: dict[bytes, bytes]) -> HistogramMetricFamily:
    """Stored: one count per (labels, bucket) and a sum per labels; exposed cumulative."""
    per_labels: dict[tuple[str, ...], dict[str, float]] = {}
    for field, value in stored.items():
        *label_values, bucket = m.parse_field(field)
        per_labels.setdefault(tuple(label_values), {})[bucket] = float(value)
    family = HistogramMetricFamily(metric.name, metric.documentation, labels=metric.labels)
    bounds = [*(repr(bound) for bound in m.LATENCY_BUCKETS), m.INF]
    for labels, counts in sorted(per_labels.items()):
        cumulative, buckets = 0.0, []
        for bound in bounds:
            cumulative += counts.get(bound, 0.0)
            buckets.append((bound, cumulative))
        family.add_metric(list(labels), buckets, counts.get("sum", 0.0))
    return family


def _balance(stored: dict[bytes, bytes]) -> Iterator[GaugeMetricFamily]:
    if b"value" not in stored:
        return  # never read yet: no sample rather than a false zero
    yield _gauge(m.BALANCE, [((), float(stored[b"value"]))])
    read_at = float(stored.get(b"read_at", b"0"))
    yield _gauge(m.BALANCE_AGE, [((), max(0.0, time.time() - read_at))])


def _workers(stored: dict[bytes, bytes]) -> GaugeMetricFamily:
    now = time.time()
    counts = dict.fromkeys(QUEUES, 0)
    for raw in stored.values():
        beat = json.loads(raw)
        if now - float(beat["seen"]) <= WORKER_ALIVE_WINDOW:
            for queue in beat["queues"]:
                counts[queue] = counts.get(queue, 0) + 1
    return _gauge(m.WORKERS, [((queue,), float(n)) for queue, n in sorted(counts.items())])


# Database and broker
# ------------------------------------------------------------------------------


def oldest_unsent_age(now: datetime | None = None) -> float:
    """Seconds since the oldest live code still waiting for the provider was created.

    One `ORDER BY created_at LIMIT 1` per status, each served by (status, created_at):
    cheap however large the table or the backlog.
    """
    now = now or timezone.now()
    oldest = [
        SMSVerification.objects.filter(status=status, expires_at__gt=now).aggregate(
            oldest=Min("created_at")
        )["oldest"]
        for status in UNSENT_STATUSES
    ]
    present = [moment for moment in oldest if moment is not None]
    return max(0.0, (now - min(present)).total_seconds()) if present else 0.0


def queue_depths() -> dict[str, float] | None:
    """Messages ready in each queue: a passive declare answers it for Redis and RabbitMQ
    alike (Redis: the lengths of the queue's lists, priorities included)."""
    from kombu.exceptions import ChannelError

    from project.celery import app as celery_app

    depths: dict[str, float] = {}
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=1)
            channel: Any = conn.channel()
            try:
                for queue in QUEUES:
                    try:
                        declared = channel.queue_declare(queue=queue, passive=True)
                        depths[queue] = float(declared.message_count)
                    except ChannelError:
                        depths[queue] = 0.0  # never declared, or (Redis) empty
                        channel.close()  # AMQP closes a channel on a failed passive declare
                        channel = conn.channel()
            finally:
                channel.close()
    except Exception as exc:  # noqa: BLE001 - kombu raises many kinds; the scrape goes on
        logger.warning("metrics: broker unreachable (%s)", type(exc).__name__)
        return None
    return depths


def _budgets() -> Iterable[tuple[tuple[str, ...], float]]:
    for window, name in (
        ("hour", "GREEN_SMS_BUDGET_PER_HOUR"),
        ("day", "GREEN_SMS_BUDGET_PER_DAY"),
    ):
        budget = getattr(settings, name, None)
        if budget not in (None, ""):
            yield (window,), float(budget)


def _gauge(metric: m.Metric, samples: list[tuple[tuple[str, ...], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(metric.name, metric.documentation, labels=metric.labels)
    for labels, value in samples:
        family.add_metric(list(labels), value)
    return family
