"""Delivery polling: the `status` queue."""

from __future__ import annotations

import logging

from project.celery import app
from verification import tracking

logger = logging.getLogger(__name__)

# Batches per run: with POLL_BATCH_SIZE 100, up to 2,000 rows per beat tick; a larger
# backlog is carried by the next ticks rather than one unbounded run.
POLL_MAX_BATCHES = 20


@app.task(name="status.poll_deliveries")
def poll_delivery_statuses() -> dict[str, int]:
    totals: dict[str, int] = {}
    for _ in range(POLL_MAX_BATCHES):
        counts = tracking.poll_batch()
        for name, value in vars(counts).items():
            totals[name] = totals.get(name, 0) + value
        if counts.polled < tracking.POLL_BATCH_SIZE:
            break
    if totals.get("polled"):
        logger.info("delivery poll: %s", totals)
    return totals
