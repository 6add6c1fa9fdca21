"""The adaptive rules counted from the database while Redis is down.

The rows hold what the Redis counters hold: a code is a row (phone, client_ip, created_at),
a verified code a row with `is_used`. Only the rules whose rows an index finds cheaply are
evaluated here, so an outage does not turn every send into a scan of the day's traffic:

- the client's rules (`unverified_by_ip_hour`, `unverified_by_ip_day`,
  `countries_by_ip_day`), from the `(client_ip, created_at)` index: one client's rows of
  the last week, which its own per-IP limit keeps few;
- `unverified_by_prefix_hour`, over the last hour's rows (`created_at` index), its
  history being that hour's verified codes (Redis: 24 h), a stricter threshold;
- the country rules, which would read a whole country's day, wait for Redis.

The thresholds are Redis's: `max(floor, k × verified)`, the floors from the settings.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q

from verification.abuse import rules
from verification.abuse.fallback import client_rows
from verification.abuse.policy import PhoneFacts, phone_facts
from verification.models import SMSVerification

# Rows of one client read at most: far above what its per-IP limit lets it create in a week.
CLIENT_ROWS_LIMIT = 10_000

_RULES = {rule.id: rule for rule in rules.RULES}


def fired(*, facts: PhoneFacts, client_ip: str | None, now: datetime) -> tuple[str, ...]:
    """The rules this request would trip, counted from the rows."""
    hits = []
    if client_ip:
        hits += _client_rules(facts, client_ip, now)
    if _trips("unverified_by_prefix_hour", *_prefix_counts(facts.prefix, now - timedelta(hours=1))):
        hits.append("unverified_by_prefix_hour")
    return tuple(hits)


def _client_rules(facts: PhoneFacts, client_ip: str, now: datetime) -> list[str]:
    hour, day, week = (now - timedelta(seconds=s) for s in (rules.HOUR, rules.DAY, rules.WEEK))
    rows = list(
        client_rows(client_ip, week)
        .order_by("-created_at")
        .values_list("phone", "created_at", "is_used")[:CLIENT_ROWS_LIMIT]
    )
    unverified_hour = sum(1 for _, at, used in rows if at > hour and not used)
    unverified_day = sum(1 for _, at, used in rows if at > day and not used)
    verified_day = sum(1 for _, at, used in rows if at > day and used)
    verified_week = sum(1 for _, _, used in rows if used)
    # Each of the day's phones parsed once, however many codes it got.
    countries = {phone_facts(phone).country for phone in {p for p, at, _ in rows if at > day}}
    hits = []
    if _trips("unverified_by_ip_hour", unverified_hour, verified_day):
        hits.append("unverified_by_ip_hour")
    if _trips("unverified_by_ip_day", unverified_day, verified_week):
        hits.append("unverified_by_ip_day")
    if facts.country not in countries and _trips(
        "countries_by_ip_day", len(countries), verified_week
    ):
        hits.append("countries_by_ip_day")
    return hits


def _prefix_counts(prefix: str, since: datetime) -> tuple[int, int]:
    totals = SMSVerification.objects.filter(
        phone__startswith=prefix, created_at__gt=since
    ).aggregate(
        unverified=Count("id", filter=Q(is_used=False)),
        verified=Count("id", filter=Q(is_used=True)),
    )
    return totals["unverified"], totals["verified"]


def _trips(rule_id: str, count: int, verified: int) -> bool:
    rule = _RULES[rule_id]
    return count + 1 > max(rule.floor(), rule.k * verified)
