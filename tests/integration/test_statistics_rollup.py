"""The statistics page's hourly rollup: the same figures as counting the rows, fewer rows
read, bounded runs that catch up, hours still moving left to the live query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_verification
from tests.helpers import wait_for
from verification import statistics_rollup
from verification.models import HourlyStatistics, SMSVerification
from verification.statistics import TOTAL, statistics
from workers.housekeeping import rollup_statistics

pytestmark = pytest.mark.django_db


def seed_month(now) -> None:
    for index, hours_ago in enumerate((0.2, 1, 2.5, 5, 30, 47, 24 * 3, 24 * 12, 24 * 29)):
        created = now - timedelta(hours=hours_ago)
        phone = ("+7999123", "+7701123", "+3805012")[index % 3] + f"{index:04d}"
        make_verification(
            phone=phone,
            created_at=created,
            expires_at=created + timedelta(minutes=5),
            status="delivered" if index % 2 else "failed",
            request_id="r",
            is_used=index % 4 == 1,
        )


def figures(stats):
    return (
        [(moment, vars(counts)) for moment, counts in stats.hourly],
        [(moment, vars(counts)) for moment, counts in stats.daily],
        [(name, vars(counts)) for name, counts in stats.by_country],
        [(name, vars(counts)) for name, counts in stats.by_channel],
    )


def catch_up(now) -> int:
    runs = 0
    while statistics_rollup.rollup(now=now):
        runs += 1
    return runs


def test_the_rollup_gives_the_figures_counting_the_rows_gives():
    now = timezone.now()
    seed_month(now)
    counted = figures(statistics(now=now))
    filtered = figures(statistics(now=now, country="KZ"))

    runs = catch_up(now)

    assert runs == 10  # 30 days, 72 hours a run
    assert figures(statistics(now=now)) == counted
    assert figures(statistics(now=now, country="KZ")) == filtered


def test_hours_that_may_still_change_are_not_rolled_up():
    now = timezone.now()
    seed_month(now)

    catch_up(now)

    settled = statistics_rollup.settled_before(now)
    assert HourlyStatistics.objects.filter(hour__gte=settled).count() == 0
    rolled = HourlyStatistics.objects.exclude(country=TOTAL).values_list("sent", flat=True)
    live = SMSVerification.objects.filter(created_at__gte=settled).count()
    assert sum(rolled) + live == SMSVerification.objects.count()
    # a totals row marks every rolled-up hour, with codes or without
    assert HourlyStatistics.objects.filter(country=TOTAL).count() == 30 * 24


def test_a_rollup_run_is_bounded_and_a_second_finds_nothing_to_do():
    now = timezone.now()
    seed_month(now)

    first = statistics_rollup.rollup(now=now, max_hours=24)
    catch_up(now)

    assert first == 24
    assert statistics_rollup.rollup(now=now) == 0


def test_the_page_reads_the_same_few_queries_however_many_rows(admin_client):
    now = timezone.now()
    seed_month(now)
    catch_up(now)

    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get("/admin/statistics/")

    assert page.status_code == 200
    on_rows = [
        q["sql"] for q in queries.captured_queries if "verification_smsverification" in q["sql"]
    ]
    # the live hours only, and the oldest unsent code
    assert len(on_rows) <= 3
    assert all("GROUP BY" not in sql or '"created_at" >=' in sql for sql in on_rows)


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_rolls_up_through_a_real_worker(live_worker):
    seed_month(timezone.now())

    rollup_statistics.delay()

    wait_for(lambda: HourlyStatistics.objects.filter(country=TOTAL).exists())
