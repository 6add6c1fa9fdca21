"""Re-dispatch, sweeping and the balance: the `maintenance` queue."""

from __future__ import annotations

import logging

from celery import Task

from project.celery import app
from verification import housekeeping, statistics_rollup
from verification.gateways.errors import ProviderError

logger = logging.getLogger(__name__)

# Batches one sweep run takes before handing over to a fresh task (so one run never holds a
# worker slot for long), and how many such hand-overs one beat tick may chain.
SWEEP_BATCHES_PER_RUN = 10
SWEEP_MAX_CHAIN = 20


@app.task(name="maintenance.redispatch_stuck")
def redispatch_stuck() -> int:
    return housekeeping.redispatch_stuck()


@app.task(name="maintenance.sweep", bind=True)
def sweep(self: Task, chain: int = 0) -> dict[str, int]:
    expired = purged = 0
    size = housekeeping.SWEEP_BATCH_SIZE
    for _ in range(SWEEP_BATCHES_PER_RUN):
        batch_expired = housekeeping.expire_unsent(batch_size=size)
        batch_purged = housekeeping.purge_old(batch_size=size)
        expired += batch_expired
        purged += batch_purged
        if batch_expired < size and batch_purged < size:
            break  # the backlog is gone
    else:
        if chain < SWEEP_MAX_CHAIN:
            self.apply_async(kwargs={"chain": chain + 1})
    if expired or purged:
        logger.info("sweep: %s expired, %s purged (chain %s)", expired, purged, chain)
    return {"expired": expired, "purged": purged}


@app.task(name="maintenance.refresh_tariff")
def refresh_tariff() -> dict[str, str] | None:
    try:
        prices = housekeeping.refresh_tariff()
    except ProviderError as exc:
        logger.warning("could not read the GreenSMS tariff: %s", exc.reason)
        return None
    return {channel: str(price) for channel, price in prices.items()}


@app.task(name="maintenance.rollup_statistics")
def rollup_statistics() -> int:
    return statistics_rollup.rollup()


@app.task(name="maintenance.check_balance")
def check_balance() -> str | None:
    try:
        return str(housekeeping.check_balance())
    except ProviderError as exc:
        logger.warning("could not read the GreenSMS balance: %s", exc.reason)
        return None
