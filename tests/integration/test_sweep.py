"""The sweep task (workers/housekeeping.py) on a real worker: a run whose batches all came
back full hands over to a fresh task, up to SWEEP_MAX_CHAIN times per beat tick."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_verification
from tests.helpers import wait_for
from verification import housekeeping
from verification.models import DeliveryStatus, SMSVerification
from workers import housekeeping as maintenance

pytestmark = pytest.mark.django_db(transaction=True)

SWEEP = maintenance.sweep.name


@pytest.fixture
def small_batches(live_worker, monkeypatch):
    """Batches of 2 rows, two batches per run: a run clears 4 rows, then hands over."""
    monkeypatch.setattr(housekeeping, "SWEEP_BATCH_SIZE", 2)
    monkeypatch.setattr(maintenance, "SWEEP_BATCHES_PER_RUN", 2)


def expired_unsent(count: int) -> None:
    past = timezone.now() - timedelta(seconds=1)
    for index in range(count):
        make_verification(phone=f"+7999123{index:04d}", expires_at=past)


def still_queued() -> int:
    return SMSVerification.objects.filter(status=DeliveryStatus.QUEUED).count()


@pytest.mark.usefixtures("small_batches")
def test_a_full_sweep_chains_itself_until_the_backlog_is_gone(task_events):
    # given: 9 codes that expired unsent
    expired_unsent(9)

    # when: beat's tick publishes one sweep
    maintenance.sweep.delay()

    # then: runs 0 and 1 fill every batch and hand over; run 2 finds the last row and stops
    wait_for(lambda: len(task_events.finished(SWEEP)) == 3)
    runs = [(run.kwargs.get("chain", 0), run.retval["expired"]) for run in task_events.runs(SWEEP)]
    assert runs == [(0, 4), (1, 4), (2, 1)]
    assert task_events.published(SWEEP) == [{}, {"chain": 1}, {"chain": 2}]
    assert still_queued() == 0


@pytest.mark.usefixtures("small_batches")
def test_one_tick_chains_at_most_sweep_max_chain_times(task_events, monkeypatch):
    # given: more backlog than one tick may take
    monkeypatch.setattr(maintenance, "SWEEP_MAX_CHAIN", 1)
    expired_unsent(9)

    # when
    maintenance.sweep.delay()

    # then: the handed-over run ends the chain though its batches were full (it publishes
    # before it ends, so nothing more can follow); the next tick takes the rest
    wait_for(lambda: len(task_events.finished(SWEEP)) == 2)
    runs = [(run.kwargs.get("chain", 0), run.retval["expired"]) for run in task_events.runs(SWEEP)]
    assert runs == [(0, 4), (1, 4)]
    assert task_events.published(SWEEP) == [{}, {"chain": 1}]
    assert still_queued() == 1
