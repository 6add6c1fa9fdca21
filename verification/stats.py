"""Reads for operators: counts of verifications by delivery status and use (`sms_stats`)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q

from verification.models import UNSENT_STATUSES, DeliveryStatus, SMSVerification

STATUS_KEYS = tuple(status.value for status in DeliveryStatus)


def verification_stats(*, since: datetime | None) -> dict[str, int]:
    """Counts of rows created at or after `since` (all rows when None), in one query.

    Keys: `total`, one per delivery status (`queued` … `expired`), `used`, and `accepted`:
    rows that reached the provider (a `request_id` is stored), whatever happened next.
    """
    rows = SMSVerification.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)  # served by the created_at index
    counts = rows.aggregate(
        total=Count("id"),
        **{key: Count("id", filter=Q(status=key)) for key in STATUS_KEYS},
        accepted=Count("id", filter=~Q(request_id="")),
        used=Count("id", filter=Q(is_used=True)),
    )
    return {key: int(value or 0) for key, value in counts.items()}


def unsent_rows_older_than(moment: datetime) -> dict[str, int]:
    """Rows still `queued`/`sending` that were created before `moment` (stuck in the outbox).

    Beat re-dispatches them; a count that does not fall means no beat or no worker.
    """
    counts = SMSVerification.objects.filter(
        status__in=UNSENT_STATUSES, created_at__lt=moment
    ).aggregate(
        **{status.value: Count("id", filter=Q(status=status)) for status in UNSENT_STATUSES}
    )
    return {key: int(value or 0) for key, value in counts.items()}


def stats_by_channel(*, since: datetime | None) -> dict[str, dict[str, int]]:
    """Per channel: `total`, `delivered`, `failed`, `used`, and `fallbacks` (rows that reached
    the channel by falling back from another). One grouped query."""
    rows = SMSVerification.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    keys = ("total", "delivered", "failed", "used", "fallbacks")
    grouped = (
        rows.values("channel")
        .order_by("channel")
        .annotate(
            total=Count("id"),
            delivered=Count("id", filter=Q(status=DeliveryStatus.DELIVERED)),
            failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
            used=Count("id", filter=Q(is_used=True)),
            fallbacks=Count("id", filter=~Q(fallback_from="")),
        )
        .values_list("channel", *keys)
    )
    return {str(channel): dict(zip(keys, counts, strict=True)) for channel, *counts in grouped}
