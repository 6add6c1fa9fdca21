"""Each worker says every few seconds which queues it consumes (for /metrics' "no worker
consuming" gauge): a broker such as Redis cannot tell who listens to a queue."""

from __future__ import annotations

from typing import Any

from celery import bootsteps

from verification import metrics

# Seconds between heartbeats; verification/metrics_collector.py's WORKER_ALIVE_WINDOW
# allows a little over three of them to be missed.
HEARTBEAT_INTERVAL = 10.0


def consumed_queues(worker: Any) -> list[str]:
    """Queues the worker's consumer listens to now (none while its broker link is down)."""
    consumer = getattr(worker, "consumer", None)
    task_consumer = getattr(consumer, "task_consumer", None)
    if task_consumer is None:
        return []
    return [queue.name for queue in task_consumer.queues]


def beat(worker: Any) -> None:
    metrics.worker_heartbeat(worker.hostname, consumed_queues(worker))


class Heartbeat(bootsteps.StartStopStep):  # type: ignore[misc]
    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        self.tref = worker.timer.call_repeatedly(HEARTBEAT_INTERVAL, beat, (worker,), priority=10)
        worker.timer.call_after(1.0, beat, (worker,))  # once the consumer is up

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        metrics.worker_heartbeat(worker.hostname, [])
