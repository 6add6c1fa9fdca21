"""Fixtures shared by every test: real Redis (keys cleaned per test), real database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from project.celery import app as celery_app
from tests.helpers import (
    DEAD_REDIS_URL,
    QUEUES,
    TaskEvents,
    broker_url_at,
    consume_queue,
    consume_sms,
    swap_broker,
)
from verification import funds, metrics
from verification.redis_client import breaker as redis_breaker

pytest_plugins = ["tests.sandbox_fixtures"]


def _delete_our_keys() -> None:
    client = get_redis_connection("default")
    for pattern in ("verification:*", ":*:verification:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Rate-limit counters and cached codes never leak from one test into the next."""
    redis_breaker.reset()
    metrics.discard_pending()
    funds.forget_reading()
    _delete_our_keys()
    yield
    redis_breaker.reset()


@pytest.fixture(autouse=True)
def _abuse_protection_for_tests(settings: Any) -> None:
    """Tests of other features send many codes from one address without verifying them:
    the adaptive rules and the resend cooldown would refuse them. Tests of abuse protection
    switch both on (tests/integration/test_abuse_*.py)."""
    settings.ABUSE_PROTECTION = "off"
    settings.VERIFICATION_RESEND_COOLDOWN = 0


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def redis_down(settings: Any) -> Iterator[None]:
    """Redis (cache, rate limits) refuses connections for the duration of the test."""
    cache = dict(settings.CACHES["default"], LOCATION=DEAD_REDIS_URL)
    settings.CACHES = {"default": cache}
    redis_breaker.reset()
    yield
    redis_breaker.reset()


@pytest.fixture
def broker_down() -> Iterator[None]:
    """The Celery broker refuses connections: publishing fails."""
    original = swap_broker(broker_url_at(1))
    yield
    swap_broker(original)


@pytest.fixture
def task_events() -> Iterator[TaskEvents]:
    """Task runs and publishes recorded while the test runs (see tests/helpers.py)."""
    with TaskEvents().recording() as events:
        yield events


@pytest.fixture
def sms_queue() -> Iterator[Any]:
    """The broker's `sms` queue, emptied before and after the test.

    A session's `live_worker`, if one runs, stops consuming `sms` meanwhile, so what the test
    publishes stays there for it to read (a message the worker was already fetching is
    handed back to the queue by kombu).
    """
    for worker in _live_workers:
        consume_sms(worker, consume=False)
    try:
        with celery_app.connection_for_write() as conn:
            # The app's Queue, not a name: RabbitMQ refuses to redeclare a quorum queue as
            # a classic one.
            queue = conn.SimpleQueue(celery_app.amqp.queues["sms"])  # type: ignore[arg-type]
            queue.clear()
            yield queue
            queue.clear()
            queue.close()
    finally:
        for worker in _live_workers:
            consume_sms(worker, consume=True)


@pytest.fixture
def live_worker_idle() -> Iterator[None]:
    """A session's `live_worker`, if one runs, consumes no queue meanwhile: a test that runs
    worker processes of its own on the suite's broker gets every task it publishes (the
    in-process worker would otherwise take some, with this process's settings)."""
    paused = list(_live_workers)
    for worker in paused:
        for queue in QUEUES:
            consume_queue(worker, queue, consume=False)
    try:
        yield
    finally:
        for worker in paused:
            for queue in QUEUES:
                consume_queue(worker, queue, consume=True)


@pytest.fixture
def fast_limits(settings: Any) -> Any:
    settings.RATE_LIMIT_SEND_PER_HOUR = 5
    settings.RATE_LIMIT_VERIFY_PER_HOUR = 5
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 30
    settings.VERIFICATION_MAX_ATTEMPTS = 5
    return settings


def pytest_report_header() -> str:
    db = settings.DATABASES["default"]
    broker = urlsplit(celery_app.conf.broker_url)
    return (
        f"database: {db['ENGINE']} {db.get('NAME')}; redis: {settings.REDIS_URL}; "
        f"broker: {broker.scheme}://{broker.hostname}:{broker.port}{broker.path}"
    )


# The session's running `live_worker`, once a test has started it.
_live_workers: list[Any] = []


@pytest.fixture(scope="session")
def live_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    """A real Celery worker (threads pool) on the real broker, consuming every queue.

    Session-scoped: starting a worker costs a second. Tests using it need
    `django_db(transaction=True)`: the worker's threads only see committed rows.
    """
    from celery.contrib.testing.worker import start_worker

    import workers.housekeeping
    import workers.polling
    import workers.sending  # noqa: F401 - registers the tasks with the app

    with celery_app.connection_for_write() as conn:
        for name in QUEUES:
            conn.SimpleQueue(celery_app.amqp.queues[name]).clear()  # type: ignore[arg-type]
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=8,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=30,
    ) as worker:
        _live_workers.append(worker)
        yield worker
        _live_workers.remove(worker)
    _drop_other_sessions(django_db_blocker)


def _drop_other_sessions(django_db_blocker: Any) -> None:
    """The worker's threads keep their database connections (as a real worker does); drop
    them so the test database can be destroyed at the end of the session."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
