"""Re-dispatch, sweeping, purging, the balance check and the beat schedule rows."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from tests.factories import make_verification
from verification import funds, housekeeping
from verification.models import DeliveryStatus, SMSVerification
from verification.schedules import ensure_periodic_tasks, periodic_tasks

pytestmark = pytest.mark.django_db


def test_redispatch_publishes_rows_whose_message_was_lost(sms_queue, settings):
    # given: a row queued long ago (the broker was down at commit), one fresh, one with a
    # lapsed worker lease, one whose retry is not due yet
    now = timezone.now()
    stale = now - timedelta(seconds=settings.VERIFICATION_DISPATCH_AFTER + 1)
    lost, _ = make_verification(phone="+79991230001", created_at=stale)
    fresh, _ = make_verification(phone="+79991230002")
    dead_worker, _ = make_verification(
        phone="+79991230003", status=DeliveryStatus.SENDING, lease_until=now - timedelta(seconds=1)
    )
    waiting, _ = make_verification(
        phone="+79991230004", created_at=stale, lease_until=now + timedelta(seconds=20)
    )

    # when
    published = housekeeping.redispatch_stuck()

    # then
    assert published == 2
    ids = set()
    for _ in range(2):
        message = sms_queue.get(timeout=2)
        ids.add(message.headers["argsrepr"])
        assert message.headers["expires"] is not None
        message.ack()
    assert ids == {repr((str(lost.id),)), repr((str(dead_worker.id),))}
    # the fresh row and the one waiting for its retry are left alone
    assert SMSVerification.objects.get(id=fresh.id).lease_until is None
    assert SMSVerification.objects.get(id=waiting.id).lease_until == waiting.lease_until
    # and not again on the next tick
    assert housekeeping.redispatch_stuck() == 0


def test_redispatch_with_the_broker_down_keeps_rows_for_later(broker_down, settings):
    stale = timezone.now() - timedelta(seconds=settings.VERIFICATION_DISPATCH_AFTER + 1)
    make_verification(created_at=stale)

    assert housekeeping.redispatch_stuck() == 0


def test_sweep_expires_unsent_codes_and_leaves_the_rest():
    past = timezone.now() - timedelta(seconds=1)
    unsent, _ = make_verification(phone="+79991230001", expires_at=past)
    sent, _ = make_verification(phone="+79991230002", expires_at=past, status="sent")
    live, _ = make_verification(phone="+79991230003")

    assert housekeeping.expire_unsent() == 1

    statuses = dict(SMSVerification.objects.values_list("id", "status"))
    assert statuses == {unsent.id: "expired", sent.id: "sent", live.id: "queued"}


def test_purge_removes_rows_past_retention_in_batches(settings):
    settings.VERIFICATION_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    for index in range(5):
        make_verification(phone=f"+7999123000{index}", created_at=old, expires_at=old)
    kept, _ = make_verification()

    assert housekeeping.purge_old(batch_size=3) == 3
    assert housekeeping.purge_old(batch_size=3) == 2
    assert housekeeping.purge_old(batch_size=3) == 0
    assert list(SMSVerification.objects.values_list("id", flat=True)) == [kept.id]


def test_balance_check_warns_when_low_and_reopens_sends(
    sandbox_gateway, greensms_sandbox, settings, caplog
):
    settings.GREEN_SMS_LOW_BALANCE = 500
    greensms_sandbox.configure(balance=120)
    funds.open_breaker(60)
    caplog.set_level(logging.INFO)

    balance = housekeeping.check_balance()

    assert balance == 120
    assert any(r.levelno == logging.WARNING and "low" in r.getMessage() for r in caplog.records)
    assert funds.pause_remaining() == 0


def test_schedules_are_created_once_and_edits_survive(settings):
    PeriodicTask.objects.all().delete()
    assert ensure_periodic_tasks() == len(periodic_tasks())
    task = PeriodicTask.objects.get(task="status.poll_deliveries")
    assert task.interval.every == settings.VERIFICATION_POLL_INTERVAL
    assert task.queue == "status"

    # an operator changes the interval; the next migrate keeps it
    task.interval.every = 99
    task.interval.save()
    call_command("migrate", verbosity=0)

    assert ensure_periodic_tasks() == 0
    assert PeriodicTask.objects.get(task="status.poll_deliveries").interval.every == 99
    assert set(PeriodicTask.objects.values_list("task", flat=True)) >= {
        "status.poll_deliveries",
        "maintenance.redispatch_stuck",
        "maintenance.sweep",
        "maintenance.check_balance",
        "maintenance.refresh_tariff",
    }
