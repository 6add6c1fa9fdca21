"""Publishing by task name (verification/dispatch.py): after the commit, to the queue the
task's name routes to, with the code's expiry, and never failing the caller."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from tests.factories import make_verification
from verification import dispatch

pytestmark = pytest.mark.django_db(transaction=True)


def test_enqueue_send_publishes_after_the_commit_to_the_sms_queue(sms_queue):
    # given
    row, _ = make_verification()

    # when: enqueued inside a transaction
    with transaction.atomic():
        dispatch.enqueue_send(row.id, expires_at=row.expires_at)
        # then: nothing is published before the commit (a worker would not find the row)
        with pytest.raises(sms_queue.Empty):
            sms_queue.get(block=False)

    # then: one message on `sms`, for the send task, carrying only the id, expiring with the code
    message = sms_queue.get(timeout=2)
    assert message.headers["task"] == dispatch.SEND_CODE
    assert message.headers["argsrepr"] == repr((str(row.id),))
    assert message.headers["expires"] == row.expires_at.isoformat()
    message.ack()


def test_a_rolled_back_row_is_never_published(sms_queue):
    row, _ = make_verification()

    def failing_request() -> None:
        with transaction.atomic():
            dispatch.enqueue_send(row.id)
            raise RuntimeError("the request failed after the INSERT")

    with pytest.raises(RuntimeError):
        failing_request()

    # on_commit callbacks of a rolled-back transaction are dropped at the rollback itself
    with pytest.raises(sms_queue.Empty):
        sms_queue.get(block=False)


@pytest.mark.usefixtures("broker_down")
def test_a_dead_broker_never_fails_the_caller(caplog):
    row, _ = make_verification()
    caplog.set_level(logging.WARNING)

    assert dispatch.publish_send(row.id) is False
    dispatch.enqueue_send(row.id)  # outside a transaction: publishes at once, and fails

    assert caplog.text.count("beat will re-dispatch it") == 2
