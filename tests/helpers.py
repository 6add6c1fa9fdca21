"""Helpers shared by tests (fixtures live in conftest.py; import these from here)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from celery.signals import after_task_publish, task_postrun

from project.celery import app as celery_app

T = TypeVar("T")

# A port nothing listens on: connections are refused at once.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"
QUEUES = ("sms", "status", "maintenance")


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
    if "CELERY_BROKER_URL" in os.environ:
        os.environ["CELERY_BROKER_URL"] = url  # Celery prefers it to conf.broker_url
    # Drop pooled connections and producers bound to the previous URL.
    celery_app.close()
    celery_app._pool = None  # type: ignore[attr-defined]
    celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]
    return previous


def broker_url_at(port: int) -> str:
    """The configured broker's URL (same scheme, credentials, database or vhost), on `port`."""
    parts = urlsplit(celery_app.conf.broker_url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def consume_sms(worker: Any, *, consume: bool) -> None:
    """Stop or resume an in-process worker's `sms` consumer, by remote control: the worker's
    own thread owns its broker connection (an AMQP channel must not be shared by threads)."""
    from workers.heartbeat import consumed_queues

    control = celery_app.control.add_consumer if consume else celery_app.control.cancel_consumer
    control("sms", destination=[worker.hostname], reply=True, timeout=10)
    # The worker answers before its consumer has (re)started: wait for the consumer itself.
    wait_for(lambda: ("sms" in consumed_queues(worker)) == consume, timeout=10)
    if consume:
        celery_app.amqp.queues.select_add(celery_app.amqp.queues["sms"])


def broker_is_amqp() -> bool:
    return bool(celery_app.conf.broker_url.startswith(("amqp", "pyamqp")))


@dataclass(frozen=True)
class TaskRun:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    state: str  # SUCCESS, RETRY (another attempt is scheduled), FAILURE
    retval: Any


class TaskEvents:
    """What the in-process worker (`live_worker`) ran and what was published, from Celery's
    signals: a test waits for the run that proves the worker did its part, then asserts.

    Use the `task_events` fixture; both lists fill while it is active.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[TaskRun] = []
        self._published: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def runs(self, name: str, *args: Any) -> list[TaskRun]:
        """Runs of task `name` (with these positional args, when given), oldest first."""
        with self._lock:
            return [r for r in self._runs if r.name == name and (not args or r.args == args)]

    def finished(self, name: str, *args: Any) -> list[TaskRun]:
        """Runs after which no other attempt is scheduled (a retry's run does not count)."""
        return [run for run in self.runs(name, *args) if run.state != "RETRY"]

    def published(self, name: str) -> list[dict[str, Any]]:
        """The keyword arguments of each message of task `name` published meanwhile."""
        with self._lock:
            return [kwargs for task, _, kwargs in self._published if task == name]

    @contextmanager
    def recording(self) -> Iterator[TaskEvents]:
        task_postrun.connect(self._on_postrun, weak=False)
        after_task_publish.connect(self._on_publish, weak=False)
        try:
            yield self
        finally:
            task_postrun.disconnect(self._on_postrun)
            after_task_publish.disconnect(self._on_publish)

    def _on_postrun(
        self, *, task: Any, args: Any, kwargs: Any, state: str, retval: Any, **_: Any
    ) -> None:
        run = TaskRun(task.name, tuple(args or ()), dict(kwargs or {}), state, retval)
        with self._lock:
            self._runs.append(run)

    def _on_publish(self, *, sender: str, body: Any, **_: Any) -> None:
        args, kwargs, _embed = body  # task message protocol 2
        with self._lock:
            self._published.append((sender, tuple(args), dict(kwargs)))
