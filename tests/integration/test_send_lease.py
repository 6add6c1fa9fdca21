"""Fenced send leases: a late worker never overwrites a newer attempt, a retry waits for its
time, and a provider call stalled past the lease ends in one SMS and a consistent row."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_verification
from tests.helpers import wait_for
from verification import sending
from verification.gateways.errors import ProviderUnavailable
from verification.housekeeping import redispatch_stuck
from verification.models import DeliveryStatus, SMSVerification
from workers.sending import send_verification_sms


def lapse_lease(row_id: uuid.UUID) -> None:
    SMSVerification.objects.filter(id=row_id).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_a_worker_that_outlived_its_lease_changes_nothing(greensms_sandbox, sandbox_gateway):
    # given: worker A claimed the row, then stalled past its lease
    row, _ = make_verification()
    stale = sending._claim(row.id)
    assert stale is not None
    lapse_lease(row.id)

    # and: worker B took the row over and sent the code
    assert sending.verification_send(verification_id=row.id, retries=0).retry_in is None
    after_b = SMSVerification.objects.get(id=row.id)
    assert after_b.status == DeliveryStatus.SENT

    # when: A's late outcomes arrive, every kind of them
    sending._finish(stale, DeliveryStatus.FAILED, error="late failure")
    late_retry = sending._retry_or_fail(stale, ProviderUnavailable("late 500"), 1.0)

    # then: none of them lands; B's row stands, and A schedules nothing
    assert late_retry.retry_in is None
    row = SMSVerification.objects.get(id=row.id)
    assert (row.status, row.request_id, row.error) == ("sent", after_b.request_id, "")
    assert row.send_attempts == 2
    assert len(greensms_sandbox.messages()) == 1


@pytest.mark.django_db
def test_a_lapsed_lease_re_dispatched_by_beat_voids_the_old_owner(
    greensms_sandbox, sandbox_gateway
):
    # given: a claim whose worker died; beat hands the row back
    row, _ = make_verification(created_at=timezone.now() - timedelta(minutes=5))
    stale = sending._claim(row.id)
    assert stale is not None
    lapse_lease(row.id)
    assert redispatch_stuck() == 1

    # when: the old owner wakes up and records a failure
    sending._finish(stale, DeliveryStatus.FAILED, error="late failure")

    # then: the row is still queued for the new message, and no owner holds it
    row = SMSVerification.objects.get(id=row.id)
    assert (row.status, row.lease_owner, row.error) == ("queued", None, "")


@pytest.mark.django_db
def test_a_queued_row_waiting_for_its_retry_is_not_claimable_before_its_time(
    greensms_sandbox, sandbox_gateway
):
    # given: a row handed back for a retry due in 0.5 s
    row, _ = make_verification()
    claimed = sending._claim(row.id)
    assert claimed is not None
    sending._retry_or_fail(claimed, ProviderUnavailable("500"), 0.5)

    # when: a duplicate message runs at once (redelivery, re-dispatch)
    early = sending.verification_send(verification_id=row.id, retries=0)

    # then: it sends nothing and comes back when the retry is due
    assert greensms_sandbox.stats()["send_calls"] == 0
    assert early.retry_in is not None
    assert 0.3 < early.retry_in <= 0.5 + sending.NOT_DUE_SLACK
    assert SMSVerification.objects.get(id=row.id).status == DeliveryStatus.QUEUED

    # and once due, it sends
    time.sleep(early.retry_in)
    assert sending.verification_send(verification_id=row.id, retries=1).retry_in is None
    assert SMSVerification.objects.get(id=row.id).status == DeliveryStatus.SENT


@pytest.mark.django_db(transaction=True)
def test_a_provider_call_stalled_past_the_lease_sends_one_sms(
    live_worker, greensms_sandbox, sandbox_gateway, settings
):
    # given: a 1 s provider deadline, so an 11 s lease, and a provider that stalls the first
    # send for as long as the client waits (far past the lease); beat re-dispatching eagerly
    settings.GREEN_SMS_TIMEOUT = 1.0
    settings.VERIFICATION_DISPATCH_AFTER = 0
    lease = sending.send_lease()
    greensms_sandbox.configure(error_rate=1.0, error_kind="timeout")
    row, _ = make_verification()

    # when: the send runs into the stall
    send_verification_sms.delay(str(row.id))
    wait_for(lambda: greensms_sandbox.stats()["send_calls"] == 1, timeout=10)
    stalled_at = time.monotonic()
    greensms_sandbox.configure(error_rate=0.0)  # the provider recovers for the next call

    # then: the transport cut the call at its deadline, well inside the lease: the row went
    # back to `queued` for a retry (no other worker could claim it meanwhile)
    handed_back = wait_for(
        lambda: (
            SMSVerification.objects.filter(id=row.id, status="queued", retry_at__isnull=False)
            .values_list("error", flat=True)
            .first()
        ),
        timeout=lease,
    )
    assert time.monotonic() - stalled_at < lease
    assert "timeout" in handed_back

    # and beat, running meanwhile, re-dispatches nothing that is not lost
    assert redispatch_stuck() == 0

    # and the retry sends exactly one SMS, and the row says so consistently
    sent = wait_for(lambda: SMSVerification.objects.filter(id=row.id, status="sent").first())
    messages = greensms_sandbox.messages()
    assert len(messages) == 1
    assert greensms_sandbox.stats()["send_calls"] == 2
    assert sent.request_id == messages[0]["request_id"]
    assert (sent.send_attempts, sent.lease_owner, sent.lease_until, sent.error) == (
        2,
        None,
        None,
        "",
    )
