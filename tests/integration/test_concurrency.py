"""Races a user could trigger: double-submitted verifies, bursts of sends to one phone."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from tests.factories import make_verification
from verification.models import SMSVerification

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serializes all writers, so it cannot show a race; CI runs these on PostgreSQL",
)
pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]


def run_in_parallel(count: int, request: Callable[[APIClient], int]) -> list[int]:
    barrier = threading.Barrier(count)
    statuses: list[int] = []

    def worker() -> None:
        client = APIClient()
        barrier.wait()
        try:
            statuses.append(request(client))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_parallel_verifies_of_one_code_succeed_exactly_once(settings):
    settings.RATE_LIMIT_VERIFY_PER_HOUR = 100
    row, code = make_verification()

    statuses = run_in_parallel(
        12,
        lambda client: (
            client.post(
                "/api/auth/verify-code/", {"phone": row.phone, "code": code}, format="json"
            ).status_code
        ),
    )

    assert sorted(statuses) == [200] + [400] * 11


@pytest.mark.parametrize("redis", ["up", "down"])
def test_parallel_sends_to_one_phone_never_exceed_the_limit(settings, request, redis):
    if redis == "down":
        request.getfixturevalue("redis_down")
        request.getfixturevalue("broker_down")
    settings.RATE_LIMIT_SEND_PER_HOUR = 3

    statuses = run_in_parallel(
        10,
        lambda client: (
            client.post(
                "/api/auth/send-code/", {"phone": "+79991234567"}, format="json"
            ).status_code
        ),
    )

    assert sorted(statuses) == [202] * 3 + [429] * 7
    assert SMSVerification.objects.filter(phone="+79991234567").count() == 3
