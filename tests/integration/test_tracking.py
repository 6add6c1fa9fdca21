"""Delivery polling: one provider call per row, O(1) queries per batch, bulk updates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_verification
from verification import tracking
from verification.models import DeliveryStatus, SMSVerification

pytestmark = pytest.mark.django_db


def sent_rows(gateway, count: int, **fields) -> list[SMSVerification]:
    rows = []
    for index in range(count):
        row, code = make_verification(phone=f"+7999123{index:04d}", **fields)
        row.request_id = gateway.send(row.phone, f"Ваш код: {code}", hidden=code, tag=str(row.id))
        row.status, row.sent_at = DeliveryStatus.SENT, timezone.now()
        row.save()
        rows.append(row)
    return rows


@pytest.mark.parametrize("count", [3, 30])
def test_a_poll_batch_costs_one_call_per_row_and_constant_queries(
    sandbox_gateway, greensms_sandbox, settings, count
):
    greensms_sandbox.configure(delivery_delay=0)
    rows = sent_rows(sandbox_gateway, count)
    calls_before = greensms_sandbox.stats()["status_calls"]

    with CaptureQueriesContext(connection) as queries:
        counts = tracking.poll_batch()

    assert (counts.polled, counts.delivered) == (count, count)
    assert greensms_sandbox.stats()["status_calls"] - calls_before == count
    assert len(queries) <= 6  # the same for 3 rows and for 30
    delivered = SMSVerification.objects.filter(id__in=[r.id for r in rows], status="delivered")
    assert delivered.count() == count
    assert all(row.delivered_at for row in delivered)


def test_pending_rows_are_not_asked_again_within_the_interval(sandbox_gateway, greensms_sandbox):
    greensms_sandbox.configure(delivery_delay=60)
    sent_rows(sandbox_gateway, 2)

    first = tracking.poll_batch()
    second = tracking.poll_batch()

    assert (first.polled, first.pending) == (2, 2)
    assert second.polled == 0


def test_failed_delivery_is_recorded(sandbox_gateway, greensms_sandbox):
    greensms_sandbox.configure(delivery_delay=0, final_status=2)
    (row,) = sent_rows(sandbox_gateway, 1)

    tracking.poll_batch()

    row.refresh_from_db()
    assert row.status == "failed"
    assert "delivery failed" in row.error


def test_rows_without_a_final_status_give_up_after_the_horizon(
    sandbox_gateway, greensms_sandbox, settings
):
    settings.VERIFICATION_POLL_HORIZON = 60
    greensms_sandbox.configure(delivery_delay=3600)
    (row,) = sent_rows(sandbox_gateway, 1)
    SMSVerification.objects.filter(id=row.id).update(sent_at=timezone.now() - timedelta(hours=2))

    counts = tracking.poll_batch()

    row.refresh_from_db()
    assert counts.given_up == 1
    assert row.status == "failed"
    assert "horizon" in row.error


def test_a_debug_request_id_under_the_real_backend_fails_at_once(sandbox_gateway):
    # given: a row sent while GREEN_SMS_DEBUG was on, polled after switching to GreenSMS
    row, _ = make_verification(status=DeliveryStatus.SENT, request_id="debug_request_id")
    SMSVerification.objects.filter(id=row.id).update(sent_at=timezone.now())

    counts = tracking.poll_batch()

    row.refresh_from_db()
    assert counts.failed == 1
    assert row.status == "failed"
    assert row.error.startswith("status unavailable")
