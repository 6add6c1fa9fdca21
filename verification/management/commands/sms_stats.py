"""`python manage.py sms_stats [--period hour|day|week|month|all] [--json]`."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from verification.stats import STATUS_KEYS, stats_by_channel, verification_stats

# Rolling windows ending now. A month is 30 days: the default retention keeps no more anyway.
PERIODS: dict[str, timedelta | None] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "all": None,
}


class Command(BaseCommand):
    help = (
        "Verification counts for a period. `sent` = rows that reached the provider (a "
        "request_id is stored); delivery rate = delivered / sent; use rate = used / total."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--period", choices=tuple(PERIODS), default="day")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        window = PERIODS[options["period"]]
        since = timezone.now() - window if window is not None else None
        try:
            report = build_report(options["period"], since)
        except DatabaseError as exc:
            # The type only: driver messages can carry hosts and user names.
            raise CommandError(
                f"cannot read verifications ({type(exc).__name__}): check DATABASE_URL and "
                "that `manage.py migrate` ran"
            ) from None
        if options["json"]:
            self.stdout.write(json.dumps(report))
        else:
            self.stdout.write(render(report))


def build_report(period: str, since: datetime | None) -> dict[str, Any]:
    counts = verification_stats(since=since)
    sent = counts["accepted"]
    return {
        "period": period,
        "since": since.isoformat() if since else None,
        "total": counts["total"],
        "sent": sent,
        "delivered": counts["delivered"],
        "failed": counts["failed"],
        "used": counts["used"],
        "delivery_rate": _ratio(counts["delivered"], sent),
        "use_rate": _ratio(counts["used"], counts["total"]),
        # Where every row is now, for "why is sent < total?": queued, sending, expired...
        "by_status": {key: counts[key] for key in STATUS_KEYS},
        # sms, call, voice, viber: total, delivered, failed, used, fallbacks (arrived by one)
        "by_channel": stats_by_channel(since=since),
    }


def render(report: dict[str, Any]) -> str:
    since = report["since"] or "the beginning"
    by_status = ", ".join(f"{key} {value}" for key, value in report["by_status"].items())
    return "\n".join(
        [
            f"Verifications, period {report['period']} (since {since})",
            f"  total          {report['total']}",
            f"  sent           {report['sent']}  (reached the provider)",
            f"  delivered      {report['delivered']}",
            f"  failed         {report['failed']}",
            f"  used           {report['used']}",
            f"  delivery rate  {_percent(report['delivery_rate'])}  (delivered / sent)",
            f"  use rate       {_percent(report['use_rate'])}  (used / total)",
            f"  by status      {by_status}",
            *(
                f"  {channel:<14} {_channel_line(counts)}"
                for channel, counts in report.get("by_channel", {}).items()
            ),
        ]
    )


def _channel_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items())


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.1%}"
