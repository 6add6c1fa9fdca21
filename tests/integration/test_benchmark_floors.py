"""The benchmark's round-trip floors measure what their names say (benchmarks/bench_views.py):
the send gate's real script runs for each request's phone (not the template's), the row is
stored and one message is pushed, in two Redis round trips or, what-if, in one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from benchmarks.bench_views import RoundTripsFloorView
from verification.models import SMSVerification
from verification.ratelimit import KEY_PREFIX

pytestmark = [pytest.mark.django_db, pytest.mark.urls("benchmarks.bench_urls")]

LIST = "bench:round-trips"


@pytest.fixture
def redis() -> Iterator[Any]:
    client = get_redis_connection("default")
    client.delete(LIST)
    RoundTripsFloorView.spec = None  # built again under this test's settings
    yield client
    client.delete(LIST)
    RoundTripsFloorView.spec = None


@pytest.mark.parametrize("path", ["/bench/round-trips-floor/", "/bench/one-round-trip-floor/"])
def test_round_trip_floor_does_send_codes_work_in_redis(
    path: str, redis: Any, settings: Any
) -> None:
    settings.ABUSE_PROTECTION = "deny"  # the rules' counters are part of the gate's work
    settings.VERIFICATION_RESEND_COOLDOWN = 60
    client = APIClient()
    phones = ["+79991110001", "+79991110002", "+79991110003"]
    for phone in phones:
        response = client.post(path, {"phone": phone}, format="json")
        assert response.status_code == 202
        assert SMSVerification.objects.filter(phone=phone).count() == 1

    for phone in phones:
        assert redis.get(f"{KEY_PREFIX}send:phone:{phone}") == b"1"
        assert redis.ttl(f"{KEY_PREFIX}cooldown:{phone}:127.0.0.1") > 0
    assert redis.get(f"{KEY_PREFIX}send:ip:127.0.0.1") == b"3"
    assert redis.get(f"{KEY_PREFIX}send:phone:{RoundTripsFloorView.TEMPLATE_PHONE}") is None
    assert redis.llen(LIST) == len(phones)
