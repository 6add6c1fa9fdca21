"""Beat's schedule as django-celery-beat rows, created on `migrate` from the settings.

Only missing rows are created: an interval an operator changed in the admin survives the
next deploy's `migrate`. Delete a row to have it recreated from the settings.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


def periodic_tasks() -> dict[str, tuple[str, int, str]]:
    """name -> (task, every N seconds, queue)."""
    return {
        "Poll delivery statuses": (
            "status.poll_deliveries", settings.VERIFICATION_POLL_INTERVAL, "status"
        ),
        "Re-dispatch stuck verifications": (
            "maintenance.redispatch_stuck", settings.VERIFICATION_DISPATCH_AFTER, "maintenance"
        ),
        "Sweep expired and old verifications": (
            "maintenance.sweep", settings.VERIFICATION_SWEEP_INTERVAL, "maintenance"
        ),
        "Check GreenSMS balance": (
            "maintenance.check_balance", settings.GREEN_SMS_BALANCE_INTERVAL, "maintenance"
        ),
        "Refresh GreenSMS tariff": (
            "maintenance.refresh_tariff", settings.GREEN_SMS_TARIFF_INTERVAL, "maintenance"
        ),
        "Roll up statistics": (
            "maintenance.rollup_statistics", settings.VERIFICATION_STATS_ROLLUP_INTERVAL,
            "maintenance",
        ),
    }  # fmt: skip


def ensure_periodic_tasks(**_: Any) -> int:
    """Create the missing schedule rows; returns how many were created."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    created = 0
    for name, (task, every, queue) in periodic_tasks().items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=every, period=IntervalSchedule.SECONDS
        )
        # A run that missed its slot by more than its interval is stale: drop it, the next
        # tick does the same work.
        PeriodicTask.objects.create(
            name=name, task=task, interval=interval, queue=queue, expire_seconds=every
        )
        created += 1
    if created:
        logger.info("created %s periodic task(s)", created)
    return created
