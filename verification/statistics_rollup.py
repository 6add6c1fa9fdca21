"""Keeping HourlyStatistics: each hour is counted once its counts can no longer change.

Bounded and idempotent like every periodic job: one run rolls up at most ROLLUP_MAX_HOURS
hours (the oldest not yet done first), so a rollup that fell behind (beat was down, or the
table is new) catches up over a few runs, and two runs at once cannot both write an hour.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import TruncHour
from django.utils import timezone

from verification.models import HourlyStatistics
from verification.statistics import (
    DAYS,
    HOUR,
    TOTAL,
    Counts,
    grouped,
    hour_floor,
    rolled_up_until,
)

logger = logging.getLogger(__name__)

# Hours one run rolls up: three days of rows in one GROUP BY (about 100,000 rows at a million
# a month) stays a sub-second statement.
ROLLUP_MAX_HOURS = 72


def open_hours() -> int:
    """Hours after its end during which an hour's counts may still move: its codes are sent
    (with retries) while they live and get delivery reports for VERIFICATION_POLL_HORIZON."""
    seconds = settings.VERIFICATION_POLL_HORIZON + settings.VERIFICATION_CODE_TTL
    return math.ceil(seconds / 3600) + 1


def settled_before(now: datetime) -> datetime:
    """Hours starting before this are final."""
    return hour_floor(now) - timedelta(hours=open_hours())


def rollup(*, now: datetime | None = None, max_hours: int = ROLLUP_MAX_HOURS) -> int:
    """Roll up the next settled hours; returns how many hours were written."""
    now = now or timezone.now()
    end = settled_before(now)
    with transaction.atomic():
        if not _lock():
            return 0  # another run holds it
        start = rolled_up_until() or end - timedelta(days=DAYS)
        end = min(end, start + timedelta(hours=max_hours))
        if start >= end:
            return 0
        rows = _hour_rows(start, end)
        HourlyStatistics.objects.filter(hour__gte=start, hour__lt=end).delete()
        HourlyStatistics.objects.bulk_create(rows)
        # The page shows DAYS days: older hours are of no use.
        HourlyStatistics.objects.filter(hour__lt=end - timedelta(days=DAYS + 1)).delete()
    hours = int((end - start) / HOUR)
    logger.info("statistics rolled up: %s hour(s) from %s", hours, start.isoformat())
    return hours


def _hour_rows(start: datetime, end: datetime) -> list[HourlyStatistics]:
    per_key: dict[tuple[datetime, str, str], Counts] = defaultdict(Counts)
    totals: dict[datetime, Counts] = defaultdict(Counts)
    for hour, country, channel, counts in grouped(TruncHour("created_at"), start, end):
        per_key[(hour, country, channel)].add(counts)
        totals[hour].add(counts)
    rows = [
        HourlyStatistics(hour=hour, country=country, channel=channel, **vars(counts))
        for (hour, country, channel), counts in per_key.items()
    ]
    hour = start
    while hour < end:  # a totals row for every hour, codes or not: it marks the hour done
        rows.append(HourlyStatistics(hour=hour, country=TOTAL, channel=TOTAL, **vars(totals[hour])))
        hour += HOUR
    return rows


def _lock() -> bool:
    """One rollup at a time (PostgreSQL; SQLite has a single writer anyway)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext('verification.rollup'))")
        return bool(cursor.fetchone()[0])
