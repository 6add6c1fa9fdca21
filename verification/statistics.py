"""Reads for the admin statistics page: sent, delivered, verified and conversion per hour
and per day, by country and by channel, aggregated in SQL.

Two GROUP BY queries (hourly over HOURS, daily over DAYS), each grouped by time bucket and
the phone's first digits. Rows do not store a country: the first three digits after `+`
hold exactly one ITU calling code (the codes are prefix-free), which maps to a country here
in Python. Codes shared by several countries map to the code's main one (+7: RU, +1: US).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import phonenumbers
from django.db.models import Count, Q
from django.db.models.functions import Substr, TruncDay, TruncHour
from django.utils import timezone

from verification.models import DeliveryStatus, SMSVerification

HOURS = 48
DAYS = 30
# The phone's leading characters grouped on: "+" and three digits (see the docstring).
PREFIX_LENGTH = 4


@dataclass
class Counts:
    sent: int = 0
    delivered: int = 0
    verified: int = 0

    def add(self, other: Counts) -> None:
        self.sent += other.sent
        self.delivered += other.delivered
        self.verified += other.verified

    @property
    def conversion(self) -> float | None:
        """Verified per sent, in percent; None when nothing was sent."""
        return 100.0 * self.verified / self.sent if self.sent else None


@dataclass
class Statistics:
    hourly: list[tuple[datetime, Counts]]
    daily: list[tuple[datetime, Counts]]
    by_country: list[tuple[str, Counts]]  # the DAYS window, most sent first
    by_channel: list[tuple[str, Counts]]
    countries: list[str] = field(default_factory=list)  # every country seen, for filters


def country_of(prefix: str) -> str:
    digits = prefix.lstrip("+")
    for length in (1, 2, 3):
        code = int(digits[:length] or 0)
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return phonenumbers.region_code_for_country_code(code)
    return "ZZ"  # unknown


def statistics(
    *, now: datetime | None = None, country: str | None = None, channel: str | None = None
) -> Statistics:
    """Counts of rows created in the last HOURS hours (hourly) and DAYS days (daily).

    `country` / `channel` narrow the time series; the by-country and by-channel breakdowns
    always cover every country and channel (so the page can offer them as filters).
    """
    now = now or timezone.now()
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    day_start = hour_start.replace(hour=0)
    hourly_since = hour_start - timedelta(hours=HOURS - 1)
    daily_since = day_start - timedelta(days=DAYS - 1)

    hourly_rows = _grouped(TruncHour("created_at"), hourly_since)
    daily_rows = _grouped(TruncDay("created_at"), daily_since)

    by_country: dict[str, Counts] = defaultdict(Counts)
    by_channel: dict[str, Counts] = defaultdict(Counts)
    for _bucket, row_country, row_channel, counts in daily_rows:
        by_country[row_country].add(counts)
        by_channel[row_channel].add(counts)

    def selected(rows: Iterable[tuple[datetime, str, str, Counts]]) -> dict[datetime, Counts]:
        series: dict[datetime, Counts] = defaultdict(Counts)
        for bucket, row_country, row_channel, counts in rows:
            if country in (None, row_country) and channel in (None, row_channel):
                series[bucket].add(counts)
        return series

    hourly = selected(hourly_rows)
    daily = selected(daily_rows)
    return Statistics(
        hourly=[
            (moment, hourly[moment]) for moment in _steps(hourly_since, timedelta(hours=1), HOURS)
        ],
        daily=[(moment, daily[moment]) for moment in _steps(daily_since, timedelta(days=1), DAYS)],
        by_country=sorted(by_country.items(), key=lambda item: (-item[1].sent, item[0])),
        by_channel=sorted(by_channel.items(), key=lambda item: (-item[1].sent, item[0])),
        countries=sorted(by_country),
    )


def _grouped(
    bucket: TruncHour | TruncDay, since: datetime
) -> list[tuple[datetime, str, str, Counts]]:
    """One GROUP BY (bucket, phone prefix, channel) over rows created since `since`."""
    rows = (
        SMSVerification.objects.filter(created_at__gte=since)
        .annotate(bucket=bucket, prefix=Substr("phone", 1, PREFIX_LENGTH))
        .values("bucket", "prefix", "channel")
        .annotate(
            sent=Count("id", filter=~Q(request_id="")),
            delivered=Count("id", filter=Q(status=DeliveryStatus.DELIVERED)),
            verified=Count("id", filter=Q(is_used=True)),
        )
        .order_by()
    )
    return [
        (
            row["bucket"],
            country_of(row["prefix"]),
            row["channel"],
            Counts(row["sent"], row["delivered"], row["verified"]),
        )
        for row in rows
    ]


def _steps(start: datetime, step: timedelta, count: int) -> list[datetime]:
    return [start + step * index for index in range(count)]
