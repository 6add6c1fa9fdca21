"""The admin statistics page (staff only): charts of sent, delivered, verified and
conversion per hour and per day, by country and channel, and the service's state now."""

from __future__ import annotations

import re

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from verification import charts, funds, metrics, metrics_collector
from verification.statistics import Counts, statistics

SERIES = ("sent", "delivered", "verified")
# Filters come from the query string: anything else than a plausible value is ignored.
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
CHANNEL_RE = re.compile(r"^[a-z]{2,16}$")


def statistics_view(request: HttpRequest) -> TemplateResponse:
    country = _param(request, "country", COUNTRY_RE)
    channel = _param(request, "channel", CHANNEL_RE)
    stats = statistics(country=country, channel=channel)
    hourly_labels = [moment.strftime("%d %H:00") for moment, _ in stats.hourly]
    daily_labels = [moment.strftime("%m-%d") for moment, _ in stats.daily]
    hourly = [counts for _, counts in stats.hourly]
    daily = [counts for _, counts in stats.daily]
    balance = metrics.last_balance()
    context = {
        **admin.site.each_context(request),
        "title": "Statistics",
        "country": country,
        "channel": channel,
        "countries": stats.countries,
        "channels": [name for name, _ in stats.by_channel],
        "charts": [
            charts.line_chart("Per hour, last 48 h", hourly_labels, _counts_series(hourly)),
            _conversion_chart("Conversion per hour (verified / sent)", hourly_labels, hourly),
            charts.line_chart("Per day, last 30 days", daily_labels, _counts_series(daily)),
            _conversion_chart("Conversion per day (verified / sent)", daily_labels, daily),
        ],
        "country_chart": _breakdown_chart("By country, last 30 days", stats.by_country[:12]),
        "channel_chart": _breakdown_chart("By channel, last 30 days", stats.by_channel),
        "by_country": stats.by_country,
        "by_channel": stats.by_channel,
        "balance": balance[0] if balance else None,
        "balance_age": int(balance[1]) if balance else None,
        "breaker_pause": funds.pause_remaining(),
        "queue_depths": metrics_collector.queue_depths(),
        "oldest_unsent": int(metrics_collector.oldest_unsent_age()),
    }
    return TemplateResponse(request, "admin/verification/statistics.html", context)


def _param(request: HttpRequest, name: str, pattern: re.Pattern[str]) -> str | None:
    value = request.GET.get(name, "")
    return value if pattern.match(value) else None


def _counts_series(counts: list[Counts]) -> dict[str, list[float]]:
    return {name: [float(getattr(c, name)) for c in counts] for name in SERIES}


def _conversion_chart(title: str, labels: list[str], counts: list[Counts]) -> str:
    return charts.line_chart(
        title, labels, {"conversion": [c.conversion for c in counts]}, unit="%", fixed_max=100
    )


def _breakdown_chart(title: str, rows: list[tuple[str, Counts]]) -> str:
    names = [name for name, _ in rows]
    return charts.bar_chart(title, names, _counts_series([counts for _, counts in rows]))
