"""`sms_check` compares the broker's visibility timeout with everything that holds a send
message unacknowledged: a shorter timeout would run a healthy send twice."""

from __future__ import annotations

from verification.management.commands.sms_check import FAIL, OK, visibility_timeout_check


def test_the_shipped_settings_pass():
    check = visibility_timeout_check()

    assert check.level == OK, check
    assert "send lease 20 s" in check.detail


def test_a_funds_pause_longer_than_the_visibility_timeout_fails(settings):
    settings.GREEN_SMS_FUNDS_PAUSE = 300

    check = visibility_timeout_check()

    assert check.level == FAIL
    assert "funds pause (305 s)" in check.hint


def test_a_provider_deadline_longer_than_the_visibility_timeout_fails(settings):
    settings.GREEN_SMS_TIMEOUT = 90

    check = visibility_timeout_check()

    assert check.level == FAIL
    assert "send lease (100 s)" in check.hint
