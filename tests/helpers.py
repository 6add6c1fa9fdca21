"""Helpers shared by tests (fixtures live in conftest.py; import these from here)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from project.celery import app as celery_app

T = TypeVar("T")

# A port nothing listens on: connections are refused at once.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


def wait_for(condition: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll `condition()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def swap_broker(url: str) -> str:
    """Point this process's Celery publisher at `url`; returns the URL it used before."""
    previous: str = celery_app.conf.broker_url
    celery_app.conf["broker_url"] = url
    # Drop pooled connections and producers bound to the previous URL.
    celery_app.close()
    celery_app._pool = None  # type: ignore[attr-defined]
    celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]
    return previous
