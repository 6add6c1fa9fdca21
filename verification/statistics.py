"""Reads for the admin statistics page: sent, delivered, verified and conversion per hour
and per day, by country and by channel, aggregated in SQL.

Two GROUP BY queries (hourly over HOURS, daily over DAYS), each grouped by time bucket and
the phone's first four digits. Rows do not store a country: those digits hold exactly one
ITU calling code (the codes are prefix-free) and the start of the national number, which
map to a country here in Python with libphonenumber's metadata (+7 7… is KZ, +1 268… is
AG). A country told apart only by the full number falls to its code's main country (+1 416…,
Canada, counts as US).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import phonenumbers
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import Substr, TruncDay, TruncHour
from django.utils import timezone
from phonenumbers import PhoneMetadata

from verification.models import DeliveryStatus, HourlyStatistics, SMSVerification

HOURS = 48
DAYS = 30
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Country and channel of the rollup's per-hour totals rows.
TOTAL = "*"
# The phone's leading characters grouped on: "+" and four digits (see the docstring).
PREFIX_LENGTH = 5


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


# (time bucket, country, channel, counts)
Row = tuple[datetime, str, str, "Counts"]


@dataclass
class Statistics:
    hourly: list[tuple[datetime, Counts]]
    daily: list[tuple[datetime, Counts]]
    by_country: list[tuple[str, Counts]]  # the DAYS window, most sent first
    by_channel: list[tuple[str, Counts]]
    countries: list[str] = field(default_factory=list)  # every country seen, for filters


@lru_cache(maxsize=4096)
def country_of(prefix: str) -> str:
    """The country of a phone's first digits ("+7701" -> "KZ"); "ZZ" when unknown."""
    digits = prefix.lstrip("+")
    for length in (1, 2, 3):
        code = int(digits[:length] or 0)
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
        if regions:
            return _region_by_leading_digits(regions, digits[length:])
    return "ZZ"


def _region_by_leading_digits(regions: tuple[str, ...], national: str) -> str:
    for region in regions[1:]:  # the first is the code's main country
        metadata = PhoneMetadata.metadata_for_region(region)
        pattern = metadata.leading_digits if metadata else None
        if pattern and national and re.match(pattern, national):
            return region
    return regions[0]


def statistics(
    *, now: datetime | None = None, country: str | None = None, channel: str | None = None
) -> Statistics:
    """Counts of rows created in the last HOURS hours (hourly) and DAYS days (daily).

    `country` / `channel` narrow the time series; the by-country and by-channel breakdowns
    always cover every country and channel (so the page can offer them as filters).
    Settled hours come from the rollup (HourlyStatistics), the hours after it from the rows.
    """
    now = now or timezone.now()
    hourly_since = hour_floor(now) - timedelta(hours=HOURS - 1)
    daily_since = hour_floor(now).replace(hour=0) - timedelta(days=DAYS - 1)
    hourly_rows, daily_rows = _rows(hourly_since, daily_since)

    by_country: dict[str, Counts] = defaultdict(Counts)
    by_channel: dict[str, Counts] = defaultdict(Counts)
    for _bucket, row_country, row_channel, counts in daily_rows:
        by_country[row_country].add(counts)
        by_channel[row_channel].add(counts)

    def selected(rows: Iterable[Row]) -> dict[datetime, Counts]:
        series: dict[datetime, Counts] = defaultdict(Counts)
        for bucket, row_country, row_channel, counts in rows:
            if country in (None, row_country) and channel in (None, row_channel):
                series[bucket].add(counts)
        return series

    hourly = selected(hourly_rows)
    daily = selected(daily_rows)
    return Statistics(
        hourly=[(moment, hourly[moment]) for moment in _steps(hourly_since, HOUR, HOURS)],
        daily=[(moment, daily[moment]) for moment in _steps(daily_since, DAY, DAYS)],
        by_country=sorted(by_country.items(), key=lambda item: (-item[1].sent, item[0])),
        by_channel=sorted(by_channel.items(), key=lambda item: (-item[1].sent, item[0])),
        countries=sorted(by_country),
    )


def _rows(hourly_since: datetime, daily_since: datetime) -> tuple[list[Row], list[Row]]:
    """(hourly rows since `hourly_since`, daily rows since `daily_since`): the rollup's
    rows up to where it got, then the verifications' own rows grouped by hour."""
    done = rolled_up_until()
    if done is None or done <= daily_since:
        done = daily_since  # nothing usable rolled up: every hour from the rows
    rolled = HourlyStatistics.objects.filter(hour__lt=done).exclude(country=TOTAL)
    hourly = [_rolled_row(row) for row in rolled.filter(hour__gte=hourly_since).values()]
    daily = [
        _rolled_row(row, bucket="day")
        for row in rolled.filter(hour__gte=daily_since)
        .annotate(day=TruncDay("hour"))
        .values("day", "country", "channel")
        .annotate(sent=Sum("sent"), delivered=Sum("delivered"), verified=Sum("verified"))
        .order_by()
    ]
    for hour, row_country, row_channel, counts in grouped(TruncHour("created_at"), done):
        if hour >= hourly_since:
            hourly.append((hour, row_country, row_channel, counts))
        daily.append((hour.replace(hour=0), row_country, row_channel, counts))
    return hourly, daily


def _rolled_row(row: Mapping[str, Any], *, bucket: str = "hour") -> Row:
    counts = Counts(row["sent"], row["delivered"], row["verified"])
    return row[bucket], row["country"], row["channel"], counts


def rolled_up_until() -> datetime | None:
    """The end of the last rolled-up hour; None before the first rollup."""
    last = HourlyStatistics.objects.filter(country=TOTAL).aggregate(last=Max("hour"))["last"]
    return last + HOUR if last is not None else None


def grouped(
    bucket: TruncHour | TruncDay, since: datetime, until: datetime | None = None
) -> list[Row]:
    """Verifications created in [since, until) counted per time bucket, country and channel
    (one GROUP BY (bucket, phone prefix, channel) over the created_at index; prefixes become
    countries here)."""
    return [
        (
            row["bucket"],
            country_of(row["prefix"]),
            row["channel"],
            Counts(row["sent"], row["delivered"], row["verified"]),
        )
        for row in grouped_queryset(bucket, since, until)
    ]


def grouped_queryset(
    bucket: TruncHour | TruncDay, since: datetime, until: datetime | None = None
) -> QuerySet[Any, Any]:
    rows = SMSVerification.objects.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return (
        rows.annotate(bucket=bucket, prefix=Substr("phone", 1, PREFIX_LENGTH))
        .values("bucket", "prefix", "channel")
        .annotate(
            sent=Count("id", filter=~Q(request_id="")),
            delivered=Count("id", filter=Q(status=DeliveryStatus.DELIVERED)),
            verified=Count("id", filter=Q(is_used=True)),
        )
        .order_by()
    )


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _steps(start: datetime, step: timedelta, count: int) -> list[datetime]:
    return [start + step * index for index in range(count)]
