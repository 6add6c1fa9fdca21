"""The admin statistics page: staff only, counts aggregated in SQL, filters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_verification
from verification.statistics import country_of, statistics

pytestmark = pytest.mark.django_db

URL = "/admin/statistics/"


def seed(now, *, phone: str, hours_ago: float, status: str, used: bool = False) -> None:
    created = now - timedelta(hours=hours_ago)
    make_verification(
        phone=phone,
        created_at=created,
        expires_at=created + timedelta(minutes=5),
        status=status,
        request_id="" if status in ("queued", "expired") else "r-1",
        is_used=used,
    )


def test_the_page_is_for_staff_only(client, django_user_model):
    anonymous = client.get(URL)
    django_user_model.objects.create_user("someone", password="pw-123456")
    client.login(username="someone", password="pw-123456")
    not_staff = client.get(URL)

    assert anonymous.status_code == not_staff.status_code == 302
    assert "/admin/login/" in anonymous["Location"]


def test_counts_per_hour_day_country_and_conversion():
    now = timezone.now()
    seed(now, phone="+79991234567", hours_ago=0, status="delivered", used=True)
    seed(now, phone="+79991234568", hours_ago=0, status="sent")
    seed(now, phone="+380501234567", hours_ago=3, status="failed")
    seed(now, phone="+79991234569", hours_ago=24 * 10, status="delivered", used=True)
    seed(now, phone="+79991234560", hours_ago=1, status="queued")  # never reached the provider
    seed(now, phone="+79991234561", hours_ago=24 * 40, status="delivered")  # out of range

    stats = statistics(now=now)

    last_hour = stats.hourly[-1][1]
    assert (last_hour.sent, last_hour.delivered, last_hour.verified) == (2, 1, 1)
    assert last_hour.conversion == 50.0
    assert len(stats.hourly) == 48
    assert len(stats.daily) == 30
    assert sum(c.sent for _, c in stats.hourly) == 3
    assert sum(c.sent for _, c in stats.daily) == 4
    assert [(name, c.sent, c.verified) for name, c in stats.by_country] == [
        ("RU", 3, 2),
        ("UA", 1, 0),
    ]
    assert [(name, c.sent) for name, c in stats.by_channel] == [("sms", 4)]
    ukraine = statistics(now=now, country="UA")
    assert sum(c.sent for _, c in ukraine.daily) == 1


def test_the_page_costs_two_aggregate_queries_whatever_the_rows(admin_client):
    now = timezone.now()
    for index in range(30):
        seed(now, phone=f"+7999123{index:04d}", hours_ago=index * 7, status="delivered")

    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(URL)

    assert page.status_code == 200
    grouped = [q for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert len(grouped) == 2
    html = page.content.decode()
    assert html.count('<svg class="stats-chart"') == 6
    assert 'data-series="sent"' in html


def test_filters_ignore_anything_but_a_country_code(admin_client):
    page = admin_client.get(URL, {"country": "<script>", "channel": "sms"})

    assert page.status_code == 200
    assert "<script>" not in page.content.decode()


@pytest.mark.parametrize(
    ("prefix", "country"),
    [
        ("+7999", "RU"),
        ("+7701", "KZ"),
        ("+3805", "UA"),
        ("+1202", "US"),
        ("+1268", "AG"),
        ("+4477", "GB"),
        ("+2100", "ZZ"),
    ],
)
def test_country_of_a_prefix(prefix, country):
    assert country_of(prefix) == country
