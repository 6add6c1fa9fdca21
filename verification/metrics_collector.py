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
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError
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
# kombu's Redis transport: one list per priority step, named queue + sep + step (0: queue).
REDIS_PRIORITY_STEPS = (0, 3, 6, 9)
REDIS_PRIORITY_SEP = "\x06\x16"


class VerificationCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        m.flush()  # this process's own pending counts first
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

    The live unsent row that expires first (codes live VERIFICATION_CODE_TTL, so it is the
    oldest): one range scan of a partial index that holds only the backlog, from `now` on,
    so expired rows awaiting the sweeper cost nothing however many there are.
    """
    now = now or timezone.now()
    created = (
        SMSVerification.objects.filter(status__in=UNSENT_STATUSES, expires_at__gt=now)
        .order_by("expires_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return max(0.0, (now - created).total_seconds()) if created is not None else 0.0


def queue_depths() -> dict[str, float] | None:
    """Messages ready in each broker queue; None when the broker cannot be reached.

    Redis: LLEN of each queue's lists (one per priority step, as kombu names them), one
    pipelined round trip on a client kept per process. Other brokers (RabbitMQ): a passive
    queue declare on a pooled connection, which answers the count without touching the queue.
    """
    from project.celery import app as celery_app

    url = str(celery_app.conf.broker_url)
    try:
        if url.startswith(("redis://", "rediss://")):
            return _redis_queue_depths(url, celery_app.conf.broker_transport_options or {})
        return _declared_queue_depths(celery_app)
    except Exception as exc:  # noqa: BLE001 - redis/kombu raise many kinds; the scrape goes on
        logger.warning("metrics: broker unreachable (%s)", type(exc).__name__)
        return None


@lru_cache(maxsize=4)
def _broker_redis(url: str) -> redis.Redis:
    # Short timeouts: a scrape must answer even when the broker is black-holed.
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _redis_queue_depths(url: str, options: dict[str, Any]) -> dict[str, float]:
    prefix = options.get("global_keyprefix", "")
    steps = options.get("priority_steps", REDIS_PRIORITY_STEPS)
    sep = options.get("sep", REDIS_PRIORITY_SEP)
    pipe = _broker_redis(url).pipeline(transaction=False)
    for queue in QUEUES:
        for step in steps:
            pipe.llen(f"{prefix}{queue}{sep}{step}" if step else f"{prefix}{queue}")
    lengths = iter(pipe.execute())
    return {queue: float(sum(next(lengths) for _ in steps)) for queue in QUEUES}


def _declared_queue_depths(celery_app: Any) -> dict[str, float]:
    from kombu.exceptions import ChannelError

    depths: dict[str, float] = {}
    with celery_app.pool.acquire(block=True, timeout=1) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=1)
        channel: Any = conn.channel()
        try:
            for queue in QUEUES:
                try:
                    depths[queue] = float(channel.queue_declare(queue=queue, passive=True)[1])
                except ChannelError:
                    depths[queue] = 0.0  # not declared yet: no worker ever started
                    channel.close()  # AMQP closes a channel on a failed passive declare
                    channel = conn.channel()
        finally:
            channel.close()
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
