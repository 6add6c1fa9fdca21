"""The task base class for work whose source of truth is a database row (the outbox)."""

from __future__ import annotations

from typing import Any

from celery import Task

from verification.dispatch import publish_options


class OutboxTask(Task):  # type: ignore[misc]
    """A task whose row decides what is left to do; it is published through
    verification/dispatch.py, which never lets a broker outage fail the caller."""

    # Retries are bounded by the row (a code's expiry), not by a count: Celery's default of
    # 3 retries would give up on a provider outage within seconds.
    max_retries = None

    def apply_async(self, *args: Any, **options: Any) -> Any:
        # Retries publish from here (Task.retry): bounded and broker-fit like every publish.
        return super().apply_async(*args, **publish_options(**options))
