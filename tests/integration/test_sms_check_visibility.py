"""`sms_check` compares the broker's visibility timeout with everything that holds a send
message unacknowledged: a shorter timeout would run a healthy send twice."""

from __future__ import annotations

import pytest

from tests.helpers import broker_is_amqp
from verification.management.commands.sms_check import FAIL, OK, visibility_timeout_check

# The visibility timeout is Redis's; on RabbitMQ (CI runs the suite on both) a dead
# consumer's messages come back when its connection drops, and the last test applies.
redis_only = pytest.mark.skipif(broker_is_amqp(), reason="Redis broker only")


@redis_only
def test_the_shipped_settings_pass():
    check = visibility_timeout_check()

    assert check.level == OK, check
    assert "send lease 20 s" in check.detail


@redis_only
def test_a_funds_pause_longer_than_the_visibility_timeout_fails(settings):
    settings.GREEN_SMS_FUNDS_PAUSE = 300

    check = visibility_timeout_check()

    assert check.level == FAIL
    assert "funds pause (305 s)" in check.hint


@redis_only
def test_a_provider_deadline_longer_than_the_visibility_timeout_fails(settings):
    settings.GREEN_SMS_TIMEOUT = 90

    check = visibility_timeout_check()

    assert check.level == FAIL
    assert "send lease (100 s)" in check.hint


@pytest.mark.skipif(not broker_is_amqp(), reason="RabbitMQ broker only")
def test_rabbitmq_has_no_visibility_timeout_to_check(settings):
    settings.GREEN_SMS_FUNDS_PAUSE = 300

    check = visibility_timeout_check()

    assert check.level == OK
    assert check.detail == "not used by this broker"
